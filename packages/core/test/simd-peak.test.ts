import { describe, expect, it } from "vitest";
import { buildPeakModule, measureSimdPeak, peakFlopsPerCall, peakOpSupported, type PeakOp } from "../src/index.js";
import { wasmApi } from "../src/kernels/wasm/emitter.js";

/** The `run(iters)` export of a peak module. */
function peakRun(op: PeakOp, accumulators: number): (iters: number) => number {
  const api = wasmApi()!;
  return new api.Instance(new api.Module(buildPeakModule(op, accumulators))).exports.run as (iters: number) => number;
}

const describeSimd = peakOpSupported("mul+add") ? describe : describe.skip;

/** What `run(iters)` returns, computed in float32 arithmetic in JS: acc = fround(fround(acc*b) + c), lane sums. */
function expected(accumulators: number, iters: number): number {
  const b = Math.fround(0.9999), c = Math.fround(1e-4);
  let sum = Math.fround(0);
  for (let a = 0; a < accumulators; a++) {
    let x = Math.fround(1 + a / 64);
    for (let t = 0; t < iters * 4; t++) x = Math.fround(Math.fround(x * b) + c);
    sum = Math.fround(sum + x);
  }
  return sum;
}

describeSimd("the wasm-SIMD peak micro-benchmark", () => {
  it("its mul+add module computes the chains it claims to (a float32 lane, checked in JS)", () => {
    const run = peakRun("mul+add", 5);
    expect(run(37)).toBe(expected(5, 37));
    expect(run(0)).toBe(expected(5, 0));
  });
  it("relaxed_madd stays within float32 rounding of the same chains (where the engine has it)", () => {
    if (!peakOpSupported("relaxed_madd")) return;
    const run = peakRun("relaxed_madd", 5);
    expect(run(37)).toBeCloseTo(expected(5, 37), 4);
  });
  it("counts 4 lanes x 2 flops per accumulator per unrolled step", () => {
    expect(peakFlopsPerCall(12, 1000)).toBe(1000 * 4 * 12 * 8);
  });
  it.each(["mul+add", "relaxed_madd"] as PeakOp[])("%s gives a sane positive GFLOP/s on 1 and 2 threads", async (op) => {
    if (!peakOpSupported(op)) return;
    for (const threads of [1, 2]) {
      const p = await measureSimdPeak({ op, threads, accumulators: [4, 8], samples: 2, callMs: 2 });
      expect(p.op).toBe(op);
      expect(p.threads).toBe(threads);
      expect([4, 8]).toContain(p.accumulators);
      // Sane, not timed: above 10 MFLOP/s (a scalar interpreter would still pass) and below 100 TFLOP/s.
      expect(p.gflops).toBeGreaterThan(0.01);
      expect(p.gflops).toBeLessThan(1e5);
    }
  });
  it("rejects a bad thread or accumulator count with a message naming it", async () => {
    await expect(measureSimdPeak({ op: "mul+add", threads: 0 })).rejects.toThrow(/threads must be a positive integer/);
    expect(() => buildPeakModule("mul+add", 0)).toThrow(/accumulators must be 1\.\.32/);
  });
});
