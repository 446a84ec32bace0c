/**
 * GFLOP/s of the convolution kernels, im2col + gemm against direct, per shape: the `cnn`
 * workload's two convolutions (a 64-image MNIST batch: conv1 1->8 channels on 28x28, conv2 8->16
 * on 14x14, 3x3, padding 1) and two wider ones (32->64 on 14x14 and 64->128 on 7x7, 16 images)
 * where the gemm has more to chew on; forward and both gradients; on the TypeScript backend (one
 * thread, im2col only: there is no JS direct kernel) and, where the engine has SIMD, the wasm
 * backend on one and two threads, both paths. The two paths of a case are measured interleaved
 * (several rounds of A then B, the median of each path's round medians), so load from other
 * processes hits both alike. Also ms per call of the 2x2 max pooling and its gradient.
 * Flops count 2 * B * K * OH * OW * C * kh * kw per convolution call (the useful multiply-adds,
 * not the zeros im2col copies for the padding; core's kernelFlops). Each wasm GFLOP/s is also
 * shown as a fraction of this machine's wasm-SIMD peak on as many threads, for the multiply-add
 * the matmul uses (../kernels/wasm/simd-peak.ts, docs/PERFORMANCE.md).
 *
 * Run directly after a build to print the table: `node packages/core/dist/bench/conv-gflops.js`
 * (Node 20: `node --experimental-wasm-relaxed-simd ...` for the fused multiply-add path).
 */
import { pathToFileURL } from "node:url";
import { execute, releaseValue, valueFrom, type Value } from "../execute.js";
import { getBackend, getThreads, matmulPath, setBackend, setThreads, wasmAvailable, type Backend } from "../kernels/backend.js";
import { kernelFlops } from "../kernel-flops.js";
import { processSimdPeak } from "../kernels/wasm/simd-peak.js";
import {
  conv2dFast, conv2dGradInputFast, conv2dGradWeightFast, convGeometry, convPath, type ConvGeometry, type ConvKernelKind, type ConvPath,
} from "../kernels/conv.js";
import type { Attrs, Prim } from "../ops/prim.js";
import { PhiloxGenerator } from "../random/philox.js";
import { medianSecondsPerCall, type SamplingOptions } from "./median-time.js";

/** Samples of ~10 ms (a call takes about a millisecond). */
const SAMPLING: SamplingOptions = { warmMinMs: 30, warmMsPerSecond: 200, sampleMs: 10, minSamples: 3 };

/** Rounds of the A/B interleaving per case. */
const ROUNDS = 5;

/** One measured case: its name, the path it ran, median ms per call and (for convolutions) GFLOP/s. */
export interface ConvGflops {
  name: string;
  /** The convolution path measured (null for pooling), and whether it is the one {@link convPath} picks. */
  path: ConvPath | null;
  chosen: boolean;
  ms: number;
  gflops: number | null;
  /** gflops over the wasm-SIMD peak on the same thread count (wasm convolutions only), else null. */
  peakFraction: number | null;
}

type Data = Float32Array;
const KERNELS: Record<ConvKernelKind, (a: Data, b: Data, out: Data, g: ConvGeometry, path: ConvPath) => void> = {
  forward: conv2dFast,
  grad_input: conv2dGradInputFast,
  grad_weight: conv2dGradWeightFast,
};

interface ConvCase {
  name: string;
  kind: ConvKernelKind;
  g: ConvGeometry;
  shapes: [number[], number[], number[]];
  flops: number;
}

/** [tag, batch, in channels, size, out channels] of every convolution measured (3x3, padding 1, stride 1). */
const CONV_SHAPES: [string, number, number, number, number][] = [
  ["conv1", 64, 1, 28, 8],
  ["conv2", 64, 8, 14, 16],
  ["wide1", 16, 32, 14, 64],
  ["wide2", 16, 64, 7, 128],
];

function convCases(): ConvCase[] {
  const attrs = { stride: [1, 1], padding: [1, 1], dilation: [1, 1] };
  const out: ConvCase[] = [];
  for (const [tag, B, C, H, K] of CONV_SHAPES) {
    const x = [B, C, H, H], w = [K, C, 3, 3], y = [B, K, H, H];
    const g = convGeometry(x, w, attrs);
    const flops = kernelFlops("conv2d", [x, w], y, attrs); // 2 * B * K * H * H * C * 9, the same for both gradients
    const label = `${tag} ${C}->${K} ${H}x${H} b${B}`;
    out.push({ name: `${label} forward`, kind: "forward", g, shapes: [x, w, y], flops });
    out.push({ name: `${label} weight grad`, kind: "grad_weight", g, shapes: [x, y, w], flops });
    out.push({ name: `${label} input grad`, kind: "grad_input", g, shapes: [y, w, x], flops });
  }
  return out;
}

interface PoolCase {
  name: string;
  prim: Prim;
  shapes: number[][];
  attrs: Attrs[Prim];
}

const POOL_CASES: PoolCase[] = [
  { name: "max_pool2d 2x2 [64,8,28,28]", prim: "max_pool2d", shapes: [[64, 8, 28, 28]], attrs: { kernel: [2, 2], stride: [2, 2], padding: [0, 0] } },
  { name: "max_pool2d grad", prim: "max_pool2d_grad", shapes: [[64, 8, 28, 28], [64, 8, 14, 14]], attrs: { kernel: [2, 2], stride: [2, 2], padding: [0, 0] } },
];

/**
 * Measures every case on each backend (and thread count) available; restores the backend and
 * threads. The wasm-SIMD peaks for "% of peak" are measured first (about 0.1 s per thread count).
 */
export async function measureConvGflops(options: { minSeconds?: number } = {}): Promise<ConvGflops[]> {
  const minSeconds = options.minSeconds ?? 0.5;
  const gen = new PhiloxGenerator(1);
  const input = (s: number[]): Value => {
    const v = new Float32Array(s.reduce((a, b) => a * b, 1));
    gen.fillUniform(v, -1, 1);
    return valueFrom("float32", s, v);
  };
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
      const where = `(${backend}, ${threads} thread${threads > 1 ? "s" : ""})`;
      for (const k of convCases()) {
        const [a, b, out] = k.shapes.map(input);
        const chosen = convPath(k.kind, k.g, "float32");
        const paths: ConvPath[] = backend === "wasm" ? ["im2col", "direct"] : ["im2col"];
        const rounds = paths.map(() => [] as number[]);
        for (let r = 0; r < ROUNDS; r++) {
          paths.forEach((path, i) => {
            const run = () => KERNELS[k.kind](a.data as Data, b.data as Data, out.data as Data, k.g, path);
            rounds[i].push(medianSecondsPerCall(run, minSeconds / ROUNDS, SAMPLING));
          });
        }
        paths.forEach((path, i) => {
          const s = rounds[i].sort((x, y) => x - y)[ROUNDS >> 1];
          const gflops = k.flops / s / 1e9;
          const peak = backend === "wasm" ? peaks.get(threads) : undefined;
          results.push({ name: `${k.name} ${where}`, path, chosen: path === chosen, ms: s * 1e3, gflops, peakFraction: peak ? gflops / peak : null });
        });
        [a, b, out].forEach(releaseValue);
      }
      for (const k of POOL_CASES) {
        const inputs = k.shapes.map(input);
        const s = medianSecondsPerCall(() => releaseValue(execute(k.prim, inputs, k.attrs as never)), minSeconds, SAMPLING);
        inputs.forEach(releaseValue);
        results.push({ name: `${k.name} ${where}`, path: null, chosen: true, ms: s * 1e3, gflops: null, peakFraction: null });
      }
    }
  } finally {
    setBackend(saved.backend);
    setThreads(saved.threads);
  }
  return results;
}

/**
 * The table as printed lines: `conv1 1->8 28x28 b64 forward (wasm, 1 thread) direct*: 1.234 ms,
 * 2.90 GFLOP/s, 7.0% of peak` (* = the path chosen).
 */
export function formatConvGflops(results: readonly ConvGflops[]): string {
  const pct = (r: ConvGflops) => (r.peakFraction === null ? "" : `, ${(100 * r.peakFraction).toFixed(1)}% of peak`);
  return results
    .map((r) => `${r.name}${r.path ? ` ${r.path}${r.chosen ? "*" : ""}` : ""}: ${r.ms.toFixed(3)} ms${r.gflops === null ? "" : `, ${r.gflops.toFixed(2)} GFLOP/s${pct(r)}`}`)
    .join("\n");
}

// Print the table when run as a script (not when imported).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`matmul (default backend): ${matmulPath()}`);
  console.log(formatConvGflops(await measureConvGflops()));
  console.log("* = the path convPath chooses for this shape on this backend");
}
