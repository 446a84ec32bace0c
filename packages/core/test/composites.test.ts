import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  PhiloxGenerator, ValueEmitter, composites as C, fillLinearInit, linearInitBound, ops, valueFrom,
  type Attrs, type DType, type Emitter, type Meta, type Prim, type Shape, type Value,
} from "../src/index.js";
import { liveBytes } from "./helpers.js";

/**
 * Core's composites run here on concrete values (ValueEmitter), checked against the formulas
 * written out by hand in float64, and on an emitter whose handles are numbers (as the graph
 * frontend's value ids are), which must compute the same bits.
 */

let e: ValueEmitter;
let before = 0;
beforeEach(() => {
  before = liveBytes();
  e = new ValueEmitter();
});
afterEach(() => {
  e.releaseAllExcept();
  expect(liveBytes()).toBe(before);
});

/** A value the emitter owns (released with the test's other values). */
function v(values: number[], shape: Shape, dtype: DType = "float64"): Value {
  const x = valueFrom(dtype, shape, values);
  e.created.push(x);
  return x;
}
const arr = (x: Value) => Array.from(x.data);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** An emitter whose handles are numbers (indices into a table), like the graph builder's value ids. */
class IdEmitter implements Emitter<number> {
  readonly values: Value[] = [];
  constructor(private readonly inner: ValueEmitter) {}
  add(x: Value): number {
    return this.values.push(x) - 1;
  }
  emit<P extends Prim>(prim: P, inputs: readonly number[], attrs: Attrs[P]): number {
    return this.add(this.inner.emit(prim, inputs.map((i) => this.values[i]), attrs));
  }
  meta(t: number): Meta {
    return this.values[t];
  }
  constant(value: number, dtype: DType): number {
    return this.add(this.inner.constant(value, dtype));
  }
}

describe("softmax and log-softmax", () => {
  it("softmax is exp(x - logsumexp(x)) per row and log-softmax its log", () => {
    const x = v([1, 2, 3, -1, 0, 1000], [2, 3]);
    const rows = [[1, 2, 3], [-1, 0, 1000]];
    const expected = rows.flatMap((r) => {
      const m = Math.max(...r);
      const z = r.reduce((s, t) => s + Math.exp(t - m), 0);
      return r.map((t) => Math.exp(t - m) / z);
    });
    const s = arr(C.softmax(e, x));
    s.forEach((p, i) => expect(p).toBeCloseTo(expected[i], 14));
    const ls = arr(C.logSoftmax(e, x, 1));
    ls.forEach((p, i) => expect(Math.exp(p)).toBeCloseTo(expected[i], 14));
    expect(C.softmax(e, x, 0).shape).toEqual([2, 3]);
  });
});

describe("losses", () => {
  it("mseLoss is the mean of squared differences, and promotes float32 with float64", () => {
    const a = v([1, 2, 3, 4], [2, 2]);
    const b = v([0, 2, 5, 1], [2, 2], "float32");
    const loss = C.mseLoss(e, a, b);
    expect(loss.dtype).toBe("float64");
    expect(loss.shape).toEqual([]);
    expect(loss.data[0]).toBe((1 + 0 + 4 + 9) / 4);
    expect(() => C.mseLoss(e, v([1, 2], [2]), v([1], [1]))).toThrow(/^mseLoss: input \[2\] and target \[1\] must have the same shape$/);
  });

  it("sparse cross-entropy picks each row's log-probability and equals the dense form on one-hot targets", () => {
    const logits = v([2, 1, 0.1, 0.5, 2.5, -1], [2, 3]);
    const labels = v([0, 1], [2], "int32");
    const sparse = C.sparseSoftmaxCrossEntropy(e, logits, labels).data[0];
    const lsm = (r: number[], k: number) => r[k] - Math.log(r.reduce((s, t) => s + Math.exp(t), 0));
    expect(sparse).toBeCloseTo(-(lsm([2, 1, 0.1], 0) + lsm([0.5, 2.5, -1], 1)) / 2, 14);
    const dense = C.softmaxCrossEntropy(e, logits, v([1, 0, 0, 0, 1, 0], [2, 3])).data[0];
    expect(dense).toBe(sparse);
    // crossEntropy takes either kind of target, as F.cross_entropy does.
    expect(C.crossEntropy(e, logits, labels).data[0]).toBe(sparse);
    expect(C.crossEntropy(e, logits, v([1, 0, 0, 0, 1, 0], [2, 3])).data[0]).toBe(sparse);
    // Soft targets weigh the log-probabilities.
    const soft = C.softmaxCrossEntropy(e, logits, v([0.5, 0.5, 0, 0, 0, 1], [2, 3])).data[0];
    expect(soft).toBeCloseTo(-(0.5 * lsm([2, 1, 0.1], 0) + 0.5 * lsm([2, 1, 0.1], 1) + lsm([0.5, 2.5, -1], 2)) / 2, 14);
  });

  it("sparse cross-entropy is one fused primitive forward and one backward: (softmax - onehot) * g / B", () => {
    const logits = v([2, 1, 0.1, 0.5, 2.5, -1], [2, 3]);
    const labels = v([0, 1], [2], "int32");
    const emitted: Prim[] = [];
    const counting: Emitter<Value> = { emit: (prim, inputs, attrs) => (emitted.push(prim), e.emit(prim, inputs, attrs)), meta: (t) => t, constant: (x, d) => e.constant(x, d) };
    const loss = C.sparseSoftmaxCrossEntropy(counting, logits, labels);
    expect(emitted).toEqual(["softmax_cross_entropy"]);
    const g = v([3], []);
    const [dx, dLabels] = ops.softmax_cross_entropy.vjp(counting, [logits, labels], loss, g, {});
    expect(emitted).toEqual(["softmax_cross_entropy", "softmax_cross_entropy_grad"]);
    expect(dLabels).toBeNull();
    const rows = [[2, 1, 0.1], [0.5, 2.5, -1]];
    const want = rows.flatMap((r, i) => {
      const z = r.reduce((s, t) => s + Math.exp(t), 0);
      return r.map((t, k) => ((Math.exp(t) / z - (k === [0, 1][i] ? 1 : 0)) * 3) / 2);
    });
    Array.from(dx!.data).forEach((d, i) => expect(d).toBeCloseTo(want[i], 14));
  });

  it("cross-entropy rejects bad shapes and float labels, naming the function and the shapes", () => {
    const logits = v([0, 0, 0, 0], [2, 2]);
    expect(() => C.sparseSoftmaxCrossEntropy(e, logits, v([0, 1, 1], [3], "int32"))).toThrow(/^crossEntropy: expected logits \[B,C\] and labels \[B\], got \[2,2\] and \[3\]$/);
    expect(() => C.sparseSoftmaxCrossEntropy(e, logits, v([0, 1], [2]))).toThrow(/^crossEntropy: labels must be int32 class indices, got float64$/);
    expect(() => C.softmaxCrossEntropy(e, logits, v([1, 0], [2]))).toThrow(/^softmaxCrossEntropy: expected logits \[B,C\] and target probabilities of the same shape, got \[2,2\] and \[2\]$/);
  });

  it("bceWithLogits equals -(z log σ(x) + (1-z) log(1-σ(x))) and stays finite for large logits", () => {
    const xs = [-3, -0.5, 0, 0.7, 4];
    const zs = [0, 1, 0.5, 1, 0.25];
    const naive = xs.reduce((s, x, i) => s - (zs[i] * Math.log(sigmoid(x)) + (1 - zs[i]) * Math.log(1 - sigmoid(x))), 0) / xs.length;
    expect(C.bceWithLogits(e, v(xs, [5]), v(zs, [5])).data[0]).toBeCloseTo(naive, 14);
    // σ(±200) rounds to 0 or 1, where the naive form gives Infinity; the stable form gives |x|.
    const big = C.bceWithLogits(e, v([200, -200], [2]), v([0, 1], [2])).data[0];
    expect(big).toBe(200);
    expect(() => C.bceWithLogits(e, v([1, 2], [2]), v([1], [1]))).toThrow(/^bceWithLogits: logits \[2\] and target \[1\] must have the same shape$/);
    expect(() => C.bceWithLogits(e, v([1], [1]), v([1], [1], "int32"))).toThrow(/^bceWithLogits: logits and target must be floating point, got float64 and int32$/);
  });
});

describe("matmul and linear", () => {
  it("matmul follows torch.matmul for 1-D operands", () => {
    const m = v([1, 2, 3, 4, 5, 6], [2, 3]);
    const r = v([1, 0, 2], [3]);
    const l = v([1, -1], [2]);
    expect(C.matmul(e, m, r).shape).toEqual([2]);
    expect(arr(C.matmul(e, m, r))).toEqual([7, 16]);
    expect(arr(C.matmul(e, l, m))).toEqual([-3, -3, -3]);
    const dot = C.matmul(e, r, r);
    expect(dot.shape).toEqual([]);
    expect(dot.data[0]).toBe(5);
    expect(arr(C.matmul(e, m, m, { transB: true }))).toEqual([14, 32, 32, 77]);
    expect(() => C.matmul(e, v([1], []), m)).toThrow(/^matmul: both arguments need at least 1 dimension, got \[\] and \[2,3\]$/);
  });

  it("linear is x W^T + b with W [out, in]", () => {
    const x = v([1, 2, 3, 4], [2, 2]);
    const w = v([1, 0, 1, 1, 0, -1], [3, 2]);
    const b = v([10, 20, 30], [3]);
    expect(arr(C.linear(e, x, w, b))).toEqual([11, 23, 28, 13, 27, 26]);
    expect(arr(C.linear(e, x, w))).toEqual([1, 3, -2, 3, 7, -4]);
  });

  it("initLinear draws weight then bias like fillLinearInit and leaves out the bias draws without a bias", () => {
    const make = (_: string, shape: Shape, dtype: DType) => ({ shape, data: dtype === "float64" ? new Float64Array(shape.reduce((a, b) => a * b, 1)) : new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    const p = C.initLinear(5, 3, { generator: new PhiloxGenerator(11) }, make);
    const w = new Float32Array(15);
    const bias = new Float32Array(3);
    fillLinearInit(new PhiloxGenerator(11), w, bias, 5, 3);
    expect(p.weight.shape).toEqual([3, 5]);
    expect(Array.from(p.weight.data)).toEqual(Array.from(w));
    expect(Array.from(p.bias!.data)).toEqual(Array.from(bias));
    const bound = linearInitBound(5);
    expect(Array.from(p.weight.data).every((x) => Math.abs(x) < bound)).toBe(true);
    const gen = new PhiloxGenerator(11);
    const noBias = C.initLinear(5, 3, { bias: false, dtype: "float64", generator: gen }, make);
    expect(noBias.bias).toBeNull();
    expect(noBias.weight.data).toBeInstanceOf(Float64Array);
    const after = new PhiloxGenerator(11);
    after.fillUniform(new Float64Array(15));
    const next = [new Float64Array(4), new Float64Array(4)];
    gen.fillUniform(next[0]);
    after.fillUniform(next[1]);
    expect(Array.from(next[0])).toEqual(Array.from(next[1]));
  });

  it("activation applies the named primitive, and linear returns its input", () => {
    const x = v([-1, 0.5], [2]);
    expect(arr(C.activation(e, "relu", x))).toEqual([0, 0.5]);
    expect(arr(C.activation(e, "tanh", x))).toEqual([Math.tanh(-1), Math.tanh(0.5)]);
    expect(C.activation(e, "sigmoid", x).data[0]).toBeCloseTo(sigmoid(-1), 15);
    expect(C.activation(e, "linear", x)).toBe(x);
    expect(C.ACTIVATIONS).toEqual(["relu", "tanh", "sigmoid", "linear"]);
  });
});

describe("axis helpers and argmax", () => {
  it("turn PyTorch-style axis arguments into primitive attributes, negative axes counting from the end", () => {
    expect(C.reduceAttrs({})).toEqual({ axes: null, keepdims: false });
    expect(C.reduceAttrs({ axis: -1, keepdims: true })).toEqual({ axes: [-1], keepdims: true });
    expect(C.reduceAttrs({ axis: [0, 2] })).toEqual({ axes: [0, 2], keepdims: false });
    expect(C.swapAttrs(-2, -1, 3)).toEqual({ perm: [0, 2, 1] });
    expect(C.permuteAttrs([-1, 0, 1], 3)).toEqual({ perm: [2, 0, 1] });
    expect(C.unsqueezeShape([2, 3], -1)).toEqual([2, 3, 1]);
    expect(C.unsqueezeShape([2, 3], 0)).toEqual([1, 2, 3]);
    expect(C.squeezeShape([1, 2, 1], undefined)).toEqual([2]);
    expect(C.squeezeShape([1, 2, 1], -1)).toEqual([1, 2]);
    const unchanged: Shape = [1, 2];
    expect(C.squeezeShape(unchanged, 1)).toBe(unchanged);
    expect(() => C.swapAttrs(0, 3, 2)).toThrow(/transpose/);
  });

  it("argmax without an axis is over the flattened tensor", () => {
    const x = v([1, 9, 3, 4, 5, 6], [2, 3]);
    const flat = C.argmax(e, x);
    expect(flat.shape).toEqual([]);
    expect(flat.data[0]).toBe(1);
    expect(arr(C.argmax(e, x, { axis: 0 }))).toEqual([1, 0, 1]);
    expect(C.argmax(e, x, { axis: 1, keepdims: true }).shape).toEqual([2, 1]);
  });
});

/** Runs `steps` updates of a rule on float64 values, applying them with applyUpdate; returns the parameters after each step. */
function runRule<S>(
  rule: (em: Emitter<number>, p: number, g: number, s: S, step: C.Step<number>) => C.RuleResult<number, S>,
  init: S,
  traced: boolean,
  grads: number[][],
): number[][] {
  const ids = new IdEmitter(e);
  let p = ids.add(v([1, -2], [2]));
  let s = init;
  const out: number[][] = [];
  grads.forEach((g, i) => {
    const step: C.Step<number> = traced ? { value: ids.add(v([i + 1], [])) } : { known: i + 1 };
    const r = rule(ids, p, ids.add(v(g, [2])), s, step);
    p = C.applyUpdate(ids, p, r.update);
    s = r.state;
    out.push(arr(ids.values[p]));
  });
  return out;
}

const GRADS = [[0.5, -1], [0.25, 2], [-1, 0.125]];

describe("optimizer update rules", () => {
  it("configs take PyTorch's defaults and reject Nesterov without momentum", () => {
    expect(C.sgdConfig({ lr: 0.1 })).toEqual({ lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 });
    expect(() => C.sgdConfig({ lr: 0.1, nesterov: true })).toThrow(/^SGD: Nesterov momentum requires a momentum and zero dampening$/);
    expect(() => C.sgdConfig({ lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(/Nesterov/);
    expect(C.adamConfig({}, false)).toEqual({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false });
    expect(C.adamConfig({ betas: [0.5, 0.6] }, true)).toMatchObject({ beta1: 0.5, beta2: 0.6, weightDecay: 0.01, decoupled: true });
  });

  it("plain SGD returns the gradient itself as the direction and emits nothing", () => {
    const ids = new IdEmitter(e);
    const g = ids.add(v([1, 2], [2]));
    const r = C.sgd(ids, { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 }, ids.add(v([0, 0], [2])), g, { momentumBuffer: null }, { known: 1 });
    expect(r.update).toEqual({ decay: 1, direction: g, scale: { fixed: 0.1 } });
    expect(r.state.momentumBuffer).toBeNull();
    expect(ids.values.length).toBe(2);
  });

  it("SGD with momentum, dampening, Nesterov and weight decay follows torch.optim.SGD, with a known or a traced step", () => {
    const c = { lr: 0.1, momentum: 0.9, dampening: 0.2, nesterov: false, weightDecay: 0.01 };
    for (const nesterov of [false, true]) {
      const cfg = { ...c, nesterov, dampening: nesterov ? 0 : c.dampening };
      // PyTorch's loop, written out in float64.
      const p = [1, -2];
      let buf: number[] | null = null;
      const expected = GRADS.map((g0) => {
        const g = g0.map((x, i) => x + p[i] * cfg.weightDecay);
        buf = buf === null ? g.slice() : buf.map((b, i) => b * cfg.momentum + g[i] * (1 - cfg.dampening));
        const d = nesterov ? g.map((x, i) => x + buf![i] * cfg.momentum) : buf;
        d.forEach((x, i) => (p[i] = p[i] - x * cfg.lr));
        return p.slice();
      });
      const rule = (em: Emitter<number>, pp: number, g: number, s: C.SgdState<number>, step: C.Step<number>) => C.sgd(em, cfg, pp, g, s, step);
      expect(runRule(rule, { momentumBuffer: null }, false, GRADS)).toEqual(expected);
      // Traced: the buffer slot exists from the start, zero; step == 1 selects the gradient.
      const withSlot = (em: Emitter<number>, s: C.SgdState<number>) => (s.momentumBuffer === null ? { momentumBuffer: (em as IdEmitter).add(v([0, 0], [2])) } : s);
      const traced = runRule((em, pp, g, s: C.SgdState<number>, step) => rule(em, pp, g, withSlot(em, s), step), { momentumBuffer: null }, true, GRADS);
      expect(traced).toEqual(expected);
    }
  });

  it("Adam and AdamW follow torch.optim.Adam/AdamW, and a traced step gives the same bits as a known one", () => {
    for (const decoupled of [false, true]) {
      const c = { lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled };
      const p = [1, -2];
      const m = [0, 0];
      const s2 = [0, 0];
      const expected = GRADS.map((g0, k) => {
        const t = k + 1;
        if (decoupled) p.forEach((x, i) => (p[i] = x * (1 - c.lr * c.weightDecay)));
        const g = decoupled ? g0 : g0.map((x, i) => x + p[i] * c.weightDecay);
        g.forEach((x, i) => {
          m[i] = m[i] * c.beta1 + x * (1 - c.beta1);
          s2[i] = s2[i] * c.beta2 + x * x * (1 - c.beta2);
          const denom = Math.sqrt(s2[i]) / Math.sqrt(1 - c.beta2 ** t) + c.eps;
          p[i] -= (m[i] / denom) * (c.lr / (1 - c.beta1 ** t));
        });
        return p.slice();
      });
      const rule = (em: Emitter<number>, pp: number, g: number, s: C.AdamState<number>, step: C.Step<number>) => C.adam(em, c, pp, g, s, step);
      const known = runRule(rule, { expAvg: null, expAvgSq: null }, false, GRADS);
      known.flat().forEach((x, i) => expect(x).toBeCloseTo(expected.flat()[i], 14));
      expect(runRule(rule, { expAvg: null, expAvgSq: null }, true, GRADS)).toEqual(known);
    }
  });

  it("applyUpdate computes p * decay - direction * scale, with a fixed or a value scale", () => {
    const p = v([2, 4], [2]);
    const d = v([1, -1], [2]);
    expect(arr(C.applyUpdate(e, p, { decay: 0.5, direction: d, scale: { fixed: 0.25 } }))).toEqual([0.75, 2.25]);
    expect(arr(C.applyUpdate(e, p, { decay: 1, direction: d, scale: { value: v([2], []) } }))).toEqual([0, 6]);
  });
});

const clip = (p: number) => Math.min(Math.max(p, C.KERAS_EPSILON), 1 - C.KERAS_EPSILON);

/** Keras's cross-entropies of probabilities, against Keras's formulas written out in float64. */
describe("probability losses (Keras's from_logits=False)", () => {
  it("binaryCrossEntropy is -mean(z log p + (1 - z) log(1 - p)) with p clipped to [1e-7, 1 - 1e-7]", () => {
    const p = [0.2, 1, 0, 0.7];
    const z = [0, 1, 1, 0.5];
    const expected = -p.reduce((s, pi, i) => s + z[i] * Math.log(clip(pi)) + (1 - z[i]) * Math.log(1 - clip(pi)), 0) / 4;
    const out = C.binaryCrossEntropy(e, v(p, [2, 2]), v(z, [2, 2]));
    expect(out.shape).toEqual([]);
    expect(out.data[0]).toBeCloseTo(expected, 12);
    expect(() => C.binaryCrossEntropy(e, v(p, [4]), v(z, [2, 2]))).toThrow(/binaryCrossEntropy: probabilities \[4\] and target \[2,2\] must have the same shape/);
  });

  it("categoricalCrossEntropy normalises each row, clips, and averages -sum(t log p); int32 labels are one-hot", () => {
    const p = [[1, 3], [0.5, 0]];
    const t = [[0, 1], [0, 1]];
    const expected = -t.reduce((s, row, i) => s + row.reduce((a, ti, j) => a + ti * Math.log(clip(p[i][j] / (p[i][0] + p[i][1]))), 0), 0) / 2;
    const probs = v(p.flat(), [2, 2]);
    expect(C.categoricalCrossEntropy(e, probs, v(t.flat(), [2, 2])).data[0]).toBeCloseTo(expected, 12);
    expect(C.categoricalCrossEntropy(e, probs, v([1, 1], [2], "int32")).data[0]).toBeCloseTo(expected, 12);
    expect(() => C.categoricalCrossEntropy(e, probs, v([1, 1, 0], [3], "int32"))).toThrow(/expected probabilities \[B,C\] with target probabilities \[B,C\] or int32 labels \[B\], got \[2,2\] and int32\[3\]/);
  });
});
