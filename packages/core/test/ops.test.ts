import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PhiloxGenerator, ValueEmitter, execute, getBackend, gradcheck, isFloat, ops, releaseValue, setBackend, valueFrom,
  type DType, type OpTable, type Value,
} from "../src/index.js";
import { caseName, opCases, type OpCase } from "./op-cases.js";
import { liveBytes, makeInput } from "./helpers.js";

const CASES = opCases();

function inputsFor(k: OpCase, dtype: DType, seed: number): Value[] {
  const gen = new PhiloxGenerator(seed);
  return k.inputs.map((spec) => makeInput(gen, spec, dtype));
}

describe("every primitive: fast kernel equals the reference kernel", () => {
  // Bitwise equality is the JS backend's contract; the wasm matmul (float32 sums) is checked
  // against the reference within float32 tolerance in gemm-wasm.test.ts.
  const previous = getBackend();
  beforeAll(() => setBackend("js"));
  afterAll(() => setBackend(previous));
  CASES.forEach((k, idx) => {
    for (const dtype of ["float32", "float64"] as DType[]) {
      it(caseName(k, dtype), () => {
        const before = liveBytes();
        const inputs = inputsFor(k, dtype, idx + 1);
        const fast = execute(k.prim, inputs, k.attrs as never);
        const ref = execute(k.prim, inputs, k.attrs as never, { reference: true });
        expect(fast.shape).toEqual(ref.shape);
        expect(fast.dtype).toBe(ref.dtype);
        expect(Array.from(fast.data)).toEqual(Array.from(ref.data));
        [...inputs, fast, ref].forEach(releaseValue);
        expect(liveBytes()).toBe(before);
      });
    }
  });
});

/** sum(out * r) computed by the reference kernels, on float64 inputs. */
function projected(k: OpCase, xs: Float64Array[], shapes: number[][], r: Float64Array, ints: (Value | null)[]): number {
  const vals = xs.map((x, i) => ints[i] ?? valueFrom("float64", shapes[i], x));
  const out = execute(k.prim, vals, k.attrs as never, { reference: true });
  let s = 0;
  for (let i = 0; i < out.data.length; i++) s += out.data[i] * r[i];
  releaseValue(out);
  vals.forEach((v, i) => ints[i] === null && releaseValue(v));
  return s;
}

describe("every VJP rule agrees with finite differences (float64)", () => {
  CASES.forEach((k, idx) => {
    const floatInputs = k.inputs.map((s) => s.kind !== "int32" && s.kind !== "mask");
    if (!floatInputs.some(Boolean)) return;
    const dtypeOut = ops[k.prim].infer(k.inputs.map((s) => ({ shape: s.shape, dtype: s.kind === "int32" ? "int32" : "float64" })), k.attrs as never).dtype;
    if (!isFloat(dtypeOut)) return;
    it(caseName(k, "float64"), () => {
      const before = liveBytes();
      const inputs = inputsFor(k, "float64", idx + 1000);
      const e = new ValueEmitter();
      const out = e.emit(k.prim, inputs, k.attrs as never);
      const rVals = new Float64Array(out.data.length);
      new PhiloxGenerator(idx).fillUniform(rVals, -1, 1);
      const rSource = valueFrom("float64", out.shape, rVals);
      const r = e.emit("cast", [rSource], { dtype: "float64" });
      const grads = ops[k.prim].vjp(e, inputs, out, r, k.attrs as never);
      expect(grads.length).toBe(inputs.length);
      const ints = inputs.map((v, i) => (floatInputs[i] ? null : v));
      // `k.grad` names inputs with no gradient by design (max pooling's positions in x).
      const checked = inputs.map((_, i) => floatInputs[i] && k.prim !== "compare" && (k.grad?.[i] ?? true));
      grads.forEach((g, i) => {
        if (checked[i]) {
          expect(g, `gradient of input ${i}`).not.toBeNull();
          expect(g!.shape).toEqual(inputs[i].shape);
        }
      });
      const xs = inputs.filter((_, i) => checked[i]).map((v) => Float64Array.from(v.data));
      const shapes = inputs.map((v) => [...v.shape]);
      const report = gradcheck(
        (cur) => {
          let j = 0;
          const all = inputs.map((v, i) => (checked[i] ? cur[j++] : Float64Array.from(v.data)));
          return projected(k, all, shapes, rVals, ints);
        },
        xs,
        grads.filter((_, i) => checked[i]).map((g) => g!.data),
      );
      expect(report.ok, `worst ${JSON.stringify(report.worst)}`).toBe(true);
      e.releaseAllExcept();
      inputs.forEach(releaseValue);
      releaseValue(rSource);
      expect(liveBytes()).toBe(before);
    });
  });
});

describe("errors name the op and the shapes", () => {
  const v = (shape: number[], dtype: DType = "float32") => ({ shape, dtype });
  it("matmul inner dimensions", () => {
    expect(() => ops.matmul.infer([v([64, 3]), v([4, 1])], { transA: false, transB: false })).toThrow(
      "matmul: cannot multiply [64,3] by [4,1] (inner dimensions 3 != 4)",
    );
  });
  it("broadcast mismatch", () => {
    expect(() => ops.add.infer([v([2, 3]), v([4])], {})).toThrow(/^add: cannot broadcast \[2,3\] and \[4\]/);
  });
  it("dtype mismatch", () => {
    expect(() => ops.mul.infer([v([2]), v([2], "float64")], {})).toThrow(/mul: dtype mismatch: float32\[2\] vs float64\[2\]/);
  });
  it("float-only ops reject int32", () => {
    expect(() => ops.exp.infer([v([2], "int32")], {})).toThrow(/exp: expected a floating-point input, got int32\[2\]/);
  });
  it("reshape size", () => {
    expect(() => ops.reshape.infer([v([2, 3])], { shape: [4, 2] })).toThrow("reshape: cannot reshape [2,3] (6 elements) to [4,2]");
  });
  it("bad axis and empty max", () => {
    expect(() => ops.sum.infer([v([2, 3])], { axes: [2], keepdims: false })).toThrow(/sum: axis 2 is out of range for rank 2/);
    expect(() => ops.max.infer([v([0, 3])], { axes: [0], keepdims: false })).toThrow(/max: cannot reduce over an empty dimension/);
  });
  it("transpose perm, slice bounds, broadcast_to", () => {
    expect(() => ops.transpose.infer([v([2, 3])], { perm: [0, 0] })).toThrow(/transpose: perm \[0,0\]/);
    expect(() => ops.slice.infer([v([3])], { begin: [2], end: [5] })).toThrow(/slice: bounds/);
    expect(() => ops.broadcast_to.infer([v([3])], { shape: [2, 4] })).toThrow(/broadcast_to: cannot broadcast \[3\]/);
  });
  it("softmax_cross_entropy: shapes, dtypes and labels out of range at run time, both kernels", () => {
    expect(() => ops.softmax_cross_entropy.infer([v([4, 3]), v([5], "int32")], {})).toThrow(
      "softmax_cross_entropy: expected logits [B,C] and labels [B], got [4,3] and [5]",
    );
    expect(() => ops.softmax_cross_entropy.infer([v([4, 3]), v([4])], {})).toThrow("softmax_cross_entropy: labels must be int32 class indices, got float32[4]");
    expect(() => ops.softmax_cross_entropy.infer([v([4, 3], "int32"), v([4], "int32")], {})).toThrow("softmax_cross_entropy: expected floating-point logits, got int32[4,3]");
    expect(() => ops.softmax_cross_entropy_grad.infer([v([4, 3]), v([4], "int32"), v([1])], {})).toThrow(
      "softmax_cross_entropy_grad: expected a scalar float32 output gradient, got float32[1]",
    );
    const before = liveBytes();
    const x = valueFrom("float32", [2, 3], [1, 2, 3, 4, 5, 6]);
    const g = valueFrom("float32", [], [1]);
    for (const bad of [[1, 3], [-1, 0]]) {
      const labels = valueFrom("int32", [2], bad);
      const at = bad[0] < 0 ? 0 : 1;
      for (const reference of [false, true]) {
        expect(() => execute("softmax_cross_entropy", [x, labels], {}, { reference })).toThrow(
          `softmax_cross_entropy: label ${bad[at]} at index ${at} is out of range [0, 3)`,
        );
        expect(() => execute("softmax_cross_entropy_grad", [x, labels, g], {}, { reference })).toThrow(
          `softmax_cross_entropy_grad: label ${bad[at]} at index ${at} is out of range [0, 3)`,
        );
      }
      releaseValue(labels);
    }
    [x, g].forEach(releaseValue);
    expect(liveBytes()).toBe(before);
  });
  it("one_hot label out of range at run time", () => {
    const labels = valueFrom("int32", [2], [1, 7]);
    expect(() => execute("one_hot", [labels], { depth: 5, dtype: "float32" })).toThrow("one_hot: label 7 at index 1 is out of range [0, 5)");
    releaseValue(labels);
  });
});

describe("numerics", () => {
  it("log_softmax and logsumexp are stable for large and infinite inputs", () => {
    const x = valueFrom("float32", [1, 3], [1000, 1000, -Infinity]);
    const ls = execute("log_softmax", [x], { axis: -1 });
    expect(Array.from(ls.data)).toEqual([Math.fround(-Math.log(2)), Math.fround(-Math.log(2)), -Infinity]);
    const lse = execute("logsumexp", [x], { axes: [1], keepdims: false });
    expect(lse.data[0]).toBeCloseTo(1000 + Math.log(2), 3);
    const allNeg = valueFrom("float64", [2], [-Infinity, -Infinity]);
    const lse2 = execute("logsumexp", [allNeg], { axes: null, keepdims: false });
    expect(lse2.data[0]).toBe(-Infinity);
    [x, ls, lse, allNeg, lse2].forEach(releaseValue);
  });
  it("relu, max and argmax propagate NaN like PyTorch", () => {
    const x = valueFrom("float64", [4], [1, NaN, 3, -1]);
    const r = execute("relu", [x], {});
    expect(Array.from(r.data)).toEqual([1, NaN, 3, 0]);
    const m = execute("max", [x], { axes: null, keepdims: false });
    expect(m.data[0]).toBeNaN();
    const a = execute("argmax", [x], { axis: 0, keepdims: false });
    expect(a.data[0]).toBe(1);
    [x, r, m, a].forEach(releaseValue);
  });
  it("argmax returns the first of tied maxima", () => {
    const x = valueFrom("float32", [2, 3], [1, 5, 5, 7, 7, 2]);
    const a = execute("argmax", [x], { axis: 1, keepdims: false });
    expect(Array.from(a.data)).toEqual([1, 0]);
    [x, a].forEach(releaseValue);
  });
  it("matmul computes a known product, batched with broadcasting", () => {
    const a = valueFrom("float32", [2, 2, 3], [1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0]);
    const b = valueFrom("float32", [3, 2], [7, 8, 9, 10, 11, 12]);
    const c = execute("matmul", [a, b], { transA: false, transB: false });
    expect(c.shape).toEqual([2, 2, 2]);
    expect(Array.from(c.data)).toEqual([58, 64, 139, 154, 7, 8, 9, 10]);
    [a, b, c].forEach(releaseValue);
  });
  it("sum is deterministic and exact for small integers, and reductions over size-0 axes give identities", () => {
    const x = valueFrom("float32", [0, 3], []);
    const s = execute("sum", [x], { axes: [0], keepdims: false });
    expect(Array.from(s.data)).toEqual([0, 0, 0]);
    const m = execute("mean", [x], { axes: [0], keepdims: false });
    expect(Array.from(m.data).every(Number.isNaN)).toBe(true);
    [x, s, m].forEach(releaseValue);
  });
  it("cast float to int truncates toward zero", () => {
    const x = valueFrom("float32", [4], [1.7, -1.7, 0.2, -0.2]);
    const i = execute("cast", [x], { dtype: "int32" });
    expect(Array.from(i.data)).toEqual([1, -1, 0, 0]);
    [x, i].forEach(releaseValue);
  });
});

describe("VJP rules skip gradients nobody wants", () => {
  it("matmul and mul return null for an input that needs no gradient", () => {
    const e = new ValueEmitter();
    const aSource = valueFrom("float64", [2, 3], [1, 2, 3, 4, 5, 6]);
    const bSource = valueFrom("float64", [3, 1], [1, 0, -1]);
    const a = e.emit("cast", [aSource], { dtype: "float64" });
    const b = e.emit("cast", [bSource], { dtype: "float64" });
    const out = e.emit("matmul", [a, b], { transA: false, transB: false });
    const g = e.constant(1, "float64");
    const gb = e.emit("broadcast_to", [g], { shape: [2, 1] });
    const launches = e.created.length;
    const [da, db] = ops.matmul.vjp(e, [a, b], out, gb, { transA: false, transB: false }, [false, true]);
    expect(da).toBeNull();
    expect(Array.from(db!.data)).toEqual([5, 7, 9]);
    expect(e.created.length).toBe(launches + 1);
    const [ma, mb] = ops.mul.vjp(e, [a, a], a, a, {}, [true, false]);
    expect(ma).not.toBeNull();
    expect(mb).toBeNull();
    e.releaseAllExcept();
    releaseValue(aSource);
    releaseValue(bSource);
  });
});

describe("the rule table is total", () => {
  it("a table missing a primitive does not compile", () => {
    // @ts-expect-error: `exp` is missing, and the mapped type makes that a compile error.
    const partial: OpTable<"neg" | "exp"> = { neg: ops.neg };
    expect(partial.neg).toBe(ops.neg);
  });
});
