import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ValueEmitter, composites as C, valueFrom, type DType, type Shape, type Value } from "../src/index.js";
import { liveBytes } from "./helpers.js";

/** Keras's cross-entropies of probabilities, on concrete values, against Keras's formulas written out in float64. */

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

function v(values: number[], shape: Shape, dtype: DType = "float64"): Value {
  const x = valueFrom(dtype, shape, values);
  e.created.push(x);
  return x;
}
const clip = (p: number) => Math.min(Math.max(p, C.KERAS_EPSILON), 1 - C.KERAS_EPSILON);

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
