/**
 * The profiling hook both frontends report to. It is one module-level binding that is `null`
 * while profiling is off: every executor reads it once per kernel launch (or once per compiled
 * call) and takes its plain path on `null`, so profiling off costs one branch and nothing else
 * (no clock reads, no records, no allocation).
 */

/**
 * What a span measures. Self time (a span's duration minus its children's) of each category is
 * one share of a step: `kernel` the arithmetic; `dispatch` abstract evaluation and allocation
 * around a kernel (or binding a compiled call); `tape` recording an eager op for autograd;
 * `backward` walking the tape; `step` everything else the caller's step does.
 */
export type SpanCategory = "step" | "tape" | "backward" | "dispatch" | "kernel";

/** One timed interval, in `performance.now()` milliseconds. */
export interface ProfileSpan {
  name: string;
  cat: SpanCategory;
  start: number;
  end: number;
  /** Input shapes, e.g. `[32,64] [64,10]` (kernels only). */
  shapes?: string;
  /** Bytes of tensor memory the kernel's output took from the allocator (0 when written in place or into an arena). */
  bytes?: number;
  /** Useful floating-point operations of the launch (kernels only; see ./kernel-flops.ts), for GFLOP/s. */
  flops?: number;
}

/** Collects spans while installed with {@link setProfiler}. */
export class ProfileRecorder {
  /** Spans in the order they ended (children before their parents). */
  readonly spans: ProfileSpan[] = [];

  /** The clock every span is measured with (milliseconds, monotonic). */
  now(): number {
    return performance.now();
  }

  /** Records a span that began at `start` and ends now. */
  span(name: string, cat: SpanCategory, start: number, shapes?: string, bytes?: number, flops?: number): void {
    this.spans.push({ name, cat, start, end: performance.now(), shapes, bytes, flops });
  }

  /** Records a kernel that began at `start` and ends now; `flops` its useful arithmetic (0 when not counted). */
  kernel(name: string, start: number, shapes: string, bytes: number, flops = 0): void {
    this.span(name, "kernel", start, shapes, bytes, flops);
  }
}

/** The installed recorder, or `null` when profiling is off (the default). */
export let profiler: ProfileRecorder | null = null;

/** Installs `p` (or turns profiling off with `null`); returns the recorder that was installed before. */
export function setProfiler(p: ProfileRecorder | null): ProfileRecorder | null {
  const prev = profiler;
  profiler = p;
  return prev;
}

/** Shapes of `views` as a profile label: `[2,3] [3]`, a scalar as `[]`. */
export function shapesLabel(views: readonly { readonly shape: readonly number[] }[]): string {
  return views.map((v) => `[${v.shape.join(",")}]`).join(" ");
}
