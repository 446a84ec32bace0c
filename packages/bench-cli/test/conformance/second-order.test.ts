import { describe, expect, it } from "vitest";
import { PhiloxGenerator, gradcheck, sizeOf } from "@dualgrad/core";
import { concat, fn, gather, gradients, op, takeAlongAxis, tensor as hostTensor, type HostTensor, type StageSwitch, type SymbolicTensor } from "@dualgrad/graph";
import { tensorDifference } from "../../src/runners/agreement.js";
import { useLeakCheck } from "./leak-hook.js";

/**
 * Second order through the graph frontend: `gradients` is a graph-to-graph transform whose
 * output is ordinary graph values, so it can be differentiated again (docs/ARCHITECTURE.md: the VJP rules
 * emit nodes, and those nodes have VJP rules too). For a few composites whose second derivatives
 * exercise different rules — tanh's (1 - y^2) through matmul, log_softmax's softmax term,
 * logsumexp's exp(x - out), sigmoid's y(1 - y) times x — we compute the Hessian-vector product
 * H v as grad(<grad L, v>) in one traced graph and compare it with central finite differences of
 * the graph's own first gradient: d/dx_i <grad L(x), v> = (H v)_i for symmetric H. float64.
 *
 * Each check also runs the second-order graph with fusion off and with every pass off, which must
 * agree with the fully optimised one: gradient-of-gradient graphs are where CSE, constant folding
 * and the simplifier find the most to do.
 */

useLeakCheck();

interface Composite {
  name: string;
  /** Shapes of the differentiated inputs. */
  shapes: number[][];
  /** Inputs held fixed (data, labels, weights of a reduction). */
  fixed: () => HostTensor[];
  /** The scalar loss. */
  loss: (xs: SymbolicTensor[], fixed: SymbolicTensor[]) => SymbolicTensor;
}

const uniform = (seed: number, shape: number[], lo = -1, hi = 1) => {
  const v = new Float64Array(sizeOf(shape));
  new PhiloxGenerator(seed).fillUniform(v, lo, hi);
  return v;
};

const COMPOSITES: Composite[] = [
  {
    // mean((tanh(X W1 + b1) W2 - Y)^2): the MLP loss the workbench trains.
    name: "tanh∘matmul MLP loss (MSE)",
    shapes: [[3, 4], [4], [4, 2]],
    fixed: () => [hostTensor(uniform(101, [5, 3]), [5, 3]), hostTensor(uniform(102, [5, 2]), [5, 2])],
    loss: ([w1, b1, w2], [x, y]) => x.matmul(w1).add(b1).tanh().matmul(w2).sub(y).pow(2).mean(),
  },
  {
    // -mean(sum(one_hot(labels) * log_softmax(z), -1)), as crossEntropy builds it.
    name: "softmax cross-entropy",
    shapes: [[4, 5]],
    fixed: () => [hostTensor(new Int32Array([0, 3, 1, 4]), [4], "int32")],
    loss: ([z], [labels]) => op("one_hot", [labels], { depth: 5, dtype: "float64" }).mul(z.logSoftmax(-1)).sum({ axis: -1 }).mean().neg(),
  },
  {
    // sum(logsumexp(x, axis 1) * r) and a full logsumexp, so both reduce forms appear.
    name: "logsumexp",
    shapes: [[3, 4]],
    fixed: () => [hostTensor(uniform(103, [3]), [3])],
    loss: ([x], [r]) => x.logsumexp({ axis: 1 }).mul(r).sum().add(x.mul(0.5).logsumexp()),
  },
  {
    // sum(sigmoid(x) * x * r) (SiLU): the product rule on top of sigmoid's own second derivative.
    name: "sigmoid(x) * x",
    shapes: [[6]],
    fixed: () => [hostTensor(uniform(104, [6]), [6])],
    loss: ([x], [r]) => x.sigmoid().mul(x).mul(r).sum(),
  },
  {
    // sum(tanh(concat(gather(T, ids), take_along_axis(X, pick))) * r): the second order runs the
    // gradients' own primitives (index_add, scatter_add, slices of concat) through their VJPs.
    name: "tanh∘concat of gather and take_along_axis",
    shapes: [[4, 3], [3, 4]],
    fixed: () => [
      hostTensor(new Int32Array([3, 0, 3]), [3], "int32"),
      hostTensor(new Int32Array([1, 1, 0, 3, 2, 2]), [3, 2], "int32"),
      hostTensor(uniform(105, [3, 5]), [3, 5]),
    ],
    loss: ([t, x], [ids, pick, r]) => concat([gather(t, ids), takeAlongAxis(x, pick, 1)], 1).tanh().mul(r).sum(),
  },
];

type Order = "loss" | "grad" | "gv" | "hvp";

/**
 * One traced function per order: the loss; its gradients; <grad, v> (a scalar); and H v =
 * grad(<grad, v>). Arguments: the differentiated inputs, the fixed ones, then the directions v.
 */
function compiled(c: Composite, order: Order, disable: readonly StageSwitch[] = []) {
  const n = c.shapes.length;
  const m = c.fixed().length;
  return fn(
    (...args: SymbolicTensor[]) => {
      const xs = args.slice(0, n);
      const fixed = args.slice(n, n + m);
      const vs = args.slice(n + m);
      const loss = c.loss(xs, fixed);
      if (order === "loss") return loss;
      const gs = gradients(loss, xs);
      if (order === "grad") return gs;
      const gv = gs.map((g, k) => g.mul(vs[k]).sum()).reduce((a, b) => a.add(b));
      return order === "gv" ? gv : gradients(gv, xs);
    },
    { disable, name: `${c.name} ${order}` },
  );
}

const ALL_PASSES_OFF: StageSwitch[] = ["constfold", "cse", "simplify", "transposeFlags", "dce", "fuse", "inplace"];


describe("graph grad-of-grad agrees with finite differences of the graph gradient (float64)", () => {
  COMPOSITES.forEach((c, ci) => {
    it(c.name, () => {
      const x0 = c.shapes.map((s, k) => uniform(200 + 10 * ci + k, s));
      const v = c.shapes.map((s, k) => uniform(300 + 10 * ci + k, s));
      const fixed = c.fixed();
      const hosts = (xs: Float64Array[]) => xs.map((x, k) => hostTensor(x, c.shapes[k]));
      const lossFn = compiled(c, "loss");
      const gradFn = compiled(c, "grad");
      const gvFn = compiled(c, "gv");
      const hvpFns = [compiled(c, "hvp"), compiled(c, "hvp", ["fuse"]), compiled(c, "hvp", ALL_PASSES_OFF)];
      try {
        // First order, as a sanity anchor: the graph gradient vs differences of the graph loss.
        const grads = (gradFn(...hosts(x0), ...fixed) as HostTensor[]).map((g) => g.data);
        const first = gradcheck((xs) => (lossFn(...hosts(xs), ...fixed) as HostTensor).item(), x0, grads, { atol: 1e-8, rtol: 1e-6 });
        expect(first.ok, `first order: ${JSON.stringify(first.worst)}`).toBe(true);

        // Second order: H v vs differences of <grad L(x), v>.
        const [hv, ...variants] = hvpFns.map((f) => (f(...hosts(x0), ...fixed, ...hosts(v)) as HostTensor[]).map((h) => h.data));
        const report = gradcheck((xs) => (gvFn(...hosts(xs), ...fixed, ...hosts(v)) as HostTensor).item(), x0, hv, { atol: 1e-7, rtol: 1e-5 });
        expect(report.ok, `H v: ${JSON.stringify(report.worst)} (max abs error ${report.maxAbsError})`).toBe(true);
        // A Hessian-vector product that is all zeros would pass vacuously.
        expect(hv.some((h) => h.some((x) => Math.abs(x) > 1e-3))).toBe(true);

        // The optimisation passes must not change second-order results beyond rounding.
        for (const [i, other] of variants.entries()) {
          other.forEach((h, k) => expect(tensorDifference(h, hv[k]).maxRel, `${i === 0 ? "fusion off" : "all passes off"}, input ${k}`).toBeLessThanOrEqual(1e-12));
        }
      } finally {
        [lossFn, gradFn, gvFn, ...hvpFns].forEach((f) => f.dispose());
      }
    });
  });

  it("symmetry: u^T (H v) equals v^T (H u) for the MLP loss", () => {
    const c = COMPOSITES[0];
    const x0 = c.shapes.map((s, k) => uniform(400 + k, s));
    const u = c.shapes.map((s, k) => uniform(500 + k, s));
    const v = c.shapes.map((s, k) => uniform(600 + k, s));
    const fixed = c.fixed();
    const hosts = (xs: Float64Array[]) => xs.map((x, k) => hostTensor(x, c.shapes[k]));
    const hvp = compiled(c, "hvp");
    try {
      const dot = (a: Float64Array[], b: ArrayLike<number>[]) => a.reduce((s, x, k) => s + x.reduce((t, y, i) => t + y * b[k][i], 0), 0);
      const hv = (hvp(...hosts(x0), ...fixed, ...hosts(v)) as HostTensor[]).map((h) => h.data);
      const hu = (hvp(...hosts(x0), ...fixed, ...hosts(u)) as HostTensor[]).map((h) => h.data);
      const a = dot(u, hv);
      const b = dot(v, hu);
      expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(a)));
    } finally {
      hvp.dispose();
    }
  });
});
