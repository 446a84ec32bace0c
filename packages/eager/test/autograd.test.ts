import { describe, expect, it } from "vitest";
import {
  Tensor, arange, detectAnomaly, memory, noGrad, ones, tensor, tidy, zeros, randn, PhiloxGenerator,
} from "../src/index.js";

const arr = (t: Tensor) => Array.from(t.data);

/** A test whose tensors are all released at its end (the shared leak hook checks that). */
const tidyIt = (name: string, fn: () => void) => it(name, () => tidy(fn));

describe("tensors", () => {
  tidyIt("factories, shape, dtype, item, toArray", () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("float32");
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor(7).item()).toBe(7);
    expect(tensor(new Float64Array([1, 2])).dtype).toBe("float64");
    expect(tensor([1, 2, 3, 4], { shape: [2, 2], dtype: "int32" }).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(zeros([2]).toArray()).toEqual([0, 0]);
    expect(ones([0, 3]).shape).toEqual([0, 3]);
    const a = randn([3], { generator: new PhiloxGenerator(5) });
    const b = randn([3], { generator: new PhiloxGenerator(5) });
    expect(arr(a)).toEqual(arr(b));
  });
  tidyIt("clear errors for bad input", () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/tensor: ragged nested array at \[1\]/);
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(/3 values do not fill shape \[2,2\]/);
    expect(() => tensor([1, 2]).item()).toThrow(/item: only one element tensors/);
    expect(() => tensor([1], { dtype: "int32", requiresGrad: true })).toThrow(/only floating point tensors can require gradients/);
    expect(() => tensor([[1, 2, 3]]).matmul(tensor([[1, 2]]))).toThrow("matmul: cannot multiply [1,3] by [1,2] (inner dimensions 3 != 1)");
    expect(() => tensor([1, 2]).add(tensor([1, 2, 3]))).toThrow(/^add: cannot broadcast \[2\] and \[3\]/);
  });
  tidyIt("broadcasting, numbers and dtype promotion", () => {
    const a = tensor([[1], [2]]);
    expect(a.add(tensor([10, 20, 30])).toArray()).toEqual([[11, 21, 31], [12, 22, 32]]);
    expect(a.mul(2).toArray()).toEqual([[2], [4]]);
    const d = tensor([1], { dtype: "float64" });
    expect(tensor([0.5]).add(d).dtype).toBe("float64");
  });
  tidyIt("slice and pad, with gradients", () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
    const s = x.slice([0, 1], [2, 3]);
    expect(s.toArray()).toEqual([[2, 3], [5, 6]]);
    const p = s.pad([1, 0], [0, 1]);
    expect(p.toArray()).toEqual([[0, 0, 0], [2, 3, 0], [5, 6, 0]]);
    p.mul(tensor([[1, 1, 1], [1, 2, 1], [1, 3, 1]])).sum().backward();
    expect(x.grad!.toArray()).toEqual([[0, 1, 2], [0, 1, 3]]);
  });
  tidyIt("matmul with 1-D operands follows PyTorch", () => {
    const m = tensor([[1, 2], [3, 4]]);
    const v = tensor([1, 1]);
    expect(m.matmul(v).toArray()).toEqual([3, 7]);
    expect(v.matmul(m).toArray()).toEqual([4, 6]);
    expect(v.matmul(v).toArray()).toEqual(2);
  });
});

describe("autograd", () => {
  tidyIt("computes gradients and accumulates until zeroed", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    x.mul(x).sum().backward();
    expect(x.grad!.toArray()).toEqual([2, 4, 6]);
    x.mul(3).sum().backward();
    expect(x.grad!.toArray()).toEqual([5, 7, 9]);
    x.grad = null;
    x.sum().backward();
    expect(x.grad!.toArray()).toEqual([1, 1, 1]);
  });
  tidyIt("a tensor used twice gets both contributions", () => {
    const x = tensor(3, { requiresGrad: true });
    const y = x.add(x).mul(x); // 2x^2 -> 4x
    y.backward();
    expect(x.grad!.item()).toBe(12);
  });
  tidyIt("backward(gradient) for non-scalars, and errors like PyTorch", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(x);
    expect(() => y.backward()).toThrow(/grad can be implicitly created only for scalar outputs/);
    y.backward(tensor([1, 0.5]));
    expect(x.grad!.toArray()).toEqual([2, 2]);
    expect(() => tensor([1, 2]).sum().backward()).toThrow(/does not require grad/);
    expect(() => tensor([1, 2], { dtype: "int32" }).sum().backward()).toThrow(/backward: only floating point tensors have gradients \(got an int32 tensor/);
    expect(() => y.backward(tensor([1, 1]))).toThrow(/backward through the graph a second time/);
  });
  tidyIt("retainGraph allows a second backward", () => {
    const x = tensor(2, { requiresGrad: true });
    const y = x.pow(3);
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(x.grad!.item()).toBe(24);
  });
  tidyIt("define-by-run: control flow that depends on tensor values", () => {
    // The number of layers applied depends on the data: the tape records whatever ran.
    const w = tensor(0.5, { requiresGrad: true });
    const forward = (x: Tensor) => {
      let h = x;
      let depth = 0;
      while (h.abs().item() > 0.1) {
        h = h.mul(w);
        depth++;
      }
      return { h, depth };
    };
    const a = forward(tensor(1));
    expect(a.depth).toBe(4); // 1 * 0.5^4 = 0.0625
    a.h.backward();
    expect(w.grad!.item()).toBeCloseTo(4 * 0.5 ** 3, 12);
    w.grad = null;
    const b = forward(tensor(0.3));
    expect(b.depth).toBe(2);
    b.h.backward();
    expect(w.grad!.item()).toBeCloseTo(0.3 * 2 * 0.5, 6);
  });
  tidyIt("noGrad, detach and requiresGrad_", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(arr(d)).toEqual([1, 2]);
    const z = tensor([1]).requiresGrad_();
    expect(z.requiresGrad).toBe(true);
    expect(x.mul(2).gradFn!.name).toBe("MulBackward");
  });
  tidyIt("in-place changes of a saved tensor make backward throw", () => {
    const w = tensor([1, 2], { requiresGrad: true });
    const x = tensor([3, 4]);
    const y = w.mul(x).sum();
    noGrad(() => x.add_(1));
    expect(() => y.backward()).toThrow(/modified by an inplace operation: \[float32 \[2\]\].*is at version 1; expected version 0/);
  });
  tidyIt("in-place on a leaf that requires grad is refused outside noGrad", () => {
    const w = tensor([1, 2], { requiresGrad: true });
    expect(() => w.sub_(1)).toThrow(/a leaf Variable that requires grad is being used in an in-place operation/);
    noGrad(() => w.sub_(1));
    expect(arr(w)).toEqual([0, 1]);
  });
  tidyIt("detectAnomaly names the op that produced NaN, forward and backward", () => {
    const x = tensor([-1, 2], { requiresGrad: true });
    expect(() => detectAnomaly(() => x.log())).toThrow(/detectAnomaly: log produced nan in the forward pass/);
    // sqrt(0) is finite forward, but its gradient 1/(2*0) is inf.
    const z = tensor([0, 1], { requiresGrad: true });
    expect(() => detectAnomaly(() => z.sqrt().sum().backward())).toThrow(/Function 'SqrtBackward' returned inf values/);
  });
  tidyIt("second-order gradients with createGraph", () => {
    const x = tensor(0.7, { dtype: "float64", requiresGrad: true });
    const y = x.tanh();
    y.backward(undefined, { createGraph: true });
    const g = x.grad!.clone(); // 1 - tanh^2, still connected to the graph
    x.grad = null; // frees the old gradient tensor
    g.backward();
    const t = Math.tanh(0.7);
    expect(x.grad!.item()).toBeCloseTo(-2 * t * (1 - t * t), 12);
  });
});

describe("memory is released deterministically", () => {
  it("tidy releases intermediates and keeps the result", () => {
    const before = memory().liveBytes;
    const x = tensor([1, 2, 3]);
    const r = tidy(() => x.mul(2).add(1).exp().sum());
    expect(memory().liveBytes).toBe(before + 12 + 4);
    r.dispose();
    x.dispose();
    expect(memory().liveBytes).toBe(before);
  });
  it("saved tensors are released once backward has used them", () => {
    const before = memory().liveBytes;
    const w = tensor([1, 2, 3], { requiresGrad: true });
    const loss = tidy(() => w.mul(w).tanh().sum()); // intermediates' handles are gone, the graph holds them
    const heldByGraph = memory().liveBytes;
    expect(heldByGraph).toBeGreaterThan(before + 12 + 4);
    loss.backward();
    loss.dispose();
    // Only w and w.grad remain.
    expect(memory().liveBytes).toBe(before + 12 + 12);
    w.dispose();
    expect(memory().liveBytes).toBe(before);
  });
  it("a graph that is never differentiated is freed when its tensors are disposed", () => {
    const before = memory().liveBytes;
    const w = tensor([1, 2, 3], { requiresGrad: true });
    tidy(() => {
      w.mul(2).exp().sum();
    });
    w.dispose();
    expect(memory().liveBytes).toBe(before);
  });
  it("using disposes at the end of a block", () => {
    const before = memory().liveBytes;
    {
      using t = tensor([1, 2]);
      expect(t.isDisposed).toBe(false);
    }
    expect(memory().liveBytes).toBe(before);
    const t = tensor([1]);
    t.dispose();
    expect(() => t.item()).toThrow(/was disposed/);
    expect(() => t.add(1)).toThrow(/add: input 0 \(float32\[1\]\) was disposed/);
  });
});
