/**
 * Where sharing a float32 matmul with a second thread starts to pay: the wasm gemm on one thread
 * against two (forced, whatever the size) for the products the reference workloads run and a
 * ladder of sizes around the parallel threshold (gemm-wasm's `parallelThreshold`, in m*n*k).
 * One and two threads alternate round by round (A/B interleaved, each round's median kept, then
 * the median over rounds), so a neighbour's load hits both alike; the ratio is what to read.
 *
 * Run after a build: `node packages/core/dist/bench/gemm-threads.js` (Node 20: add
 * `--experimental-wasm-relaxed-simd` to measure the fused multiply-add kernel the CLI runs).
 */
import { pathToFileURL } from "node:url";
import { getThreads, matmulPath, setBackend, setThreads, warmUpThreads, wasmAvailable } from "../kernels/backend.js";
import { gemmWasm, getParallelThreshold, setParallelThreshold } from "../kernels/wasm/gemm-wasm.js";
import { medianSecondsPerCall, type SamplingOptions } from "./median-time.js";

/** One product: its shape and the median ms per call on one thread and on two. */
export interface ThreadCase {
  m: number;
  n: number;
  k: number;
  ms1: number;
  ms2: number;
}

/** Short samples: the products range from microseconds to milliseconds. */
const SAMPLING: SamplingOptions = { warmMinMs: 20, warmMsPerSecond: 100, sampleMs: 5, minSamples: 3 };

/** The products of the mlp (batch 128) and cnn (batch 64; its linear layer and conv im2col gemms), then a ladder of squares. */
export const THREAD_SHAPES: readonly (readonly [number, number, number])[] = [
  [128, 256, 784], [256, 784, 128], [128, 784, 256], [128, 256, 256], [256, 256, 128], [128, 10, 256], [10, 256, 128],
  [64, 10, 784], [784, 10, 64], [64, 784, 10], [8, 50176, 9], [16, 12544, 72], [72, 12544, 16],
  [32, 32, 32], [48, 48, 48], [64, 64, 64], [80, 80, 80], [96, 96, 96], [128, 128, 128], [192, 192, 192],
];

/**
 * Measures each shape (`C[m,n] = A[m,k] @ B[k,n]`) on one thread and on two, `rounds` times
 * interleaved; restores the thread count and threshold afterwards.
 */
export async function measureGemmThreads(rounds = 5, secondsPerSample = 0.05): Promise<ThreadCase[]> {
  const saved = { threads: getThreads(), threshold: getParallelThreshold() };
  setBackend("wasm");
  setThreads(2);
  await warmUpThreads();
  const out: ThreadCase[] = [];
  try {
    for (const [m, n, k] of THREAD_SHAPES) {
      const a = new Float32Array(m * k).fill(0.5);
      const b = new Float32Array(k * n).fill(0.25);
      const c = new Float32Array(m * n);
      const run = () => gemmWasm(m, n, k, a, 0, false, b, 0, false, c, 0);
      const t1: number[] = [];
      const t2: number[] = [];
      for (let r = 0; r < rounds; r++) {
        setThreads(1);
        t1.push(medianSecondsPerCall(run, secondsPerSample, SAMPLING));
        setThreads(2);
        setParallelThreshold(0); // share every product, to see what it would cost or gain
        t2.push(medianSecondsPerCall(run, secondsPerSample, SAMPLING));
        setParallelThreshold(saved.threshold);
      }
      out.push({ m, n, k, ms1: median(t1) * 1e3, ms2: median(t2) * 1e3 });
    }
  } finally {
    setThreads(saved.threads);
    setParallelThreshold(saved.threshold);
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[s.length >> 1];
}

/** The table as printed lines: `128x784 @ 784x256 (m*n*k 25.7e6): 1 thread 1.20 ms, 2 threads 0.70 ms, x1.71`. */
export function formatGemmThreads(cases: readonly ThreadCase[], threshold: number): string {
  return cases
    .map(({ m, n, k, ms1, ms2 }) => {
      const work = m * n * k;
      const shared = work >= threshold ? "shared" : "one thread";
      return `${m}x${k} @ ${k}x${n} (m*n*k ${(work / 1e6).toFixed(2)}e6, now ${shared}): 1 thread ${ms1.toFixed(3)} ms, 2 threads ${ms2.toFixed(3)} ms, x${(ms1 / ms2).toFixed(2)}`;
    })
    .join("\n");
}

// Print the table when run as a script (not when imported).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!wasmAvailable()) {
    console.log("this engine has no WebAssembly SIMD: nothing to measure");
  } else {
    console.log(`${matmulPath()}; parallel threshold m*n*k >= ${getParallelThreshold()}`);
    console.log(formatGemmThreads(await measureGemmThreads(), getParallelThreshold()));
  }
}
