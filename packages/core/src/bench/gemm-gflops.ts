/**
 * GFLOP/s of the matmul kernels at the MLP benchmark size (a 128-sample batch of 784 MNIST
 * pixels times a 784x256 weight), forward and both backward orientations: the TypeScript kernels
 * on one thread, and the WebAssembly kernel (when the engine has SIMD) on one and on two threads.
 *
 * Run directly after a build to print the table: `node packages/core/dist/bench/gemm-gflops.js`
 * (Node 20: `node --experimental-wasm-relaxed-simd ...` for the fused multiply-add kernel the CLI
 * runs); wasm rows also show the fraction of this machine's wasm-SIMD peak on as many threads.
 */
import { pathToFileURL } from "node:url";
import { gemm, gemmReference } from "../kernels/gemm.js";
import { getThreads, relaxedSimdAvailable, setThreads, wasmAvailable } from "../kernels/backend.js";
import { gemmWasm } from "../kernels/wasm/gemm-wasm.js";
import { processSimdPeak } from "../kernels/wasm/simd-peak.js";
import { medianSecondsPerCall, type SamplingOptions } from "./median-time.js";

/** Samples of ~25 ms: one product takes about a millisecond. */
const GEMM_SAMPLING: SamplingOptions = { warmMinMs: 100, warmMsPerSecond: 200, sampleMs: 25, minSamples: 5 };

/** One measured case: a readable name and its median speed. */
export interface GemmGflops {
  /** E.g. `gemm f32 128x784 @ 784x256 (transB)`. */
  name: string;
  /** Median GFLOP/s over the timed samples, counting 2*m*n*k flops per call. */
  gflops: number;
  /** Threads the wasm kernel could use (wasm cases only), for the fraction of peak. */
  threads?: number;
}

/** Options for {@link measureGemmGflops}. */
export interface MeasureOptions {
  /** Seconds of timed runs per case after warm-up (default 0.5). */
  minSeconds?: number;
}

type FloatArray = Float32Array | Float64Array;
type GemmFn = typeof gemm;

/**
 * The plainest possible float32 matmul, `C = A @ B` with row-major A [m,k], B [k,n], C [m,n]:
 * the i-j-p loop with no packing or tiling — the baseline the fast kernel is compared against.
 */
export function naiveGemmF32(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += a[i * k + p] * b[p * n + j];
      c[i * n + j] = acc;
    }
  }
}

/** Deterministic inputs in [-1, 1) (a fixed LCG; the values do not matter for speed, only that they are normal numbers). */
function fill<T extends FloatArray>(x: T, seed: number): T {
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2147483648 - 1;
  }
  return x;
}

/**
 * Measures the matmul kernels on 128x784 @ 784x256 and returns GFLOP/s per case (median of
 * repeated timed samples, at least `minSeconds` per case after warm-up; about 7 s in all by default):
 * `gemm` float32 plain, with A stored transposed (the dW = X^T G orientation) and with B stored
 * transposed (dX = G W^T), `gemm` float64, `gemmReference` float32 and a naive i-j-p loop; then,
 * where WebAssembly SIMD is available, `gemmWasm` float32 in the same three orientations on one
 * thread and on two (the caller plus one worker; the worker starts during the first case's warm-up).
 * The thread count set by `setThreads` is restored afterwards.
 */
export function measureGemmGflops(options: MeasureOptions = {}): GemmGflops[] {
  const minSeconds = options.minSeconds ?? 0.5;
  const m = 128, k = 784, n = 256;
  const flops = 2 * m * n * k;
  const shape = `${m}x${k} @ ${k}x${n}`;
  const a32 = fill(new Float32Array(m * k), 1);
  const b32 = fill(new Float32Array(k * n), 2);
  const c32 = new Float32Array(m * n);
  const a64 = Float64Array.from(a32);
  const b64 = Float64Array.from(b32);
  const c64 = new Float64Array(m * n);
  // Same sizes, stored the other way round; the values differ, which does not matter for timing.
  const aT = a32; // read as [k,m] when transA
  const bT = b32; // read as [n,k] when transB
  const gemmCase = (g: GemmFn, a: FloatArray, tA: boolean, b: FloatArray, tB: boolean, c: FloatArray) => () =>
    g(m, n, k, a, 0, tA, b, 0, tB, c, 0);
  const cases: [string, () => void][] = [
    [`gemm f32 ${shape}`, gemmCase(gemm, a32, false, b32, false, c32)],
    [`gemm f32 ${shape} (transA: A stored ${k}x${m})`, gemmCase(gemm, aT, true, b32, false, c32)],
    [`gemm f32 ${shape} (transB: B stored ${n}x${k})`, gemmCase(gemm, a32, false, bT, true, c32)],
    [`gemm f64 ${shape}`, gemmCase(gemm, a64, false, b64, false, c64)],
    [`gemmReference f32 ${shape}`, gemmCase(gemmReference, a32, false, b32, false, c32)],
    [`naive i-j-p f32 ${shape}`, () => naiveGemmF32(m, n, k, a32, b32, c32)],
  ];
  const results: GemmGflops[] = cases.map(([name, run]) => ({ name, gflops: flops / medianSecondsPerCall(run, minSeconds, GEMM_SAMPLING) / 1e9 }));
  if (wasmAvailable()) {
    const fma = relaxedSimdAvailable() ? "relaxed_madd" : "mul+add";
    const saved = getThreads();
    try {
      for (const threads of [1, 2]) {
        setThreads(threads);
        const label = `${threads} thread${threads > 1 ? "s" : ""}, ${fma}`;
        const wasmCases: [string, () => void][] = [
          [`gemmWasm f32 ${shape} (${label})`, gemmCase(gemmWasm, a32, false, b32, false, c32)],
          [`gemmWasm f32 ${shape} (transA, ${label})`, gemmCase(gemmWasm, aT, true, b32, false, c32)],
          [`gemmWasm f32 ${shape} (transB, ${label})`, gemmCase(gemmWasm, a32, false, bT, true, c32)],
        ];
        for (const [name, run] of wasmCases) results.push({ name, gflops: flops / medianSecondsPerCall(run, minSeconds, GEMM_SAMPLING) / 1e9, threads });
      }
    } finally {
      setThreads(saved);
    }
  }
  return results;
}

/**
 * The table as printed lines: `gemm f32 128x784 @ 784x256: 5.3 GFLOP/s`; a wasm case also gets
 * its fraction of `peaks` (GFLOP/s by thread count, see ../kernels/wasm/simd-peak.ts) when given.
 */
export function formatGemmGflops(results: readonly GemmGflops[], peaks?: ReadonlyMap<number, number>): string {
  const pct = (r: GemmGflops) => {
    const peak = r.threads === undefined ? undefined : peaks?.get(r.threads);
    return peak ? `, ${((100 * r.gflops) / peak).toFixed(1)}% of peak` : "";
  };
  return results.map((r) => `${r.name}: ${r.gflops.toFixed(2)} GFLOP/s${pct(r)}`).join("\n");
}

// Print the table when run as a script (not when imported).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const peaks = new Map<number, number>();
  if (wasmAvailable()) for (const t of [1, 2]) peaks.set(t, (await processSimdPeak(t))!.gflops);
  console.log(formatGemmGflops(measureGemmGflops(), peaks));
}
