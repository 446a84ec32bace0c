import { describe, expect, it } from "vitest";
import { ProfileRecorder, execute, kernelFlops, releaseValue, setProfiler, valueFrom, type Attrs } from "../src/index.js";

const conv = (stride = 1, padding = 0, dilation = 1): Attrs["conv2d"] => ({ stride: [stride, stride], padding: [padding, padding], dilation: [dilation, dilation] });

describe("kernelFlops", () => {
  it("matmul counts 2*m*n*k with k the contracted dimension of op(A), per batch entry", () => {
    // [3,5] @ [5,7]: m=3, n=7, k=5
    expect(kernelFlops("matmul", [[3, 5], [5, 7]], [3, 7], { transA: false, transB: false })).toBe(2 * 3 * 7 * 5);
    // A stored [5,3], transA: op(A) = [3,5], k=5
    expect(kernelFlops("matmul", [[5, 3], [5, 7]], [3, 7], { transA: true, transB: false })).toBe(2 * 3 * 7 * 5);
    // B stored [7,5], transB: k still 5 (A's last)
    expect(kernelFlops("matmul", [[3, 5], [7, 5]], [3, 7], { transA: false, transB: true })).toBe(2 * 3 * 7 * 5);
    // batched, broadcast B: 4 products
    expect(kernelFlops("matmul", [[4, 3, 5], [5, 7]], [4, 3, 7], { transA: false, transB: false })).toBe(4 * 2 * 3 * 7 * 5);
  });
  it("the convolutions count 2*B*K*OH*OW*C*kh*kw, gradients exactly as many as the forward", () => {
    // x [2,3,9,9], w [4,3,3,3], stride 2, padding 1: OH = OW = 5
    const fwd = 2 * 2 * 4 * 5 * 5 * 3 * 3 * 3;
    expect(kernelFlops("conv2d", [[2, 3, 9, 9], [4, 3, 3, 3]], [2, 4, 5, 5], conv(2, 1))).toBe(fwd);
    expect(kernelFlops("conv2d_grad_input", [[2, 4, 5, 5], [4, 3, 3, 3]], [2, 3, 9, 9], { ...conv(2, 1), inputShape: [2, 3, 9, 9] })).toBe(fwd);
    expect(kernelFlops("conv2d_grad_weight", [[2, 3, 9, 9], [2, 4, 5, 5]], [4, 3, 3, 3], { ...conv(2, 1), weightShape: [4, 3, 3, 3] })).toBe(fwd);
  });
  it("other ops (and plan steps that are not primitives) count 0", () => {
    expect(kernelFlops("add", [[3, 5], [3, 5]], [3, 5], {})).toBe(0);
    expect(kernelFlops("fused(mul→sub)", [[3]], [3], {})).toBe(0);
  });
  it("an eager launch records its flops on the kernel span", () => {
    const rec = new ProfileRecorder();
    const a = valueFrom("float32", [2, 3], [1, 2, 3, 4, 5, 6]);
    const b = valueFrom("float32", [4, 3], new Float32Array(12));
    const prev = setProfiler(rec);
    try {
      releaseValue(execute("matmul", [a, b], { transA: false, transB: true }));
      releaseValue(execute("add", [a, a], {}));
    } finally {
      setProfiler(prev);
    }
    [a, b].forEach(releaseValue);
    const kernels = rec.spans.filter((s) => s.cat === "kernel");
    expect(kernels.map((s) => [s.name, s.flops])).toEqual([["matmul", 2 * 2 * 4 * 3], ["add", 0]]);
  });
});
