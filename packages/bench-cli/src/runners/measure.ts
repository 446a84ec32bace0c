import { allocator } from "@dualgrad/core";
import { fusedKernelCount } from "@dualgrad/graph";
import { syntheticBatch } from "../datasets/synthetic.js";
import type { ModelSpec } from "../models.js";
import type { BenchResult } from "../report/types.js";
import type { GraphTrainer } from "./graph-trainer.js";
import { makeTrainer, type Frontend } from "./index.js";
import { stepStatistics, timeSteps, type MeasureOptions } from "./timing.js";

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
  let before = allocator.stats();
  const run = timeSteps(() => trainer.step(batch), options, () => (before = allocator.stats()));
  const after = allocator.stats();
  const n = run.times.length;
  const { msPerStep, stepsPerSec, lossCurve, lossSteps } = stepStatistics(run);
  const result: BenchResult = {
    model: spec.id,
    frontend,
    steps: n,
    warmup: options.warmup,
    msPerStep,
    stepsPerSec,
    memory: {
      peakTensorBytes: after.peakBytes - base,
      liveTensorBytes: after.liveBytes - base,
      allocationsPerStep: (after.allocations - before.allocations) / n,
      kernelLaunchesPerStep: (after.kernelLaunches - before.kernelLaunches) / n,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      heapUsedBytes: process.memoryUsage().heapUsed,
    },
    loss: { first: run.losses[0], last: run.losses[n - 1] },
    lossCurve,
    lossSteps,
  };
  if (frontend === "graph") {
    const step = (trainer as GraphTrainer).compiledStep;
    const lowered = step.lower(...(trainer as GraphTrainer).stepArgs(batch));
    result.graph = { nodes: lowered.fused.nodes.length, fusedKernels: fusedKernelCount(lowered.fused), arenaBytes: lowered.compiled.arenaBytes };
  }
  trainer.dispose();
  return result;
}
