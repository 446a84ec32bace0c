import { describe, expect, it } from "vitest";
import { allocator } from "@dualgrad/core";
import { syntheticBatch } from "../src/datasets/synthetic.js";
import { workload } from "../src/models.js";
import { eagerTrainer } from "../src/runners/eager-trainer.js";
import { graphTrainer } from "../src/runners/graph-trainer.js";
import type { Trainer } from "../src/runners/trainer.js";

/** Peak tensor bytes (core's tracker) from building the model through two training steps. */
function peakOf(make: () => Trainer, batch: ReturnType<typeof syntheticBatch>): number {
  const base = allocator.stats().liveBytes;
  allocator.resetCounters();
  const t = make();
  t.step(batch);
  t.step(batch);
  const peak = allocator.stats().peakBytes - base;
  t.dispose();
  return peak;
}

describe("memory: the same instrument for both frontends", () => {
  it("the compiled mlp training step peaks below the eager step", () => {
    const spec = workload("mlp");
    const batch = syntheticBatch(spec, spec.batch, 1);
    const eager = peakOf(() => eagerTrainer(spec, { seed: 1 }), batch);
    const graph = peakOf(() => graphTrainer(spec, { seed: 1 }), batch);
    expect(graph).toBeLessThan(eager);
  });
});
