/**
 * This machine's WebAssembly SIMD peak as a table: each multiply-add (`mul+add`, and
 * `relaxed_madd` where the engine has relaxed SIMD) on one thread and on all cores (at most 8).
 * The method is in ../kernels/wasm/simd-peak.ts and docs/PERFORMANCE.md.
 *
 * Run after a build: `node packages/core/dist/bench/simd-peak.js` (Node 20: add
 * `--experimental-wasm-relaxed-simd` for the relaxed rows).
 */
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import { measureSimdPeak, peakOpSupported, type SimdPeak } from "../kernels/wasm/simd-peak.js";

/** Each supported multiply-add on one thread and on all of this machine's cores (at most 8). */
export async function measureSimdPeaks(): Promise<SimdPeak[]> {
  const all = Math.max(1, Math.min(8, availableParallelism()));
  const out: SimdPeak[] = [];
  for (const op of ["mul+add", "relaxed_madd"] as const) {
    if (!peakOpSupported(op)) continue;
    for (const threads of all > 1 ? [1, all] : [1]) out.push(await measureSimdPeak({ op, threads }));
  }
  return out;
}

/** The table as printed lines: `f32x4 relaxed_madd, 1 thread: 42.1 GFLOP/s (12 accumulators)`. */
export function formatSimdPeaks(peaks: readonly SimdPeak[]): string {
  return peaks.map((p) => `f32x4 ${p.op}, ${p.threads} thread${p.threads > 1 ? "s" : ""}: ${p.gflops.toFixed(1)} GFLOP/s (${p.accumulators} accumulators)`).join("\n");
}

// Print the table when run as a script (not when imported).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatSimdPeaks(await measureSimdPeaks()));
}
