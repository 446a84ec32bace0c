import { describe, expect, it } from "vitest";
import { allocator, heapByteOffset, wasmAvailable } from "@dualgrad/core";
import { DeviceTensor, fn, put, tensor, type HostTensor, type SymbolicTensor } from "../src/index.js";

describe("DeviceTensor (put)", () => {
  it("holds a copy in core's allocator, is read in place by compiled functions, and is released by dispose", () => {
    const before = allocator.stats().liveBytes;
    const host = tensor([[1, 2], [3, 4]]);
    const x = put(host);
    expect(allocator.stats().liveBytes - before).toBe(16);
    if (wasmAvailable()) expect(heapByteOffset(x.data)).toBeGreaterThanOrEqual(0);
    host.data[0] = 100; // a copy: the host tensor is independent
    const double = fn<HostTensor>((t: SymbolicTensor) => t.mul(2));
    expect(Array.from(double(x).data)).toEqual([2, 4, 6, 8]);
    x.data[3] = 10; // read in place at each call, not captured at trace time
    expect(Array.from(double(x).data)).toEqual([2, 4, 6, 20]);
    double.dispose();
    x.dispose();
    x.dispose(); // idempotent
    expect(x.disposed).toBe(true);
    expect(() => x.data).toThrow(/after dispose/);
    expect(allocator.stats().liveBytes).toBe(before);
  });

  it("gives the same bits as a HostTensor input (kernels choose their path by shape, not by where the data lives)", () => {
    const values = Float32Array.from({ length: 32 * 64 }, (_, i) => Math.sin(i) * 3);
    const host = tensor(values, [32, 64]);
    const x = put(host);
    const f = fn<HostTensor>((t: SymbolicTensor) => t.tanh().mul(t.exp()).sum({ axis: 0 }));
    expect(Array.from(f(x).data)).toEqual(Array.from(f(host).data));
    f.dispose();
    x.dispose();
  });

  it("checks that the values fill the shape, and leaks nothing when they do not", () => {
    const before = allocator.stats().liveBytes;
    expect(() => new DeviceTensor([2, 2], "float32", [1, 2, 3])).toThrow(/3 values do not fill shape \[2,2\]/);
    expect(allocator.stats().liveBytes).toBe(before);
  });
});
