import type { ProfileSpan, SpanCategory } from "@dualgrad/core";
import type { Frontend } from "../runners/trainer.js";
import { nestSpans } from "./spans.js";

/** One row of the per-op table: a kernel (by name and input shapes), per profiled step. */
export interface OpRow {
  op: string;
  shapes: string;
  /** Launches per step. */
  calls: number;
  /** Kernel time per step (ms). */
  kernelMs: number;
  /** Bytes the kernel outputs took from the allocator per step (0 in place or in a compiled arena). */
  bytes: number;
  /** Useful flops per step (core's kernelFlops: matmul and the convolutions; 0 for the other ops). */
  flops?: number;
  /** flops / kernel time, in GFLOP/s; null for ops whose flops are not counted. */
  gflops?: number | null;
  /** gflops as a fraction of {@link ProfileReport.simdPeak} (0.25 = 25%); null when either is missing. */
  peakFraction?: number | null;
}

/** Where a step's time went, per step (ms): kernels, and the framework's own shares (self times). */
export interface TimeSplit {
  /** Wall time of a whole step. */
  stepMs: number;
  kernelMs: number;
  /** Abstract evaluation and allocation around eager kernels (core's execute minus the kernel). */
  dispatchMs: number;
  /** Recording eager ops for autograd (apply minus execute). */
  tapeMs: number;
  /** Walking the tape in backward (minus the ops the VJP rules run). */
  backwardMs: number;
  /** The rest of the step: module and optimizer code, a compiled call's binding and output copy. */
  otherMs: number;
}

/** The shares of a step as tables label them, step first. */
export const SHARES: readonly (readonly [string, keyof TimeSplit])[] = [
  ["step", "stepMs"], ["kernels", "kernelMs"], ["dispatch+alloc", "dispatchMs"], ["tape", "tapeMs"], ["backward walk", "backwardMs"], ["other", "otherMs"],
];

/** One frontend's profile over its steady-state steps. */
export interface FrontendProfile {
  frontend: Frontend;
  steps: number;
  split: TimeSplit;
  /** Kernel launches the allocator counted in each profiled step. */
  launchesPerStep: number[];
  /** Kernel spans the profiler recorded in each profiled step (equal to the launches when every launch is timed). */
  kernelSpansPerStep: number[];
  /** Heaviest kernel time first. */
  ops: OpRow[];
}

/** The wasm-SIMD peak a profile's `peakFraction`s divide by (core's processSimdPeak; docs/PERFORMANCE.md). */
export interface ProfilePeak {
  /** `relaxed_madd` or `mul+add`: the multiply-add the matmul runs. */
  op: string;
  threads: number;
  gflops: number;
}

/** `dualgrad profile --json`: one model, each frontend profiled. */
export interface ProfileReport {
  model: string;
  warmup: number;
  steps: number;
  frontends: FrontendProfile[];
  /** Which float32 matmul kernel ran (core's matmulPath), e.g. `wasm SIMD, relaxed_madd (FMA) 6x8`. */
  matmulPath?: string;
  /** This machine's wasm-SIMD peak at the profile's thread count; absent without wasm SIMD. */
  simdPeak?: ProfilePeak;
}

const SPLIT_KEY: Record<SpanCategory, keyof TimeSplit> = {
  step: "otherMs",
  kernel: "kernelMs",
  dispatch: "dispatchMs",
  tape: "tapeMs",
  backward: "backwardMs",
};

/**
 * Summarises the spans of `steps` profiled steps (each wrapped in a `step` span): self time by
 * category, and kernels grouped by name and shapes. Every number is per step.
 */
export function summarize(frontend: Frontend, spans: readonly ProfileSpan[], steps: number, launchesPerStep: number[], kernelSpansPerStep: number[]): FrontendProfile {
  const split: TimeSplit = { stepMs: 0, kernelMs: 0, dispatchMs: 0, tapeMs: 0, backwardMs: 0, otherMs: 0 };
  const rows = new Map<string, OpRow & { flops: number }>();
  for (const s of nestSpans(spans)) {
    split[SPLIT_KEY[s.cat]] += s.selfMs / steps;
    if (s.cat === "step") split.stepMs += (s.end - s.start) / steps;
    if (s.cat !== "kernel") continue;
    const key = `${s.name} ${s.shapes}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { op: s.name, shapes: s.shapes ?? "", calls: 0, kernelMs: 0, bytes: 0, flops: 0 }));
    row.calls += 1 / steps;
    row.kernelMs += (s.end - s.start) / steps;
    row.bytes += (s.bytes ?? 0) / steps;
    row.flops += (s.flops ?? 0) / steps;
  }
  const ops = [...rows.values()].sort((a, b) => b.kernelMs - a.kernelMs);
  for (const r of ops) r.gflops = r.flops > 0 && r.kernelMs > 0 ? r.flops / r.kernelMs / 1e6 : null;
  return { frontend, steps, split, launchesPerStep, kernelSpansPerStep, ops };
}

/** Sets every row's `peakFraction` against `peakGflops` (null for rows without GFLOP/s, or without a peak). */
export function setPeakFractions(profile: FrontendProfile, peakGflops: number | undefined): void {
  for (const r of profile.ops) r.peakFraction = r.gflops != null && peakGflops ? r.gflops / peakGflops : null;
}
