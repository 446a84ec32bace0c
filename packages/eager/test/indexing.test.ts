import { describe, expect, it } from "vitest";
import { DTypeError, ShapeError } from "@dualgrad/core";
import { add, cat, chunk, indexSelect, memory, mul, split, stack, sum, takeAlongDim, tensor, tidy, type Tensor } from "../src/index.js";

/** The indexing and joining functions (PyTorch names) on known values, with their gradients and errors. */

const values = (t: Tensor) => Array.from(t.data);

describe("indexing and joining (eager)", () => {
  it("indexSelect reads rows by index, repeats included, and its gradient accumulates them", () => {
    const before = memory().liveBytes;
    tidy(() => {
      const x = tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true, dtype: "float64" });
      const i = tensor([2, 0, 2], { dtype: "int32" });
      const y = indexSelect(x, 0, i);
      expect(y.shape).toEqual([3, 2]);
      expect(values(y)).toEqual([5, 6, 1, 2, 5, 6]);
      mul(y, tensor([[1, 1], [1, 1], [10, 10]], { dtype: "float64" })).sum().backward();
      expect(values(x.grad!)).toEqual([1, 1, 0, 0, 11, 11]);
      expect(values(indexSelect(x, 1, tensor(1, { dtype: "int32" })))).toEqual([2, 4, 6]);
      expect(indexSelect(x, -1, tensor(1, { dtype: "int32" })).shape).toEqual([3, 1]);
      x.dispose();
    });
    expect(memory().liveBytes).toBe(before);
  });

  it("an out-of-range index is an error naming the op, the index and the axis size, and leaks nothing", () => {
    const before = memory().liveBytes;
    tidy(() => {
      const x = tensor([[1, 2], [3, 4]]);
      expect(() => indexSelect(x, 0, tensor([0, 2], { dtype: "int32" }))).toThrow(
        "gather: index 2 (at position 1 of the indices) is out of range for axis 0 of size 2",
      );
      expect(() => indexSelect(x, 1, tensor([-1], { dtype: "int32" }))).toThrow(/index -1 .* axis 1 of size 2/);
      expect(() => indexSelect(x, 0, tensor([0.5]))).toThrow(DTypeError);
      expect(() => indexSelect(x, 0, tensor([[0]], { dtype: "int32" }))).toThrow("indexSelect: index must be 1-D or 0-D, got [1,1]");
    });
    expect(memory().liveBytes).toBe(before);
  });

  it("takeAlongDim with a dim and flattened", () => {
    tidy(() => {
      const x = tensor([[10, 30, 20], [60, 40, 50]], { requiresGrad: true });
      const i = tensor([[1, 1], [0, 2]], { dtype: "int32" });
      expect(values(takeAlongDim(x, i, 1))).toEqual([30, 30, 60, 50]);
      expect(values(takeAlongDim(x, tensor([5, 0], { dtype: "int32" })))).toEqual([50, 10]);
      takeAlongDim(x, i, 1).sum().backward();
      expect(values(x.grad!)).toEqual([0, 2, 0, 1, 0, 1]);
      x.dispose();
    });
  });

  it("cat promotes dtypes and splits its gradient back; stack adds a dimension", () => {
    tidy(() => {
      const a = tensor([[1, 2]], { requiresGrad: true });
      const b = tensor([[3, 4], [5, 6]], { dtype: "int32" });
      const c = cat([a, b], 0);
      expect(c.dtype).toBe("float32");
      expect(c.shape).toEqual([3, 2]);
      expect(values(c)).toEqual([1, 2, 3, 4, 5, 6]);
      mul(c, tensor([[7, 8], [0, 0], [0, 0]])).sum().backward();
      expect(values(a.grad!)).toEqual([7, 8]);
      const s = stack([tensor([1, 2]), tensor([3, 4]), tensor([5, 6])], 1);
      expect(s.shape).toEqual([2, 3]);
      expect(values(s)).toEqual([1, 3, 5, 2, 4, 6]);
      expect(stack([tensor([1, 2])], -1).shape).toEqual([2, 1]);
      expect(() => cat([], 0)).toThrow("cat: expected a non-empty array of tensors");
      expect(() => stack([tensor([1, 2]), tensor([1, 2, 3])])).toThrow(ShapeError);
      a.dispose();
    });
  });

  it("split by size or sections and chunk, as PyTorch cuts them, with gradients", () => {
    tidy(() => {
      const x = tensor([0, 1, 2, 3, 4, 5, 6], { requiresGrad: true });
      expect(split(x, 3).map(values)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
      expect(split(x, [2, 5]).map(values)).toEqual([[0, 1], [2, 3, 4, 5, 6]]);
      expect(chunk(x, 3).map(values)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
      const m = tensor([[1, 2, 3, 4], [5, 6, 7, 8]]);
      expect(chunk(m, 2, 1).map((t) => t.shape)).toEqual([[2, 2], [2, 2]]);
      expect(() => split(x, [2, 2])).toThrow("split: sizes [2,2] do not add up to the axis size 7");
      // The Tensor methods are the same functions.
      expect(x.split(4).map(values)).toEqual([[0, 1, 2, 3], [4, 5, 6]]);
      expect(m.chunk(2, -1).map(values)).toEqual([[1, 2, 5, 6], [3, 4, 7, 8]]);
      expect(values(m.indexSelect(1, tensor([3, 0], { dtype: "int32" })))).toEqual([4, 1, 8, 5]);
      expect(values(m.takeAlongDim(tensor([[1], [0]], { dtype: "int32" }), 1))).toEqual([2, 5]);
      const [p, q] = split(x, [3, 4]);
      add(sum(p), mul(sum(q), 2)).backward();
      expect(values(x.grad!)).toEqual([1, 1, 1, 2, 2, 2, 2]);
      x.dispose();
    });
  });
});
