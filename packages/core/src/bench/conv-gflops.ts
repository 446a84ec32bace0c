/**
 * GFLOP/s of the convolution kernels at the `cnn` workload's shapes (a 64-image MNIST batch):
 * conv1 1->8 channels on 28x28 and conv2 8->16 on 14x14, both 3x3 with padding 1, forward and
 * both gradients, on the TypeScript backend (one thread) and, where the engine has SIMD, the wasm
 * backend on one and two threads; plus ms per call of the 2x2 max pooling and its gradient.
 * Flops count 2 * B * K * OH * OW * C * kh * kw per convolution call (the useful multiply-adds,
 * not the zeros im2col copies for the padding; core's kernelFlops). Each wasm GFLOP/s is also
 * shown as a fraction of this machine's wasm-SIMD peak on as many threads, for the multiply-add
 * the matmul uses (../kernels/wasm/simd-peak.ts, docs/PERFORMANCE.md).
 *
 * Run directly after a build to print the table: `node packages/core/dist/bench/conv-gflops.js`
 * (Node 20: `node --experimental-wasm-relaxed-simd ...` for the fused multiply-add path).
 */
import { pathToFileURL } from "node:url";
import { execute, releaseValue, valueFrom } from "../execute.js";
import { getBackend, getThreads, matmulPath, setBackend, setThreads, wasmAvailable, type Backend } from "../kernels/backend.js";
import { kernelFlops } from "../kernel-flops.js";
import { processSimdPeak } from "../kernels/wasm/simd-peak.js";
import type { Attrs, Prim } from "../ops/prim.js";
import { PhiloxGenerator } from "../random/philox.js";
import { medianSecondsPerCall, type SamplingOptions } from "./median-time.js";

/** Samples of ~25 ms (a call takes about a millisecond). */
const SAMPLING: SamplingOptions = { warmMinMs: 100, warmMsPerSecond: 200, sampleMs: 25, minSamples: 5 };

/** One measured case: its name, median ms per call and (for convolutions) GFLOP/s. */
export interface ConvGflops {
  name: string;
  ms: number;
  gflops: number | null;
  /** gflops over the wasm-SIMD peak on the same thread count (wasm convolutions only), else null. */
  peakFraction: number | null;
}

interface Case {
  name: string;
  prim: Prim;
  shapes: number[][];
  attrs: Attrs[Prim];
  flops: number;
}

function cases(): Case[] {
  const conv = { stride: [1, 1], padding: [1, 1], dilation: [1, 1] };
  const pool = { kernel: [2, 2], stride: [2, 2], padding: [0, 0] };
  const out: Case[] = [];
  for (const [tag, B, C, H, K] of [["conv1", 64, 1, 28, 8], ["conv2", 64, 8, 14, 16]] as [string, number, number, number, number][]) {
    const x = [B, C, H, H];
    const w = [K, C, 3, 3];
    const y = [B, K, H, H];
    const flops = kernelFlops("conv2d", [x, w], y, conv); // 2 * B * K * H * H * C * 9, the same for both gradients
    out.push({ name: `${tag} forward ${C}->${K} ${H}x${H}`, prim: "conv2d", shapes: [x, w], attrs: conv, flops });
    out.push({ name: `${tag} weight grad`, prim: "conv2d_grad_weight", shapes: [x, y], attrs: { ...conv, weightShape: w }, flops });
    out.push({ name: `${tag} input grad`, prim: "conv2d_grad_input", shapes: [y, w], attrs: { ...conv, inputShape: x }, flops });
  }
  out.push({ name: "max_pool2d 2x2 [64,8,28,28]", prim: "max_pool2d", shapes: [[64, 8, 28, 28]], attrs: pool, flops: 0 });
  out.push({ name: "max_pool2d grad", prim: "max_pool2d_grad", shapes: [[64, 8, 28, 28], [64, 8, 14, 14]], attrs: pool, flops: 0 });
  return out;
}

/**
 * Measures every case on each backend (and thread count) available; restores the backend and
 * threads. The wasm-SIMD peaks for "% of peak" are measured first (about 0.1 s per thread count).
 */
export async function measureConvGflops(options: { minSeconds?: number } = {}): Promise<ConvGflops[]> {
  const minSeconds = options.minSeconds ?? 0.5;
  const gen = new PhiloxGenerator(1);
  const saved = { backend: getBackend(), threads: getThreads() };
  const runs: [Backend, number][] = [["js", 1]];
  if (wasmAvailable()) runs.push(["wasm", 1], ["wasm", 2]);
  const results: ConvGflops[] = [];
  const peaks = new Map<number, number>();
  if (wasmAvailable()) for (const t of [1, 2]) peaks.set(t, (await processSimdPeak(t))!.gflops);
  try {
    for (const [backend, threads] of runs) {
      setBackend(backend);
      setThreads(threads);
      for (const k of cases()) {
        const inputs = k.shapes.map((s) => {
          const v = new Float32Array(s.reduce((a, b) => a * b, 1));
          gen.fillUniform(v, -1, 1);
          return valueFrom("float32", s, v);
        });
        const seconds = medianSecondsPerCall(() => releaseValue(execute(k.prim, inputs, k.attrs as never)), minSeconds, SAMPLING);
        inputs.forEach(releaseValue);
        const gflops = k.flops ? k.flops / seconds / 1e9 : null;
        const peak = backend === "wasm" ? peaks.get(threads) : undefined;
        results.push({ name: `${k.name} (${backend}, ${threads} thread${threads > 1 ? "s" : ""})`, ms: seconds * 1e3, gflops, peakFraction: gflops !== null && peak ? gflops / peak : null });
      }
    }
  } finally {
    setBackend(saved.backend);
    setThreads(saved.threads);
  }
  return results;
}

/** The table as printed lines: `conv1 forward 1->8 28x28 (wasm, 1 thread): 1.234 ms, 2.9 GFLOP/s, 7.0% of peak`. */
export function formatConvGflops(results: readonly ConvGflops[]): string {
  const pct = (r: ConvGflops) => (r.peakFraction === null ? "" : `, ${(100 * r.peakFraction).toFixed(1)}% of peak`);
  return results.map((r) => `${r.name}: ${r.ms.toFixed(3)} ms${r.gflops === null ? "" : `, ${r.gflops.toFixed(2)} GFLOP/s${pct(r)}`}`).join("\n");
}

// Print the table when run as a script (not when imported).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`matmul (default backend): ${matmulPath()}`);
  console.log(formatConvGflops(await measureConvGflops()));
}
