import { color, newTable } from "../output.js";
import { formatSci } from "./format.js";
import { peerComparisonTable, type ReportTable } from "./markdown.js";
import { metricRows } from "./metrics.js";
import { runIndex } from "./run-index.js";
import { sweepTable, sweepTitle } from "./sweep.js";
import type { BenchReport, SweepResult } from "./types.js";
import { varlenVerdict } from "./varlen-verdict.js";

/**
 * The side-by-side benchmark table for the terminal: our frontends only (peers get their own,
 * narrower table, `peerTable`), with the metric rows the Markdown and HTML reports use.
 */
export function benchTable(report: BenchReport): string {
  const frontends = [...new Set(report.results.map((r) => r.frontend as string))];
  const compare = frontends.includes("eager") && frontends.includes("graph");
  const table = newTable(["model", "metric", ...frontends, ...(compare ? ["graph vs eager"] : [])]);
  const index = runIndex(report);
  const models = [...new Set(report.results.map((r) => r.model))];
  for (const model of models) {
    const runs = frontends.map((f) => index.get(model, f));
    metricRows(runs, frontends, compare).forEach((row, i) => table.push([i === 0 ? color.cyan(model) : "", ...row]));
  }
  const verdict = varlenVerdict(report);
  const main = verdict ? `${table.toString()}\n${verdict}` : table.toString();
  if (report.agreement.length === 0) return main;
  // Agreement is per model, not per frontend: its own table keeps the columns honest.
  const agree = newTable(["model", "grad max abs (eager vs graph)", "grad max rel", "max abs, fusion off"]);
  for (const a of report.agreement) {
    agree.push([color.cyan(a.model), formatSci(a.maxAbs), formatSci(a.maxRel), a.unfusedMaxAbs === undefined ? "-" : formatSci(a.unfusedMaxAbs)]);
  }
  return `${main}\n${agree.toString()}`;
}

/** One sweep (`bench --sweep`) as a table under its title. */
export function sweepTerminalTable(report: BenchReport, sweep: SweepResult): string {
  const t = sweepTable(report, sweep);
  const table = newTable(t.header);
  for (const row of t.rows) table.push(row);
  return `${color.cyan(sweepTitle(sweep))}\n${table.toString()}`;
}

/** The peer libraries beside our best frontend (the Markdown and HTML reports' table); "" without peers. */
export function peerTable(report: BenchReport): string {
  const t: ReportTable | null = peerComparisonTable(report);
  if (!t) return "";
  const table = newTable(t.header);
  for (const [model, ...cells] of t.rows) table.push([color.cyan(model), ...cells]);
  return table.toString();
}
