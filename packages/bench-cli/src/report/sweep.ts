import { MISSING } from "./format.js";
import { comparisonCell, metric, metricValue } from "./metrics.js";
import { frontendsOf, hasComparison, runIndex } from "./run-index.js";
import type { ReportTable } from "./table.js";
import type { BenchReport, SweepResult } from "./types.js";

/**
 * A sweep (`bench --sweep`) read back from a report: per frontend and peer, ms/step and peak
 * bytes at each size. The Markdown and terminal reports show it as a table, the HTML report as
 * log-log charts; both take their numbers from here.
 */

/** The axis label of a sweep's sizes. */
export function sweepLabel(sweep: SweepResult): string {
  return sweep.param === "batch" ? "batch size" : "hidden width";
}

/** The two quantities drawn against size: median ms/step and peak bytes. */
export const SWEEP_METRICS = ["msMedian", "peakTensorBytes"] as const;

/**
 * Each frontend's `[size, value]` points for one metric (sizes where it ran and has the figure),
 * frontends without any point left out. Peak bytes of a peer without tensor accounting are its
 * process RSS, which is not comparable, so such peers have no bytes points.
 */
export function sweepSeries(report: BenchReport, sweep: SweepResult, key: (typeof SWEEP_METRICS)[number]): { frontend: string; points: [number, number][] }[] {
  const index = runIndex(report);
  const m = metric(key);
  return frontendsOf(report)
    .map((frontend) => ({
      frontend,
      points: sweep.values
        .map((v, i): [number, number] => [v, metricValue(m, index.get(sweep.models[i], frontend))])
        .filter(([, y]) => Number.isFinite(y) && y > 0),
    }))
    .filter((s) => s.points.length > 0);
}

/**
 * The sweep as a table: a row per size, ms/step per frontend and peer, peak tensor bytes for
 * those that have it, and graph vs eager when both ran.
 */
export function sweepTable(report: BenchReport, sweep: SweepResult): ReportTable {
  const index = runIndex(report);
  const frontends = frontendsOf(report);
  const ms = metric("msMedian");
  const bytes = metric("peakTensorBytes");
  const withBytes = frontends.filter((f) => sweep.models.some((id) => Number.isFinite(metricValue(bytes, index.get(id, f)))));
  const compare = hasComparison(report);
  const header = [sweepLabel(sweep), ...frontends.map((f) => `${f} ms/step`), ...withBytes.map((f) => `${f} peak bytes`), ...(compare ? ["graph vs eager"] : [])];
  const rows = sweep.values.map((v, i) => {
    const id = sweep.models[i];
    const cell = (f: string, k: typeof ms) => k.format(metricValue(k, index.get(id, f)));
    const row = [String(v), ...frontends.map((f) => cell(f, ms)), ...withBytes.map((f) => cell(f, bytes))];
    if (compare) {
      const e = metricValue(ms, index.get(id, "eager"));
      const g = metricValue(ms, index.get(id, "graph"));
      row.push(Number.isFinite(e) && Number.isFinite(g) ? comparisonCell("time", e, g) : MISSING);
    }
    return row;
  });
  return { header, numeric: header.map((_, i) => i > 0), rows };
}

/** The heading of a sweep's section. */
export function sweepTitle(sweep: SweepResult): string {
  return `${sweep.model}: ms/step and peak bytes against ${sweepLabel(sweep)}`;
}
