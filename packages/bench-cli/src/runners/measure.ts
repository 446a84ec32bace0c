import { allocator } from "@dualgrad/core";
import { fusedKernelCount } from "@dualgrad/graph";
import { syntheticBatch } from "../datasets/synthetic.js";
import type { ModelSpec } from "../models.js";
import type { BenchResult } from "../report/types.js";
import type { GraphTrainer } from "./graph-trainer.js";
import { makeTrainer, type Frontend } from "./index.js";

/** How long to measure: WORKLOADS.md's protocol (warm up, then >= `steps` steps and >= `minSeconds`). */
export interface MeasureOptions {
  steps: number;
  warmup: number;
  minSeconds: number;
  seed: number;
  /** Upper bound on timed steps, so tiny models stop in time. */
  maxSteps?: number;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i];
}

/**
 * Times one model on one frontend: each step individually with a high-resolution clock, after
 * warm-up, on one fixed seeded batch. Memory figures come from core's tracker (the same for
 * both frontends) and the process (RSS, heap) beside them. Meant to run in a fresh process.
 */
export function measure(spec: ModelSpec, frontend: Frontend, options: MeasureOptions): BenchResult {
  const base = allocator.stats().liveBytes;
  allocator.resetCounters();
  const batch = syntheticBatch(spec, spec.batch, options.seed);
  const trainer = makeTrainer(frontend, spec, { seed: options.seed });
  for (let i = 0; i < options.warmup; i++) trainer.step(batch);
  const before = allocator.stats();
  const times: number[] = [];
  const losses: number[] = [];
  const maxSteps = options.maxSteps ?? 1_000_000;
  const start = performance.now();
  while (times.length < maxSteps && (times.length < options.steps || performance.now() - start < options.minSeconds * 1000)) {
    const t0 = performance.now();
    const loss = trainer.step(batch);
    times.push(performance.now() - t0);
    losses.push(loss);
  }
  const after = allocator.stats();
  const n = times.length;
  const sorted = [...times].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const mean = times.reduce((a, b) => a + b, 0) / n;
  const every = Math.max(1, Math.floor(n / 100));
  const result: BenchResult = {
    model: spec.id,
    frontend,
    steps: n,
    warmup: options.warmup,
    msPerStep: { median, p90: percentile(sorted, 0.9), mean, min: sorted[0] },
    stepsPerSec: 1000 / mean,
    memory: {
      peakTensorBytes: after.peakBytes - base,
      liveTensorBytes: after.liveBytes - base,
      allocationsPerStep: (after.allocations - before.allocations) / n,
      kernelLaunchesPerStep: (after.kernelLaunches - before.kernelLaunches) / n,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      heapUsedBytes: process.memoryUsage().heapUsed,
    },
    loss: { first: losses[0], last: losses[n - 1] },
    lossCurve: losses.filter((_, i) => i % every === 0),
  };
  if (frontend === "graph") {
    const step = (trainer as GraphTrainer).compiledStep;
    const lowered = step.lower(...(trainer as GraphTrainer).stepArgs(batch));
    result.graph = { nodes: lowered.fused.nodes.length, fusedKernels: fusedKernelCount(lowered.fused), arenaBytes: lowered.compiled.arenaBytes };
  }
  trainer.dispose();
  return result;
}
