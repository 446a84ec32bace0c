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

/** `dualgrad profile --json`: one model, each frontend profiled. */
export interface ProfileReport {
  model: string;
  warmup: number;
  steps: number;
  frontends: FrontendProfile[];
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
  const rows = new Map<string, OpRow>();
  for (const s of nestSpans(spans)) {
    split[SPLIT_KEY[s.cat]] += s.selfMs / steps;
    if (s.cat === "step") split.stepMs += (s.end - s.start) / steps;
    if (s.cat !== "kernel") continue;
    const key = `${s.name} ${s.shapes}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { op: s.name, shapes: s.shapes ?? "", calls: 0, kernelMs: 0, bytes: 0 }));
    row.calls += 1 / steps;
    row.kernelMs += (s.end - s.start) / steps;
    row.bytes += (s.bytes ?? 0) / steps;
  }
  const ops = [...rows.values()].sort((a, b) => b.kernelMs - a.kernelMs);
  return { frontend, steps, split, launchesPerStep, kernelSpansPerStep, ops };
}
