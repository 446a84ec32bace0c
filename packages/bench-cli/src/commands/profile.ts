import { availableParallelism } from "node:os";
import { getThreads, matmulPath, processSimdPeak, writeFileAtomic } from "@dualgrad/core";
import type { Command } from "commander";
import { Option } from "commander";
import { checkMemory } from "../memory-budget.js";
import { WORKLOAD_IDS, workload } from "../models.js";
import { note } from "../output.js";
import { checkOutputs, type OutputTarget } from "../output-paths.js";
import { nonNegativeInt, positiveInt } from "../parse.js";
import { profileFrontend } from "../profile/run.js";
import { setPeakFractions, type ProfilePeak, type ProfileReport } from "../profile/summary.js";
import { profileTables } from "../profile/table.js";
import { toChromeTrace } from "../profile/trace.js";
import { readReport } from "../report/read.js";
import { toJson } from "../report/write.js";
import { FRONTENDS, type Frontend } from "../runners/trainer.js";

interface ProfileFlags {
  model: string;
  frontend: Frontend | "both";
  steps: number;
  warmup: number;
  trace?: string;
  json?: string;
  force?: boolean;
  addTo?: string;
}

/** `dualgrad profile`: where a training step's time goes, kernel by kernel, on each frontend. */
export function registerProfile(program: Command): void {
  program
    .command("profile")
    .description("per-op profile of a model's steady-state training steps: kernel time, calls, bytes, and the framework's overhead split out")
    .addOption(new Option("--model <id>", "reference workload").choices(WORKLOAD_IDS).default("mlp-small"))
    .addOption(new Option("--frontend <name>", "frontend(s) to profile").choices(["eager", "graph", "both"]).default("both"))
    .option("--steps <n>", "profiled steps", positiveInt, 20)
    .option("--warmup <n>", "unprofiled steps first (compilation, pool growth, JIT)", nonNegativeInt, 10)
    .option("--trace <file>", "write a Chrome trace-event JSON (open in Perfetto or chrome://tracing)")
    .option("--json <file>", "write the profile as JSON")
    .option("--add-to <file>", "add the profile to a `bench --json` report (replacing this model's), for `dualgrad report --html`")
    .option("--force", "overwrite existing output files")
    .action(async (flags: ProfileFlags) => {
      const targets: OutputTarget[] = [];
      if (flags.trace) targets.push({ flag: "--trace", path: flags.trace });
      if (flags.json) targets.push({ flag: "--json", path: flags.json });
      // Outputs first, as every command does: a bad path fails before any step runs.
      const paths = checkOutputs(targets, flags.force === true);
      // The report is read (and refused if malformed) before any step runs; rewriting it is the point, so no --force.
      const addTo = flags.addTo ? { path: checkOutputs([{ flag: "--add-to", path: flags.addTo }], true)[0], report: readReport(flags.addTo) } : null;
      const spec = workload(flags.model);
      checkMemory(spec, 0);
      const frontends = flags.frontend === "both" ? FRONTENDS : [flags.frontend];
      const runs = frontends.map((f) => profileFrontend(spec, f, flags.warmup, flags.steps));
      const simdPeak = await measuredPeak();
      for (const r of runs) setPeakFractions(r.profile, simdPeak?.gflops);
      const report: ProfileReport = { model: spec.id, warmup: flags.warmup, steps: flags.steps, frontends: runs.map((r) => r.profile), matmulPath: matmulPath(), simdPeak };
      process.stdout.write(`${profileTables(report)}\n`);
      targets.forEach((t, i) => {
        const body = t.flag === "--trace" ? toChromeTrace(runs.map((r) => ({ name: r.profile.frontend, spans: r.spans }))) : report;
        writeFileAtomic(paths[i], `${JSON.stringify(body)}\n`);
        note(`wrote ${t.path}`);
      });
      if (addTo) {
        addTo.report.profile = [...(addTo.report.profile ?? []).filter((p) => p.model !== report.model), report];
        writeFileAtomic(addTo.path, toJson(addTo.report));
        note(`added the ${report.model} profile to ${flags.addTo}`);
      }
    });
}

/**
 * The wasm-SIMD peak "% of peak" divides by: the multiply-add the matmul runs, on as many threads
 * as a matmul here may use (the thread setting, at most the cores), measured once after the
 * profiled steps (about 0.1 s per thread count, so it does not disturb them); undefined without
 * wasm SIMD.
 */
async function measuredPeak(): Promise<ProfilePeak | undefined> {
  const threads = Math.max(1, Math.min(getThreads(), availableParallelism()));
  const peak = await processSimdPeak(threads);
  return peak ? { op: peak.op, threads: peak.threads, gflops: peak.gflops } : undefined;
}
