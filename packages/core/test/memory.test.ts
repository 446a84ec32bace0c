import { describe, expect, it } from "vitest";
import { Allocator, allocator, execute, releaseValue, sizeClass, statsDelta, valueFrom } from "../src/index.js";

describe("Allocator", () => {
  it("counts live and peak bytes and returns live bytes to zero after releasing everything", () => {
    const a = new Allocator();
    const x = a.alloc("float32", 10);
    const y = a.alloc("float64", 3);
    expect(a.stats()).toMatchObject({ liveBytes: 64, peakBytes: 64, liveBuffers: 2, allocations: 2, reuses: 0 });
    a.release(x);
    const z = a.alloc("int32", 2);
    expect(a.stats()).toMatchObject({ liveBytes: 32, peakBytes: 64, allocations: 3 });
    a.release(y);
    a.release(z);
    expect(a.stats()).toMatchObject({ liveBytes: 0, liveBuffers: 0, releases: 3, peakBytes: 64 });
  });

  it("pools freed blocks by size class and reuses them", () => {
    const a = new Allocator();
    const x = a.alloc("float32", 1000);
    a.release(x);
    expect(a.stats().pooledBytes).toBe(sizeClass(4000));
    const y = a.alloc("float32", 990); // same size class
    expect(a.stats().reuses).toBe(1);
    expect(a.stats().pooledBytes).toBe(0);
    expect(y.data.length).toBe(990);
    a.release(y);
  });

  it("zeroes reused blocks on request", () => {
    const a = new Allocator();
    const x = a.alloc("float64", 8);
    x.data.fill(7);
    a.release(x);
    const y = a.alloc("float64", 8, true);
    expect(Array.from(y.data)).toEqual(new Array(8).fill(0));
  });

  it("rejects double release and bad sizes", () => {
    const a = new Allocator();
    const x = a.alloc("float32", 4);
    a.release(x);
    expect(() => a.release(x)).toThrow(/already released/);
    expect(() => a.alloc("float32", -1)).toThrow(/non-negative integer/);
    expect(() => a.alloc("float32", 1.5)).toThrow(/non-negative integer/);
  });

  it("resetCounters starts a new window but keeps live bytes", () => {
    const a = new Allocator();
    const x = a.alloc("float32", 100);
    const y = a.alloc("float32", 100);
    a.release(y);
    a.countLaunch(3);
    a.resetCounters();
    expect(a.stats()).toMatchObject({ liveBytes: 400, peakBytes: 400, allocations: 0, kernelLaunches: 0, releases: 0 });
    a.release(x);
  });

  it("does not pool beyond its limit", () => {
    const a = new Allocator(1024);
    const x = a.alloc("float32", 1000);
    a.release(x);
    expect(a.stats().pooledBytes).toBe(0);
    expect(a.stats().reservedBytes).toBe(0);
  });

  it("size classes waste at most a quarter", () => {
    for (const b of [1, 63, 64, 65, 100, 1000, 4097, 1 << 20, (1 << 20) + 1]) {
      const c = sizeClass(b);
      expect(c).toBeGreaterThanOrEqual(b);
      expect(c).toBeLessThanOrEqual(Math.max(64, b * 1.25 + 1));
    }
  });

  it("every executed op counts one launch and one allocation on the shared allocator", () => {
    const before = allocator.stats();
    const x = valueFrom("float32", [4], [1, 2, 3, 4]);
    const y = execute("exp", [x], {});
    const d = statsDelta(before, allocator.stats());
    expect(d.kernelLaunches).toBe(1);
    expect(d.allocations).toBe(2);
    expect(d.liveBytes).toBe(32);
    releaseValue(x);
    releaseValue(y);
    expect(allocator.stats().liveBytes).toBe(before.liveBytes);
  });

  it("a failing kernel releases its output", () => {
    const before = allocator.stats().liveBytes;
    const labels = valueFrom("int32", [1], [9]);
    expect(() => execute("one_hot", [labels], { depth: 3, dtype: "float32" })).toThrow();
    releaseValue(labels);
    expect(allocator.stats().liveBytes).toBe(before);
  });
});
