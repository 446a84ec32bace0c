import { formatBytes, formatCount, formatMs, formatRatio, MISSING } from "./format.js";
import type { StaticCosts } from "../runners/static-costs.js";
import { roundsCount, roundsSpreadRow } from "./rounds.js";
import type { BenchResult, PeerResult } from "./types.js";

/**
 * The one list of per-step metrics that every report shows. The terminal table, the Markdown
 * report and the HTML report each take their metric rows from `METRICS` (through
 * `metricRows`), so a metric added here appears, with the same label and formatting, in all
 * three; none of them names a metric itself.
 */

/** A measured run: one of our frontends or a peer library, on one model. */
export type Measured = BenchResult | PeerResult;

/**
 * How the "graph vs eager" cell of a row reads: `time` and `rate` as a speed-up ("1.8x faster"),
 * `amount` as graph ÷ eager, `none` leaves it empty.
 */
export type Comparison = "time" | "rate" | "amount" | "none";

/** One row of the reports' metric tables. */
export interface Metric {
  /** Stable identifier (what tests and code refer to; labels may be reworded). */
  key: string;
  /** What the row is called in every report. */
  label: string;
  /** The unit of `get`'s value: what `format` prints. */
  unit: "ms" | "bytes" | "count" | "per-second";
  /** The value as text; "-" when it is missing. */
  format: (x: number) => string;
  /**
   * The value for one run, undefined where that run does not have it (a peer without tensor
   * accounting, an older file lacking a field). Optional chaining throughout: a hand-edited or
   * older file may lack a field, and one missing figure should print "-" rather than abort.
   */
  get: (r: Measured) => number | undefined;
  compare: Comparison;
  /** Set where only the graph frontend has a value (eager shows "-"): compile time, break-even. */
  graphOnly?: true;
}

/** The metrics, in report order. */
export const METRICS: readonly Metric[] = [
  { key: "msMedian", label: "ms/step (median)", unit: "ms", format: formatMs, get: (r) => r.msPerStep?.median, compare: "time" },
  { key: "msP90", label: "ms/step (p90)", unit: "ms", format: formatMs, get: (r) => r.msPerStep?.p90, compare: "time" },
  { key: "stepsPerSec", label: "steps/s", unit: "per-second", format: formatCount, get: (r) => r.stepsPerSec, compare: "rate" },
  { key: "peakTensorBytes", label: "peak tensor bytes", unit: "bytes", format: formatBytes, get: (r) => r.memory?.peakTensorBytes, compare: "amount" },
  { key: "liveTensorBytes", label: "live tensor bytes", unit: "bytes", format: formatBytes, get: (r) => r.memory?.liveTensorBytes, compare: "amount" },
  { key: "allocationsPerStep", label: "allocations/step", unit: "count", format: formatCount, get: (r) => r.memory?.allocationsPerStep, compare: "amount" },
  { key: "kernelLaunchesPerStep", label: "kernel launches/step", unit: "count", format: formatCount, get: (r) => r.memory?.kernelLaunchesPerStep, compare: "amount" },
  { key: "peakRssBytes", label: "peak RSS", unit: "bytes", format: formatBytes, get: (r) => r.memory?.peakRssBytes, compare: "amount" },
  // What static compilation costs (our frontends only; see runners/static-costs.ts).
  { key: "traces", label: "traces", unit: "count", format: formatCount, get: (r) => staticOf(r)?.traces, compare: "none" },
  { key: "compileMsPerTrace", label: "trace+compile ms/signature", unit: "ms", format: formatMs, get: (r) => staticOf(r)?.compileMsPerTrace ?? undefined, compare: "none", graphOnly: true },
  { key: "coldFirstStepMs", label: "cold first step", unit: "ms", format: formatMs, get: (r) => staticOf(r)?.coldFirstStepMs, compare: "time" },
  { key: "breakEvenSteps", label: "break-even step vs eager", unit: "count", format: formatBreakEven, get: breakEvenOf, compare: "none", graphOnly: true },
];

/** A run's static-cost block, if it is one of our frontends' and has one. */
function staticOf(r: Measured): StaticCosts | undefined {
  return "static" in r ? r.static : undefined;
}

/** The graph's break-even step; Infinity where it never breaks even, undefined where not computed. */
function breakEvenOf(r: Measured): number | undefined {
  const b = staticOf(r)?.breakEvenSteps;
  return b === null ? Infinity : b;
}

/** A step count, or "never" for Infinity. */
function formatBreakEven(x: number): string {
  return x === Infinity ? "never" : formatCount(x);
}

/**
 * How the "graph vs eager" column reads. Speed rows say "1.8x faster" / "1.3x slower" because a
 * bare ratio of times is easy to read backwards; byte and count rows are graph ÷ eager, so below
 * 1x means graph uses less.
 */
export const COMPARISON_NOTE =
  "graph vs eager: speed rows give graph's speed relative to eager; byte and count rows give graph ÷ eager (below 1x: graph uses less).";

function speedCell(eagerTime: number, graphTime: number): string {
  if (!(eagerTime > 0) || !(graphTime > 0)) return MISSING;
  return eagerTime >= graphTime ? `${formatRatio(eagerTime, graphTime)} faster` : `${formatRatio(graphTime, eagerTime)} slower`;
}

/** The "graph vs eager" cell for one metric's eager and graph values. */
export function comparisonCell(kind: Comparison, eager: number, graph: number): string {
  switch (kind) {
    case "time":
      return speedCell(eager, graph);
    case "rate":
      // A rate is an inverse time: graph's steps/s over eager's is its speed-up.
      return speedCell(1 / eager, 1 / graph);
    case "amount":
      return formatRatio(graph, eager);
    default:
      return "";
  }
}

/** The metric with this key (the HTML charts pick theirs by key); throws for an unknown key. */
export function metric(key: string): Metric {
  const found = METRICS.find((m) => m.key === key);
  if (!found) throw new Error(`unknown report metric '${key}' (known: ${METRICS.map((m) => m.key).join(", ")})`);
  return found;
}

/** A metric's value for a run, or NaN (which every formatter prints as "-"). */
export function metricValue(metric: Metric, run: Measured | undefined): number {
  const v = run ? metric.get(run) : undefined;
  return typeof v === "number" ? v : NaN;
}

/**
 * The metric rows for one model: `[label, cell per run, graph vs eager?]`, one per metric, and
 * where some run has `bench --rounds` the rounds' spread under the median (report/rounds.ts).
 * `names[i]` is the frontend or peer of `runs[i]` (undefined where it did not run); the last
 * cell is the graph-vs-eager comparison when `compare` is set (both frontends present).
 */
export function metricRows(runs: (Measured | undefined)[], names: string[], compare: boolean): string[][] {
  const rounds = roundsCount(runs);
  const spread = roundsSpreadRow(runs, compare);
  return METRICS.flatMap((metric) => {
    const values = runs.map((r) => metricValue(metric, r));
    // With `bench --rounds` the median is the median round's: the label says of how many, and
    // the rounds' spread follows it.
    const median = metric.key === "msMedian" && rounds !== null;
    const row = [median ? metric.label.replace(/\)$/, `, ${rounds})`) : metric.label, ...values.map((v) => metric.format(v))];
    if (compare) row.push(comparisonCell(metric.compare, values[names.indexOf("eager")], values[names.indexOf("graph")]));
    return median && spread ? [row, spread] : [row];
  });
}
