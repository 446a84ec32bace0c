import { describe, expect, it } from "vitest";
import { syntheticBatch } from "../src/datasets/synthetic.js";
import { workload } from "../src/models.js";
import { eagerTrainer } from "../src/runners/eager-trainer.js";
import { graphTrainer } from "../src/runners/graph-trainer.js";

const asArrays = (m: Map<string, Float64Array>) => Object.fromEntries([...m].map(([k, v]) => [k, Array.from(v)]));

// Gemm epilogues (graph/src/passes/gemm-epilogue.ts) fuse the reference workloads' bias-adds and
// relu masks into their matmuls and convolutions; eager runs those ops one by one. The two stay
// bitwise equal with every graph pass on.
describe("gemm epilogues: eager and graph agree bitwise on the reference workloads", () => {
  const plans: Record<string, RegExp[]> = {
    mlp: [/= matmul\+epilogue\(add\) /, /= matmul\+epilogue\(compare→mul\) /],
    cnn: [/= conv2d\+epilogue\(add\) /, /= matmul\+epilogue\(add\) /],
  };
  for (const id of Object.keys(plans)) {
    it(`${id}: the plan has its epilogues; gradients and 3 steps of parameters are bitwise eager's`, () => {
      const spec = workload(id);
      const batch = syntheticBatch(spec, spec.batch, 7, "float32");
      const e = eagerTrainer(spec, { seed: 3 });
      const g = graphTrainer(spec, { seed: 3 });
      const plan = g.compiledStep.lower(...g.stepArgs(batch)).compiled.printPlan();
      for (const step of plans[id]) expect(plan).toMatch(step);
      expect(asArrays(g.gradients(batch))).toEqual(asArrays(e.gradients(batch)));
      for (let s = 0; s < 3; s++) expect(g.step(batch)).toBe(e.step(batch));
      expect(asArrays(g.parameters())).toEqual(asArrays(e.parameters()));
      e.dispose();
      g.dispose();
    });
  }
});
