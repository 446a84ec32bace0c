/**
 * The timing protocol of docs/WORKLOADS.md, shared by our frontends and the peer libraries:
 * warm up, then time each step individually with a high-resolution clock until at least
 * `steps` steps and `minSeconds` have passed.
 */

/** How long to measure. */
export interface TimingOptions {
  steps: number;
  warmup: number;
  minSeconds: number;
  /** Upper bound on timed steps, so tiny models stop in time. */
  maxSteps?: number;
}

/** How long to measure and the seed of data and parameters: what `measure` and the peers take. */
export interface MeasureOptions extends TimingOptions {
  seed: number;
}

/** Step times (ms) and the loss each step returned. */
export interface Timed {
  times: number[];
  losses: number[];
}

/** Runs the protocol; `afterWarmup` runs between warm-up and timing (to snapshot counters). */
export function timeSteps(step: () => number, options: TimingOptions, afterWarmup?: () => void): Timed {
  for (let i = 0; i < options.warmup; i++) step();
  afterWarmup?.();
  const times: number[] = [];
  const losses: number[] = [];
  const maxSteps = options.maxSteps ?? 1_000_000;
  const start = performance.now();
  while (times.length < maxSteps && (times.length < options.steps || performance.now() - start < options.minSeconds * 1000)) {
    const t0 = performance.now();
    const loss = step();
    times.push(performance.now() - t0);
    losses.push(loss);
  }
  return { times, losses };
}

/**
 * Median, p90 (nearest rank), mean and min of step times, and the loss curve sampled to ~100
 * points with the timed-step number of each (`lossSteps`): two runs of different lengths are
 * sampled at different strides, so a chart must plot against these, not against the index.
 */
export function stepStatistics({ times, losses }: Timed): {
  msPerStep: { median: number; p90: number; mean: number; min: number };
  stepsPerSec: number;
  lossCurve: number[];
  lossSteps: number[];
} {
  const n = times.length;
  const sorted = [...times].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const p90 = sorted[Math.min(n - 1, Math.max(0, Math.ceil(0.9 * n) - 1))];
  const mean = times.reduce((a, b) => a + b, 0) / n;
  const every = Math.max(1, Math.floor(n / 100));
  const lossSteps: number[] = [];
  for (let i = 0; i < losses.length; i += every) lossSteps.push(i);
  return { msPerStep: { median, p90, mean, min: sorted[0] }, stepsPerSec: 1000 / mean, lossCurve: lossSteps.map((i) => losses[i]), lossSteps };
}
