import type { Command } from "commander";
import { Option } from "commander";
import { UsageError } from "../errors.js";
import { matmulPath } from "@dualgrad/core";
import { machineInfo } from "../machine.js";
import { checkMemory } from "../memory-budget.js";
import { DEFAULT_WORKLOAD_IDS, WORKLOAD_IDS, type ModelSpec } from "../models.js";
import { specFromFlags, type ModelFlags } from "../spec-options.js";
import { parseSweep, sweepSpecs, type Sweep } from "../sweep.js";
import { note } from "../output.js";
import { listOf, positiveInt, positiveNumber } from "../parse.js";
import { benchTable, peerTable, sweepTerminalTable } from "../report/terminal.js";
import type { BenchReport, BenchResult, SweepResult } from "../report/types.js";
import { writeReports } from "../report/write.js";
import { agreement } from "../runners/agreement.js";
import { measure } from "../runners/measure.js";
import { measureRounds } from "../runners/rounds.js";
import { breakEvenSteps } from "../runners/static-costs.js";
import { runCliWorker } from "../runners/worker-process.js";
import type { Frontend } from "../runners/index.js";
import { parsePeers, peerAvailable, type PeerName, type PeerResult } from "../peers/index.js";
import { runPeerWorker } from "./peer-worker.js";
import { addProtocolOptions } from "./protocol-options.js";

interface BenchFlags extends Omit<ModelFlags, "model"> {
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
  sweep?: Sweep;
  rounds: number;
}

/** The models to run: a custom `--layers` stack, or each `--models` workload, with the model flags applied. */
function benchSpecs(flags: BenchFlags): ModelSpec[] {
  if (flags.layers) return [specFromFlags(flags)];
  return flags.models.map((id) => specFromFlags({ ...flags, layers: undefined, model: id }));
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

/** Sets each graph result's break-even step count against the eager result of the same model. */
function setBreakEven(results: BenchResult[]): void {
  for (const g of results) {
    const e = results.find((r) => r.model === g.model && r.frontend === "eager");
    if (g.frontend === "graph" && e?.static && g.static) g.static.breakEvenSteps = breakEvenSteps(e.static, g.static);
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
    .option("--layers <list>", "a custom model's layer widths instead of --models, e.g. 784,1024,1024,10")
    .addOption(new Option("--activation <name>", "hidden activation").choices(["relu", "tanh", "sigmoid"]))
    .addOption(new Option("--loss <name>", "loss: mean squared error or softmax cross-entropy").choices(["mse", "ce"]))
    .option("--lr <x>", "learning rate", positiveNumber)
    .option("--batch-size <n>", "batch size", positiveInt)
    .addOption(new Option("--sweep <param=sizes>", "measure each model at several sizes: batch=1,4,16,64 or width=16,64,256 (hidden layer widths)").argParser(parseSweep))
    .option("--json <file>", "write the results as JSON")
    .option("--md <file>", "write a Markdown report")
    .option("--html <file>", "write a self-contained HTML report")
    .option("--force", "overwrite existing output files")
    .option("--quiet", "no progress notes on stderr")
    // Peers are not repeated: they sit 10-50x from us, far beyond process-to-process drift.
    .option("--rounds <n>", "fresh-process runs of every model and frontend, taken in turn; the tables show the median round (peers run once)", positiveInt, 1)
    .addOption(new Option("--peers <list>", "also run other libraries on the same workloads, each in a fresh process: tfjs (= tfjs-cpu,tfjs-wasm), jax-js, torch (= torch-{eager,jit}-{1,2}t, system Python), all").argParser(parsePeers))
    .action(async (flags: BenchFlags) => {
      const targets = { json: flags.json, md: flags.md, html: flags.html };
      // Fail on unusable output paths before spending minutes measuring.
      writeReports(null, targets, { overwrite: flags.force, dryRun: true });
      const bases = benchSpecs(flags);
      // Every size of every model, each an ordinary spec; fails on a bad sweep before measuring.
      const groups = bases.map((base) => ({ base, specs: flags.sweep ? sweepSpecs(base, flags.sweep) : [base] }));
      // A size that cannot fit is a one-line error now, not a worker dying of memory later.
      for (const spec of groups.flatMap((g) => g.specs)) checkMemory(spec, 0);
      // With --rounds, each size of a sweep is repeated like any model.
      const rounds = flags.rounds > 1 ? (round: number) => ` (round ${round}/${flags.rounds})` : () => "";
      const results = await measureRounds(groups.flatMap((g) => g.specs), flags.frontends, flags.rounds, (spec, frontend, round) => {
        if (!flags.quiet) note(`measuring ${spec.id} on ${frontend}${rounds(round)} ...`);
        return runWorker(spec, frontend, flags);
      });
      // On the median rounds' static costs: each a real process's.
      setBreakEven(results);
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
        for (const spec of groups.flatMap((g) => g.specs)) {
          // The peers build Linear stacks only; a recurrent workload would be a different model there.
          if (spec.recurrent) {
            notes.add(`${name}: skipped the recurrent workloads (${spec.id}): the peer runners build Linear stacks only`);
            continue;
          }
          if (!flags.quiet) note(`measuring ${spec.id} on ${name} ...`);
          const outcome = await runPeerWorker(spec, name, flags);
          if (outcome.ok) peers.push(outcome.result);
          else notes.add(outcome.note);
        }
      }
      // Agreement at each model's own size: a sweep's largest sizes would cost more than they tell.
      const agree = flags.frontends.length === 2 ? bases.map((spec) => agreement(spec, flags.seed)) : [];
      const report: BenchReport = { machine: machineInfo(`dualgrad bench ${process.argv.slice(3).join(" ")}`.trim(), results), agreement: agree, results };
      if (flags.peers) report.peers = peers;
      if (flags.sweep) {
        const { param, values } = flags.sweep;
        report.sweeps = groups.map(({ base, specs }): SweepResult => ({ model: base.id, param, values, models: specs.map((s) => s.id) }));
      }
      writeReports(report, targets, { overwrite: flags.force });
      process.stdout.write(`${benchTable(report)}\n`);
      if (peers.length > 0) process.stdout.write(`${peerTable(report)}\n`);
      for (const sweep of report.sweeps ?? []) process.stdout.write(`${sweepTerminalTable(report, sweep)}\n`);
      for (const line of notes) note(line);
      if (!flags.quiet) note(`machine: ${report.machine.cpuModel}, ${report.machine.cpus} cores, Node ${report.machine.node}${report.machine.matmulPath ? `, matmul ${report.machine.matmulPath}` : ""}`);
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
      process.stdout.write(JSON.stringify({ ...r, matmulPath: matmulPath() }));
    });
}
