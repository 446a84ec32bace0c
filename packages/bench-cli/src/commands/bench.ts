import type { Command } from "commander";
import { Option } from "commander";
import { UsageError } from "../errors.js";
import { machineInfo } from "../machine.js";
import { DEFAULT_WORKLOAD_IDS, WORKLOAD_IDS, workload, type ModelSpec } from "../models.js";
import { note } from "../output.js";
import { listOf } from "../parse.js";
import { benchTable, peerTable } from "../report/terminal.js";
import type { BenchReport, BenchResult } from "../report/types.js";
import { writeReports } from "../report/write.js";
import { agreement } from "../runners/agreement.js";
import { measure } from "../runners/measure.js";
import { runCliWorker } from "../runners/worker-process.js";
import type { Frontend } from "../runners/index.js";
import { parsePeers, peerAvailable, type PeerName, type PeerResult } from "../peers/index.js";
import { runPeerWorker } from "./peer-worker.js";
import { addProtocolOptions } from "./protocol-options.js";

interface BenchFlags {
  models: string[];
  frontends: Frontend[];
  steps: number;
  warmup: number;
  minTime: number;
  seed: number;
  json?: string;
  md?: string;
  html?: string;
  force?: boolean;
  quiet?: boolean;
  peers?: PeerName[];
}


/** Runs one measurement in a fresh Node process, so its memory figures are its own. */
async function runWorker(spec: ModelSpec, frontend: Frontend, flags: BenchFlags): Promise<BenchResult> {
  const run = await runCliWorker([
    "bench-worker", "--spec", JSON.stringify(spec), "--frontend", frontend,
    "--steps", String(flags.steps), "--warmup", String(flags.warmup), "--min-time", String(flags.minTime), "--seed", String(flags.seed),
  ]);
  if (run.code !== 0) throw new Error(`bench worker for ${spec.id}/${frontend} failed (exit ${run.code}): ${run.stderr.trim()}`);
  try {
    return JSON.parse(run.stdout) as BenchResult;
  } catch {
    throw new Error(`bench worker for ${spec.id}/${frontend} printed no result: ${run.stdout.slice(0, 200)}`);
  }
}

/** `dualgrad bench`: every model on every frontend, each in a fresh process, plus gradient agreement. */
export function registerBench(program: Command): void {
  addProtocolOptions(
    program
      .command("bench")
      .description("time the reference workloads on each frontend (fresh process each) and compare gradients")
      .addOption(new Option("--models <list>", `models to run (${WORKLOAD_IDS.join(",")})`).argParser(listOf(WORKLOAD_IDS)).default(DEFAULT_WORKLOAD_IDS))
      .addOption(new Option("--frontends <list>", "frontends to run (eager,graph)").argParser(listOf(["eager", "graph"])).default(["eager", "graph"])),
  )
    .option("--json <file>", "write the results as JSON")
    .option("--md <file>", "write a Markdown report")
    .option("--html <file>", "write a self-contained HTML report")
    .option("--force", "overwrite existing output files")
    .option("--quiet", "no progress notes on stderr")
    .addOption(new Option("--peers <list>", "also run other libraries on the same workloads, each in a fresh process: tfjs (= tfjs-cpu,tfjs-wasm), jax-js, all").argParser(parsePeers))
    .action(async (flags: BenchFlags) => {
      const targets = { json: flags.json, md: flags.md, html: flags.html };
      // Fail on unusable output paths before spending minutes measuring.
      writeReports(null, targets, { overwrite: flags.force, dryRun: true });
      const results: BenchResult[] = [];
      for (const id of flags.models) {
        const spec = workload(id);
        for (const frontend of flags.frontends) {
          if (!flags.quiet) note(`measuring ${id} on ${frontend} ...`);
          results.push(await runWorker(spec, frontend, flags));
        }
      }
      // Peers: same workloads, same protocol, a fresh process each; a peer that is not installed
      // (or cannot start here) is a note, not a failure.
      const peers: PeerResult[] = [];
      const notes = new Set<string>();
      for (const name of flags.peers ?? []) {
        const status = peerAvailable(name);
        if (!status.available) {
          notes.add(status.note);
          continue;
        }
        for (const id of flags.models) {
          if (!flags.quiet) note(`measuring ${id} on ${name} ...`);
          const outcome = await runPeerWorker(workload(id), name, flags);
          if (outcome.ok) peers.push(outcome.result);
          else notes.add(outcome.note);
        }
      }
      const agree = flags.frontends.length === 2 ? flags.models.map((id) => agreement(workload(id), flags.seed)) : [];
      const report: BenchReport = { machine: machineInfo(`dualgrad bench ${process.argv.slice(3).join(" ")}`.trim()), results, agreement: agree };
      if (flags.peers) report.peers = peers;
      writeReports(report, targets, { overwrite: flags.force });
      process.stdout.write(`${benchTable(report)}\n`);
      if (peers.length > 0) process.stdout.write(`${peerTable(report)}\n`);
      for (const line of notes) note(line);
      if (!flags.quiet) note(`machine: ${report.machine.cpuModel}, ${report.machine.cpus} cores, Node ${report.machine.node}`);
    });

  addProtocolOptions(program.command("bench-worker", { hidden: true }).requiredOption("--spec <json>").requiredOption("--frontend <name>"))
    .action((flags: { spec: string; frontend: Frontend; steps: number; warmup: number; minTime: number; seed: number }) => {
      let spec: ModelSpec;
      try {
        spec = JSON.parse(flags.spec) as ModelSpec;
      } catch {
        throw new UsageError("bench-worker: --spec must be JSON");
      }
      const r = measure(spec, flags.frontend, { steps: flags.steps, warmup: flags.warmup, minSeconds: flags.minTime, seed: flags.seed });
      process.stdout.write(JSON.stringify(r));
    });
}
