import { describe, expect, it } from "vitest";
import { PhiloxGenerator, ops, type Prim } from "@dualgrad/core";
import { memory, noGrad, tensor, tidy, type Tensor } from "../src/index.js";
import { apply, tensorEmitter } from "../src/ops.js";

/**
 * Eager runs an elementwise node's VJP rule as one fused kernel when the rule is a chain of
 * elementwise ops (../src/fused-vjp.ts). The gradient must have the bits of the rule run op by op
 * (which the graph frontend's conformance suite compares with graph too), in fewer launches.
 */

function data(n: number, seed: number, lo: number, hi: number): Float32Array {
  const out = new Float64Array(n);
  new PhiloxGenerator(seed).fillUniform(out, lo, hi);
  return Float32Array.from(out);
}

const CASES: [Prim, object, [number, number], number][] = [
  // prim, attrs, input range, ops in its rule (fused when >= 2)
  ["relu", {}, [-1, 1], 2],
  ["tanh", {}, [-2, 2], 3],
  ["sigmoid", {}, [-3, 3], 3],
  ["abs", {}, [-1, 1], 4],
  ["pow", { exponent: 3 }, [-1, 1], 3],
  ["exp", {}, [-2, 2], 1],
];

describe("fused elementwise VJP rules", () => {
  for (const [prim, attrs, [lo, hi], ruleOps] of CASES) {
    it(`${prim}: the fused gradient has the unfused rule's bits, in ${ruleOps >= 2 ? "one launch" : "the rule's own launch"}`, () => {
      tidy(() => {
        const x = tensor(data(64 * 33, 1, lo, hi), { shape: [64, 33], requiresGrad: true });
        const g = tensor(data(64 * 33, 2, -1, 1), { shape: [64, 33] });
        const y = apply(prim, [x], attrs as never);
        const before = memory().kernelLaunches;
        y.backward(g);
        const launches = memory().kernelLaunches - before;
        // The rule op by op, as core defines it, on the same saved values.
        const unfused = noGrad(() => ops[prim].vjp(tensorEmitter, [x], y, g, attrs as never, [true])[0] as Tensor);
        expect(Array.from(x.grad!.data)).toEqual(Array.from(unfused.data));
        // One launch copies the caller's gradient (backward never consumes a tensor it does not own).
        expect(launches).toBe(1 + (ruleOps >= 2 ? 1 : ruleOps));
      });
    });
  }

  it("one traced rule serves every size, and broadcasting rules are keyed by their shapes", () => {
    tidy(() => {
      for (const shape of [[3], [2, 5], [7, 1], [2, 5]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = tensor(data(n, n, -1, 1), { shape, requiresGrad: true });
        x.relu().backward(tensor(data(n, n + 1, -1, 1), { shape }));
        expect(x.grad!.shape).toEqual(shape);
        const g = data(n, n + 1, -1, 1);
        const want = Array.from(x.data).map((v, i) => g[i] * (v > 0 ? 1 : 0)); // -0 where g < 0, as g * mask
        expect(Array.from(x.grad!.data)).toEqual(want);
      }
      // maximum(x [4,3], y [3]) for x alone: a rule over broadcast operands (ties included).
      const a = tensor([1, -2, 3, 0.5, 0, 2, 0, 1, -1, 2, 2, 2], { shape: [4, 3], requiresGrad: true });
      const b = tensor([0.5, 0, 2]);
      const gm = tensor(data(12, 9, -1, 1), { shape: [4, 3] });
      const m = apply("maximum", [a, b], {});
      m.backward(gm);
      const unfused = noGrad(() => ops.maximum.vjp(tensorEmitter, [a, b], m, gm, {}, [true, false])[0] as Tensor);
      expect(Array.from(a.grad!.data)).toEqual(Array.from(unfused.data));
      // x * 2.5 with x [2,3]: mul's rule for x alone is g * 2.5 (one op: not fused), still right.
      const x = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], requiresGrad: true });
      x.mul(2.5).relu().sum().backward();
      expect(Array.from(x.grad!.data)).toEqual([2.5, 2.5, 2.5, 2.5, 2.5, 2.5]);
    });
  });

  it("writes the gradient into a cotangent only backward holds, never into one a retained .grad shares", () => {
    tidy(() => {
      const n = 64 * 33;
      const xs = data(n, 3, -1, 1), ws = data(n, 4, -1, 1);
      // relu's cotangent is mul's result (b * w): backward's own, so relu's rule writes into it.
      const run = (retain: boolean) => {
        const x = tensor(xs, { shape: [64, 33], requiresGrad: true });
        const w = tensor(ws, { shape: [64, 33] });
        const b = x.mul(3).relu();
        if (retain) b.retainGrad();
        const loss = b.mul(w).sum();
        const before = memory();
        loss.backward();
        return { x, b, allocations: memory().allocations - before.allocations };
      };
      const own = run(false), kept = run(true);
      // dx = 3 * (3x > 0) * w, whether or not the cotangent was reused.
      const want = Array.from(xs, (v, i) => Math.fround(Math.fround(ws[i] * (3 * v > 0 ? 1 : 0)) * 3));
      expect(Array.from(own.x.grad!.data)).toEqual(want);
      expect(Array.from(kept.x.grad!.data)).toEqual(want);
      // The retained gradient of b is w itself, not w masked by relu's rule.
      expect(Array.from(kept.b.grad!.data)).toEqual(Array.from(ws));
      // Reusing the cotangent saves relu's gradient buffer.
      expect(own.allocations).toBe(kept.allocations - 1);
    });
  });

  it("createGraph runs the rule op by op, so the gradient can be differentiated again", () => {
    tidy(() => {
      const x = tensor([0.5, -1, 2], { requiresGrad: true });
      const y = x.tanh();
      y.backward(tensor([1, 1, 1]), { createGraph: true });
      const dx = x.grad!;
      expect(dx.gradFn).not.toBeNull();
      const s = dx.sum();
      x.grad = null;
      s.backward();
      // d/dx (1 - tanh(x)^2) = -2 tanh(x) (1 - tanh(x)^2)
      const t = [0.5, -1, 2].map(Math.tanh);
      Array.from(x.grad!.data).forEach((v, i) => expect(v).toBeCloseTo(-2 * t[i] * (1 - t[i] ** 2), 5));
    });
  });
});
