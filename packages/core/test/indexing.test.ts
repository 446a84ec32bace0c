import { describe, expect, it } from "vitest";
import {
  DTypeError, ShapeError, composites, execute, ops, promoteTypes, releaseValue, resultType, valueFrom, type DType, type Prim, type Value,
} from "../src/index.js";
import { liveBytes } from "./helpers.js";

/**
 * The indexing and joining primitives on known values (the op table checks fast against
 * reference kernels and VJPs against finite differences; this checks both against hand-worked
 * results), their errors, the split/stack shape helpers, and type promotion.
 */

/** Runs `prim` on both kernels and returns the fast result (after checking the reference agrees). */
function run(prim: Prim, inputs: Value[], attrs: object): number[] {
  const fast = execute(prim, inputs, attrs as never);
  const ref = execute(prim, inputs, attrs as never, { reference: true });
  try {
    expect(Array.from(ref.data)).toEqual(Array.from(fast.data));
    return Array.from(fast.data);
  } finally {
    releaseValue(fast);
    releaseValue(ref);
  }
}

const x43 = () => valueFrom("float64", [4, 3], [0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32]);
const ints = (shape: number[], v: number[]) => valueFrom("int32", shape, v);

describe("gather family on known values", () => {
  it("gather (index_select) along each axis, with repeats and 2-D indices", () => {
    const before = liveBytes();
    const x = x43();
    const i = ints([3], [3, 0, 3]);
    expect(run("gather", [x, i], { axis: 0 })).toEqual([30, 31, 32, 0, 1, 2, 30, 31, 32]);
    const j = ints([2, 2], [2, 0, 1, 1]);
    expect(run("gather", [x, j], { axis: -1 })).toEqual([2, 0, 1, 1, 12, 10, 11, 11, 22, 20, 21, 21, 32, 30, 31, 31]);
    expect(ops.gather.infer([x, j], { axis: 1 }).shape).toEqual([4, 2, 2]);
    [x, i, j].forEach(releaseValue);
    expect(liveBytes()).toBe(before);
  });
  it("index_add accumulates repeated rows (gather's VJP)", () => {
    const src = valueFrom("float64", [3, 2], [1, 2, 3, 4, 5, 6]);
    const i = ints([3], [2, 0, 2]);
    expect(run("index_add", [src, i], { axis: 0, size: 4 })).toEqual([3, 4, 0, 0, 6, 8, 0, 0]);
    [src, i].forEach(releaseValue);
  });
  it("take_along_axis (torch.gather) and scatter_add", () => {
    const x = x43();
    const i = ints([4, 2], [2, 2, 0, 1, 1, 0, 2, 0]);
    expect(run("take_along_axis", [x, i], { axis: 1 })).toEqual([2, 2, 10, 11, 21, 20, 32, 30]);
    const src = valueFrom("float64", [4, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(run("scatter_add", [src, i], { axis: 1, size: 3 })).toEqual([0, 0, 3, 3, 4, 0, 6, 5, 0, 8, 0, 7]);
    [x, i, src].forEach(releaseValue);
  });
  it("concat of three inputs along each axis", () => {
    const a = valueFrom("float32", [2, 1], [1, 2]);
    const b = valueFrom("float32", [2, 2], [3, 4, 5, 6]);
    expect(run("concat", [a, b, a], { axis: 1 })).toEqual([1, 3, 4, 1, 2, 5, 6, 2]);
    expect(run("concat", [b, b], { axis: 0 })).toEqual([3, 4, 5, 6, 3, 4, 5, 6]);
    [a, b].forEach(releaseValue);
  });
});

describe("indexing errors", () => {
  it("an out-of-range index names the op, the index, the axis and its size, from both kernels, and leaks nothing", () => {
    const before = liveBytes();
    const x = x43();
    for (const [prim, idx, attrs, msg] of [
      ["gather", ints([2], [1, 4]), { axis: 0 }, "gather: index 4 (at position 1 of the indices) is out of range for axis 0 of size 4"],
      ["gather", ints([1], [-1]), { axis: 1 }, "gather: index -1 (at position 0 of the indices) is out of range for axis 1 of size 3"],
      ["take_along_axis", ints([4, 1], [0, 0, 3, 0]), { axis: 1 }, "take_along_axis: index 3 (at position 2 of the indices) is out of range for axis 1 of size 3"],
    ] as [Prim, Value, object, string][]) {
      expect(() => execute(prim, [x, idx], attrs as never)).toThrow(msg);
      expect(() => execute(prim, [x, idx], attrs as never, { reference: true })).toThrow(msg);
      releaseValue(idx);
    }
    const src = valueFrom("float32", [2], [1, 2]);
    const bad = ints([2], [0, 5]);
    expect(() => execute("index_add", [src, bad], { axis: 0, size: 5 })).toThrow("index_add: index 5 (at position 1 of the indices) is out of range for axis 0 of size 5");
    expect(() => execute("scatter_add", [src, bad], { axis: 0, size: 2 })).toThrow(/scatter_add: index 5 .* axis 0 of size 2/);
    [x, src, bad].forEach(releaseValue);
    expect(liveBytes()).toBe(before);
  });
  it("shape and dtype errors at abstract evaluation", () => {
    const m = (shape: number[], dtype: DType = "float32") => ({ shape, dtype });
    expect(() => ops.gather.infer([m([3]), m([2], "float32")], { axis: 0 })).toThrow(DTypeError);
    expect(() => ops.gather.infer([m([3]), m([2], "float32")], { axis: 0 })).toThrow("gather: indices must be int32, got float32[2]");
    expect(() => ops.gather.infer([m([]), m([2], "int32")], { axis: 0 })).toThrow("gather: expected a tensor of rank >= 1, got float32[]");
    expect(() => ops.gather.infer([m([3]), m([2], "int32")], { axis: 1 })).toThrow(/gather: axis 1 is out of range for rank 1/);
    expect(() => ops.take_along_axis.infer([m([4, 3]), m([3, 2], "int32")], { axis: 1 })).toThrow(
      "take_along_axis: indices [3,2] must have the shape of x [4,3] except along axis 1 (no broadcasting)",
    );
    expect(() => ops.concat.infer([m([2, 3]), m([3, 2])], { axis: 0 })).toThrow("concat: inputs float32[2,3], float32[3,2] must match in every dimension except axis 0");
    expect(() => ops.concat.infer([m([2]), m([2], "float64")], { axis: 0 })).toThrow(DTypeError);
    expect(() => ops.concat.infer([], { axis: 0 })).toThrow(ShapeError);
    expect(() => execute("concat", [], { axis: 0 })).toThrow("concat: expected at least 1 input, got 0");
  });
  it("dtype mixes no promotion reconciles are DTypeErrors, not ShapeErrors", () => {
    const m = (dtype: DType) => ({ shape: [2, 2], dtype });
    const err = (() => {
      try {
        ops.matmul.infer([m("float32"), m("float64")], { transA: false, transB: false });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DTypeError);
    expect(err).not.toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(/^matmul: expected two inputs of the same floating dtype, got float32\[2,2\] and float64\[2,2\]/);
    expect(() => ops.exp.infer([m("int32")], {})).toThrow(DTypeError);
    expect(() => ops.one_hot.infer([m("float32")], { depth: 3, dtype: "float32" })).toThrow(DTypeError);
  });
});

const { sizesByChunks, sizesByCount, sizesBySplitSize, sizesFromList, splitBounds, stackShape } = composites;

describe("split and stack shape helpers", () => {
  it("PyTorch split/chunk and TensorFlow split sizes", () => {
    expect(sizesBySplitSize("split", 7, 3)).toEqual([3, 3, 1]);
    expect(sizesBySplitSize("split", 0, 3)).toEqual([0]);
    expect(sizesByChunks("chunk", 7, 3)).toEqual([3, 3, 1]);
    expect(sizesByChunks("chunk", 6, 4)).toEqual([2, 2, 2]); // PyTorch returns fewer chunks too
    expect(sizesByCount("split", 6, 3)).toEqual([2, 2, 2]);
    expect(() => sizesByCount("split", 7, 3)).toThrow("split: cannot split an axis of size 7 into 3 equal pieces");
    expect(sizesFromList("split", 7, [2, -1, 1])).toEqual([2, 4, 1]);
    expect(() => sizesFromList("split", 7, [2, 3])).toThrow("split: sizes [2,3] do not add up to the axis size 7");
    expect(() => sizesBySplitSize("split", 7, 0)).toThrow(/split size must be a positive integer/);
  });
  it("splitBounds and stackShape", () => {
    expect(splitBounds("split", [2, 5], -1, (n: number) => sizesFromList("split", n, [2, 3]))).toEqual([
      { begin: [0, 0], end: [2, 2] }, { begin: [0, 2], end: [2, 5] },
    ]);
    expect(() => splitBounds("split", [], 0, () => [1])).toThrow("split: cannot split a rank-0 tensor");
    expect(stackShape("stack", [[2, 3], [2, 3]], -1)).toEqual({ shape: [2, 3, 1], axis: 2 });
    expect(stackShape("stack", [[1, 1]], 1)).toEqual({ shape: [1, 1, 1], axis: 1 });
    expect(() => stackShape("stack", [[2, 3], [3, 2]], 0)).toThrow("stack: all tensors must have the same shape, got [2,3], [3,2]");
  });
});

describe("type promotion (torch.result_type)", () => {
  it("promoteTypes", () => {
    expect(promoteTypes("int32", "float32")).toBe("float32");
    expect(promoteTypes("float32", "float64")).toBe("float64");
    expect(promoteTypes("float64", "int32")).toBe("float64");
    expect(promoteTypes("int32", "int32")).toBe("int32");
  });
  it("resultType with JS numbers as scalars", () => {
    expect(resultType(["int32", 0.5])).toBe("float32");
    expect(resultType(["int32", 2])).toBe("int32");
    expect(resultType(["int32", Number.NaN])).toBe("float32");
    expect(resultType(["float32", 0.1])).toBe("float32");
    expect(resultType(["float64", 1])).toBe("float64");
    expect(resultType(["int32", "float64", 0.5])).toBe("float64");
    expect(resultType([1, 2])).toBe("int32");
    expect(resultType([1, 2.5])).toBe("float32");
  });
});
