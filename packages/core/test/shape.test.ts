import { describe, expect, it } from "vitest";
import {
  broadcastShapes, broadcastStrides, coalesceDims, castInto, contiguousStrides, normalizeAxes, normalizeAxis, promoteTypes,
  reducedShape, resolveReshape, sizeOf,
} from "../src/index.js";

describe("shapes", () => {
  it("sizes and strides, scalars and size-0", () => {
    expect(sizeOf([])).toBe(1);
    expect(sizeOf([3, 0, 2])).toBe(0);
    expect(contiguousStrides([2, 3, 4])).toEqual([12, 4, 1]);
    expect(contiguousStrides([])).toEqual([]);
  });
  it("NumPy broadcasting", () => {
    expect(broadcastShapes("op", [2, 1], [1, 3])).toEqual([2, 3]);
    expect(broadcastShapes("op", [], [4])).toEqual([4]);
    expect(broadcastShapes("op", [0, 1], [1, 5])).toEqual([0, 5]);
    expect(broadcastShapes("op", [5, 1, 3], [4, 1])).toEqual([5, 4, 3]);
    expect(() => broadcastShapes("add", [2, 3], [3, 2])).toThrow("add: cannot broadcast [2,3] and [3,2] (dimension -2 is 2 vs 3)");
    expect(() => broadcastShapes("add", [0], [2])).toThrow(/add: cannot broadcast/);
  });
  it("broadcast strides are 0 on broadcast and missing dimensions", () => {
    expect(broadcastStrides([3], [2, 3])).toEqual([0, 1]);
    expect(broadcastStrides([2, 1], [2, 3])).toEqual([1, 0]);
  });
  it("axes", () => {
    expect(normalizeAxis("op", -1, 3)).toBe(2);
    expect(() => normalizeAxis("softmax", 3, 3)).toThrow("softmax: axis 3 is out of range for rank 3");
    expect(normalizeAxes("sum", [-1, 0], 3)).toEqual([0, 2]);
    expect(normalizeAxes("sum", null, 2)).toEqual([0, 1]);
    expect(() => normalizeAxes("sum", [0, -2], 2)).toThrow(/repeated axis/);
    expect(reducedShape([2, 3, 4], [1], true)).toEqual([2, 1, 4]);
    expect(reducedShape([2, 3, 4], [0, 2], false)).toEqual([3]);
  });
  it("reshape with -1", () => {
    expect(resolveReshape([2, 3], [-1])).toEqual([6]);
    expect(resolveReshape([2, 3], [3, -1])).toEqual([3, 2]);
    expect(resolveReshape([0, 3], [-1, 3])).toEqual([0, 3]);
    expect(() => resolveReshape([2, 3], [-1, -1])).toThrow(/only one dimension can be -1/);
    expect(() => resolveReshape([2, 3], [4, -1])).toThrow(/cannot reshape \[2,3\]/);
  });
});

describe("dtypes", () => {
  it("promotion and conversion", () => {
    expect(promoteTypes("int32", "float32")).toBe("float32");
    expect(promoteTypes("float64", "float32")).toBe("float64");
    const i = new Int32Array(3);
    castInto([2.9, -2.9, NaN], i);
    expect(Array.from(i)).toEqual([2, -2, 0]);
    const f = new Float32Array(1);
    castInto([0.1], f);
    expect(f[0]).toBe(Math.fround(0.1));
  });
});

describe("coalesceDims", () => {
  it("drops size-1 dimensions and merges dimensions every operand walks as one", () => {
    // [1024,1] + [1]: one flat loop; the broadcast operand keeps stride 0.
    expect(coalesceDims([1024, 1], [[1, 1], [0, 0]])).toEqual({ shape: [1024], strides: [[1], [0]] });
    // A bias [64] over [32,64] cannot merge (it restarts every row); a full operand alone can.
    expect(coalesceDims([32, 64], [[64, 1], [0, 1]])).toEqual({ shape: [32, 64], strides: [[64, 1], [0, 1]] });
    expect(coalesceDims([2, 3, 4], [[12, 4, 1]])).toEqual({ shape: [24], strides: [[1]] });
    // A broadcast run merges: [2,3,4] reading [2,1,1] has strides [1,0,0] -> [2, 12] with [1, 0].
    expect(coalesceDims([2, 3, 4], [[12, 4, 1], [1, 0, 0]])).toEqual({ shape: [2, 12], strides: [[12, 1], [1, 0]] });
    expect(coalesceDims([], [[]])).toEqual({ shape: [1], strides: [[0]] });
    expect(coalesceDims([1, 1], [[1, 1]])).toEqual({ shape: [1], strides: [[0]] });
    expect(coalesceDims([3, 0], [[0, 1]])).toEqual({ shape: [0], strides: [[1]] }); // still no elements
  });
});
