import { allocator } from "@dualgrad/core";
import { fusedKernelCount } from "@dualgrad/graph";
import { batchStream } from "../datasets/synthetic.js";
import type { ModelSpec } from "../models.js";
import type { BenchResult } from "../report/types.js";
import type { GraphTrainer } from "./graph-trainer.js";
import { makeTrainer, type Frontend } from "./index.js";
import { recordCold, staticCosts } from "./static-costs.js";
import { stepStatistics, timeSteps, type MeasureOptions } from "./timing.js";

/**
 * Times one model on one frontend: each step individually with a high-resolution clock, after
 * warm-up, on one fixed seeded batch. Memory figures come from core's tracker (the same for
 * both frontends) and the process (RSS, heap) beside them. Every step from the cold start is
 * also timed for the static-cost block (traces, compile time, cold first step, cumulative
 * time). Variable-length workloads take each step's batch from their seeded stream. Meant to
 * run in a fresh process.
 */
export function measure(spec: ModelSpec, frontend: Frontend, options: MeasureOptions): BenchResult {
  const base = allocator.stats().liveBytes;
  allocator.resetCounters();
  const nextBatch = batchStream(spec, options.seed);
  const batch = nextBatch();
  const trainer = makeTrainer(frontend, spec, { seed: options.seed });
  const traceCount = frontend === "graph" ? () => (trainer as GraphTrainer).compiledStep.traceCount : () => 0;
  // The first step runs on the first drawn batch; later steps draw their own.
  let pending: typeof batch | null = batch;
  const cold = recordCold(() => {
    const b = pending ?? nextBatch();
    pending = null;
    return trainer.step(b);
  }, traceCount);
  let before = allocator.stats();
  const run = timeSteps(cold.step, options, () => (before = allocator.stats()));
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
    static: staticCosts(cold.run, msPerStep.median),
  };
  if (frontend === "graph") {
    const step = (trainer as GraphTrainer).compiledStep;
    const lowered = step.lower(...(trainer as GraphTrainer).stepArgs(batch));
    result.graph = { nodes: lowered.fused.nodes.length, fusedKernels: fusedKernelCount(lowered.fused), arenaBytes: lowered.compiled.arenaBytes };
  }
  trainer.dispose();
  return result;
}
