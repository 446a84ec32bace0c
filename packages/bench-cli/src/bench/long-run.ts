import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { allocator } from "@dualgrad/core";
import { syntheticBatch } from "../datasets/synthetic.js";
import { workload } from "../models.js";
import { makeTrainer, type Frontend } from "../runners/index.js";

/** One checkpoint of a long run. */
export interface LongRunSample {
  step: number;
  liveTensorBytes: number;
  rssBytes: number;
  heapUsedBytes: number;
}

/**
 * Trains `model` for `steps` steps on one frontend and samples core's live tensor bytes and the
 * process's RSS and heap every `every` steps. With nothing leaking, live tensor bytes are the
 * same at every checkpoint and RSS stops growing after warm-up.
 */
export function longRun(frontend: Frontend, steps: number, every: number, model = "mlp-small"): LongRunSample[] {
  const spec = workload(model);
  const batch = syntheticBatch(spec, spec.batch, 0);
  const trainer = makeTrainer(frontend, spec, { seed: 0 });
  const samples: LongRunSample[] = [];
  const sample = (step: number) =>
    samples.push({ step, liveTensorBytes: allocator.stats().liveBytes, rssBytes: process.memoryUsage().rss, heapUsedBytes: process.memoryUsage().heapUsed });
  try {
    for (let s = 1; s <= steps; s++) {
      trainer.step(batch);
      if (s === 1 || s % every === 0) sample(s);
    }
  } finally {
    trainer.dispose();
  }
  return samples;
}

/** `node dist/bench/long-run.js [steps] [model]`: prints the checkpoints for both frontends and a verdict. */
function cli(): void {
  const steps = Number(process.argv[2] ?? 10_000);
  const model = process.argv[3] ?? "mlp-small";
  for (const f of ["eager", "graph"] as const) {
    const samples = longRun(f, steps, Math.max(1, Math.floor(steps / 10)), model);
    const first = samples[0];
    const warm = samples[Math.min(2, samples.length - 1)];
    const last = samples[samples.length - 1];
    for (const s of samples) {
      console.log(`${f} ${model} step ${String(s.step).padStart(6)}: live tensor ${s.liveTensorBytes} B, RSS ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB, heap ${(s.heapUsedBytes / 2 ** 20).toFixed(1)} MiB`);
    }
    const flat = samples.every((s) => s.liveTensorBytes === first.liveTensorBytes);
    console.log(
      `${f}: live tensor bytes ${flat ? "flat" : "NOT flat"} over ${steps} steps; RSS after warm-up ${((last.rssBytes - warm.rssBytes) / 2 ** 20).toFixed(1)} MiB change`,
    );
  }
}

const self = fileURLToPath(import.meta.url);
if (process.argv[1] && realpathSync(process.argv[1]) === self) cli();
