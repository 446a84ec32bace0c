/** How {@link medianSecondsPerCall} samples: warm-up, sample length and least number of samples. */
export interface SamplingOptions {
  /** Warm-up milliseconds: at least `warmMinMs`, or `warmMsPerSecond` per second of `minSeconds` if longer. */
  warmMinMs: number;
  warmMsPerSecond: number;
  /** Batches double until one takes this long, so the clock's resolution stops mattering. */
  sampleMs: number;
  /** Samples taken even when `minSeconds` has passed. */
  minSamples: number;
}

/**
 * Median seconds per call of `run`: warm up (so V8 has optimised the kernel), then take samples
 * of batches of calls until `minSeconds` have passed; the median resists the odd sample slowed
 * by GC or a noisy neighbour. Shared by the kernel micro-benchmarks of this folder.
 */
export function medianSecondsPerCall(run: () => void, minSeconds: number, o: SamplingOptions): number {
  const warmEnd = performance.now() + Math.max(o.warmMinMs, minSeconds * o.warmMsPerSecond);
  do run(); while (performance.now() < warmEnd);
  const samples: number[] = [];
  const end = performance.now() + minSeconds * 1000;
  let batch = 1;
  while (samples.length < o.minSamples || performance.now() < end) {
    const t0 = performance.now();
    for (let r = 0; r < batch; r++) run();
    const dt = performance.now() - t0;
    samples.push(dt / batch / 1000);
    if (dt < o.sampleMs) batch *= 2;
  }
  samples.sort((x, y) => x - y);
  return samples[samples.length >> 1];
}
