/**
 * What static compilation costs, measured from a cold start: every step's time from the very
 * first (warm-up included), which of them traced a new signature, and the cumulative time
 * curve both frontends are compared on (the graph's compile time is paid up front; the
 * break-even step is where its total drops below eager's).
 */

/** The static-cost block of a bench result (see docs/WORKLOADS.md). */
export interface StaticCosts {
  /** Traces made (graph: one per input signature; eager: 0). */
  traces: number;
  /**
   * Trace + optimise + compile time per signature: the mean, over the steps that traced, of
   * that step's time less the steady median step (null without traces).
   */
  compileMsPerTrace: number | null;
  /** The very first step, from a cold start (graph: includes its first trace and compile). */
  coldFirstStepMs: number;
  /** Steady ms/step (the timed steps' median). */
  steadyMs: number;
  /** Cumulative wall time over steps from the cold start, `[step, ms]`, sampled (every early step, then geometric). */
  cumulative: [number, number][];
  /** Graph only, set by `bench` from both frontends: the first step count after which graph's total stays below eager's (null: never). */
  breakEvenSteps?: number | null;
}

/** Per-step times from a cold start and whether each traced. */
export interface ColdRun {
  times: number[];
  traced: boolean[];
}

/** Wraps a step so every call (warm-up included) is timed and checked for a new trace. */
export function recordCold(step: () => number, traceCount: () => number): { step: () => number; run: ColdRun } {
  const run: ColdRun = { times: [], traced: [] };
  return {
    run,
    step: () => {
      const before = traceCount();
      const t0 = performance.now();
      const loss = step();
      run.times.push(performance.now() - t0);
      run.traced.push(traceCount() > before);
      return loss;
    },
  };
}

/** At most ~`points` `[step, cumulative ms]` samples: the first 16 steps, then every ~2% growth, and the last. */
function sampleCumulative(times: readonly number[], points = 200): [number, number][] {
  const out: [number, number][] = [];
  const ratio = Math.max(1.02, Math.pow(Math.max(times.length, 2) / 16, 1 / points));
  let total = 0;
  let next = 1;
  times.forEach((t, i) => {
    total += t;
    const step = i + 1;
    if (step <= 16 || step >= next || step === times.length) {
      out.push([step, total]);
      next = Math.ceil(step * ratio);
    }
  });
  return out;
}

/** The static-cost block of a cold run whose steady step is `steadyMs`. */
export function staticCosts(run: ColdRun, steadyMs: number): StaticCosts {
  const tracedTimes = run.times.filter((_, i) => run.traced[i]);
  const traces = tracedTimes.length;
  return {
    traces,
    compileMsPerTrace: traces === 0 ? null : tracedTimes.reduce((a, t) => a + Math.max(0, t - steadyMs), 0) / traces,
    coldFirstStepMs: run.times[0] ?? NaN,
    steadyMs,
    cumulative: sampleCumulative(run.times),
  };
}

/** Total ms after `n` steps: interpolated within the sampled curve, extrapolated at the steady rate past it. */
export function cumulativeAt(c: StaticCosts, n: number): number {
  const pts = c.cumulative;
  if (pts.length === 0) return n * c.steadyMs;
  if (n <= pts[0][0]) return (pts[0][1] * n) / pts[0][0];
  for (let i = 1; i < pts.length; i++) {
    const [s1, m1] = pts[i];
    if (n <= s1) {
      const [s0, m0] = pts[i - 1];
      return m0 + ((m1 - m0) * (n - s0)) / (s1 - s0);
    }
  }
  const [sl, ml] = pts[pts.length - 1];
  return ml + (n - sl) * c.steadyMs;
}

/**
 * The break-even step count: the first n from which the graph's cumulative time (compilation
 * included) stays at or below eager's. Within the measured range the sampled curves decide;
 * past it both grow at their steady rates, so if the graph is still behind it catches up only
 * when its steady step is faster. Null when it never does.
 */
export function breakEvenSteps(eager: StaticCosts, graph: StaticCosts): number | null {
  const last = Math.max(eager.cumulative.at(-1)?.[0] ?? 0, graph.cumulative.at(-1)?.[0] ?? 0);
  const steps = [...new Set([...eager.cumulative, ...graph.cumulative].map(([s]) => s))].sort((a, b) => a - b);
  let candidate: number | null = null;
  for (const n of steps) {
    const ahead = cumulativeAt(graph, n) <= cumulativeAt(eager, n);
    if (ahead && candidate === null) candidate = n;
    if (!ahead) candidate = null;
  }
  if (candidate !== null) return candidate;
  const gap = cumulativeAt(graph, last) - cumulativeAt(eager, last);
  const gain = eager.steadyMs - graph.steadyMs;
  return gain > 0 ? last + Math.ceil(gap / gain) : null;
}
