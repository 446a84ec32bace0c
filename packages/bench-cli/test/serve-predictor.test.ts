import { PhiloxGenerator } from "@dualgrad/core";
import { describe, expect, it } from "vitest";
import { modelSource } from "../src/serve/model-source.js";
import { bucketPlans, makePredictor } from "../src/serve/predictor.js";

const BUCKETS = [1, 4, 16, 64];

describe("bucketPlans", () => {
  it("splits exactly when a call costs only its rows, and pads into one call when calls are what costs", () => {
    const perRow = bucketPlans(BUCKETS, BUCKETS);
    expect(perRow[22]).toEqual([16, 4, 1, 1]);
    expect(perRow[64]).toEqual([64]);
    const perCall = bucketPlans(BUCKETS, BUCKETS.map((b) => 1000 + b));
    expect(perCall[22]).toEqual([64]);
    expect(perCall[3]).toEqual([4]);
    expect(perCall[1]).toEqual([1]);
  });

  it("covers every row count, padding only the last call, and never costs more than padding into one bucket", () => {
    const cost = [0.05, 0.07, 0.2, 0.7]; // a measured-looking curve: overhead plus rows
    const plans = bucketPlans(BUCKETS, cost);
    expect(plans).toHaveLength(65);
    for (let r = 1; r <= 64; r++) {
      const plan = plans[r];
      const covered = plan.reduce((a, b) => a + b, 0);
      expect(covered, `rows ${r}`).toBeGreaterThanOrEqual(r);
      expect(covered - plan[plan.length - 1], `rows ${r}: only the last call pads`).toBeLessThan(r);
      const total = plan.reduce((a, b) => a + cost[BUCKETS.indexOf(b)], 0);
      expect(total).toBeLessThanOrEqual(cost[BUCKETS.findIndex((b) => b >= r)]);
    }
    expect(plans[22]).toEqual([16, 4, 4]);
  });
});

describe("makePredictor", () => {
  it("the graph frontend's bucket plans give eager's predictions for every batch size", () => {
    const source = modelSource({ model: "mlp-small", seed: 0 });
    const graph = makePredictor(source, "graph", 64);
    const eager = makePredictor(source, "eager", 64);
    try {
      expect(graph.buckets).toEqual(BUCKETS);
      const x = new PhiloxGenerator(5).uniform(64 * graph.inputSize, -1, 1);
      for (const rows of [1, 2, 3, 5, 17, 22, 40, 63, 64]) {
        const xs = x.subarray(0, rows * graph.inputSize);
        const got = graph.predict(xs, rows);
        const want = eager.predict(xs, rows);
        expect(got.length).toBe(rows * graph.outputSize);
        const scale = Math.max(...Array.from(want, Math.abs));
        for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i]) / scale, `rows ${rows}, output ${i}`).toBeLessThanOrEqual(1e-5);
      }
      expect(() => graph.predict(x, 65)).toThrow(/65 rows: the model was compiled for at most 64/);
    } finally {
      graph.dispose();
      eager.dispose();
    }
  });
});
