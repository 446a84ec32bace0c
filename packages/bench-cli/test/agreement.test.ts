import { describe, expect, it } from "vitest";
import { allocator } from "@dualgrad/core";
import { syntheticBatch } from "../src/datasets/synthetic.js";
import { workload } from "../src/models.js";
import { eagerTrainer } from "../src/runners/eager-trainer.js";
import { graphTrainer } from "../src/runners/graph-trainer.js";
import { differences } from "../src/runners/agreement.js";


const asArrays = (m: Map<string, Float64Array>) => Object.fromEntries([...m].map(([k, v]) => [k, Array.from(v)]));

describe("eager and graph agree (same init, same batch)", () => {
  // Recurrent workloads run at a length of their own too: variable-length ones at 9 steps, which
  // the graph runs by retracing (rnn-varlen) or padded to 32 under a step mask (rnn-varlen-pad).
  const cases: [string, number?][] = [["linreg"], ["mlp-small"], ["mlp"], ["cnn"], ["rnn"], ["rnn-varlen", 9], ["rnn-varlen-pad", 9]];
  for (const [id, len] of cases) {
    it(`${id}: with fusion off, gradients and 3 steps of parameters are bitwise identical`, () => {
      const spec = workload(id);
      const batch = syntheticBatch(spec, spec.batch, 7, "float32", len);
      const before = allocator.stats().liveBytes;
      const e = eagerTrainer(spec, { seed: 3 });
      const g = graphTrainer(spec, { seed: 3, disable: ["fuse"] });
      expect(asArrays(g.parameters())).toEqual(asArrays(e.parameters()));
      expect(asArrays(g.gradients(batch))).toEqual(asArrays(e.gradients(batch)));
      for (let s = 0; s < 3; s++) expect(g.step(batch)).toBe(e.step(batch));
      expect(asArrays(g.parameters())).toEqual(asArrays(e.parameters()));
      e.dispose();
      g.dispose();
      expect(allocator.stats().liveBytes).toBe(before);
    });
    it(`${id}: with every pass on, gradients agree within 1e-6 relative`, () => {
      const spec = workload(id);
      const batch = syntheticBatch(spec, spec.batch, 7, "float32", len);
      const e = eagerTrainer(spec, { seed: 3 });
      const g = graphTrainer(spec, { seed: 3 });
      expect(differences(g.gradients(batch), e.gradients(batch)).maxRel).toBeLessThanOrEqual(1e-6);
      for (let s = 0; s < 3; s++) expect(Math.abs(g.step(batch) - e.step(batch))).toBeLessThanOrEqual(1e-6);
      expect(differences(g.parameters(), e.parameters()).maxRel).toBeLessThanOrEqual(1e-6);
      e.dispose();
      g.dispose();
    });
  }
});
