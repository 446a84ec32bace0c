import { formatBytes, formatCount, formatLoss, formatMs, formatRatio, formatSci, MISSING } from "./format.js";
import { minMax } from "./series.js";
import type { BenchReport, BenchResult, MachineInfo } from "./types.js";

/**
 * The Markdown report, plus the table model it shares with the HTML report: both renderers take
 * their rows from the functions below, so the two documents can never disagree about a number or
 * a label. Cells are plain text here; each renderer escapes them for its own syntax.
 */

/** A table as plain-text cells; `numeric[i]` says column i holds numbers (right-aligned). */
export interface ReportTable {
  header: string[];
  numeric: boolean[];
  rows: string[][];
}

/** The canonical column order: eager first (the baseline), graph second, anything else after. */
const FRONTEND_ORDER = ["eager", "graph"];

/** Models in the order the report lists them (bench order), agreement-only models after. */
export function modelsOf(report: BenchReport): string[] {
  const seen = new Set<string>();
  for (const r of report.results) seen.add(r.model);
  for (const a of report.agreement) seen.add(a.model);
  return [...seen];
}

/** The frontends measured anywhere in the report, eager before graph. */
export function frontendsOf(report: BenchReport): string[] {
  const seen = [...new Set(report.results.map((r) => r.frontend as string))];
  const rank = (f: string) => {
    const i = FRONTEND_ORDER.indexOf(f);
    return i < 0 ? FRONTEND_ORDER.length + seen.indexOf(f) : i;
  };
  return seen.sort((a, b) => rank(a) - rank(b));
}

/** True when both frontends were measured, i.e. a "graph vs eager" comparison makes sense. */
export function hasComparison(report: BenchReport): boolean {
  const fs = frontendsOf(report);
  return fs.includes("eager") && fs.includes("graph");
}

/** The one result for a model on a frontend (the last one wins if a file repeats a pair). */
export function resultFor(report: BenchReport, model: string, frontend: string): BenchResult | undefined {
  let found: BenchResult | undefined;
  for (const r of report.results) if (r.model === model && r.frontend === frontend) found = r;
  return found;
}

/** One line describing where the numbers were measured. */
export function machineLine(m: MachineInfo): string {
  return [
    `${m.cpuModel}, ${m.cpus} cores, ${formatBytes(m.totalMemoryBytes)} RAM`,
    `${m.platform}/${m.arch}`,
    `Node ${m.node}`,
    `dualgrad ${m.version}`,
    m.date,
  ].join(" · ");
}

/**
 * How the "graph vs eager" column reads. Speed rows say "1.8x faster" / "1.3x slower" because a
 * bare ratio of times is easy to read backwards; byte and count rows are graph ÷ eager, so below
 * 1x means graph uses less.
 */
export const COMPARISON_NOTE =
  "graph vs eager: speed rows give graph's speed relative to eager; byte and count rows give graph ÷ eager (below 1x: graph uses less).";

type Kind = "time" | "rate" | "amount" | "none";

function speedCell(eagerTime: number, graphTime: number): string {
  if (!(eagerTime > 0) || !(graphTime > 0)) return MISSING;
  return eagerTime >= graphTime ? `${formatRatio(eagerTime, graphTime)} faster` : `${formatRatio(graphTime, eagerTime)} slower`;
}

function comparisonCell(kind: Kind, eager: number, graph: number): string {
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

/**
 * The side-by-side table for one model: a row per metric, a column per frontend and, when both
 * frontends ran, a "graph vs eager" column.
 */
export function resultsTable(report: BenchReport, model: string): ReportTable {
  const frontends = frontendsOf(report);
  const compare = hasComparison(report);
  const results = frontends.map((f) => resultFor(report, model, f));
  const header = ["metric", ...frontends, ...(compare ? ["graph vs eager"] : [])];
  const numeric = [false, ...frontends.map(() => true), ...(compare ? [true] : [])];
  const rows: string[][] = [];

  const metric = (label: string, get: (r: BenchResult) => number, fmt: (x: number) => string, kind: Kind) => {
    const values = results.map((r) => (r ? num(get(r)) : NaN));
    const row = [label, ...values.map((v) => fmt(v))];
    if (compare) {
      const e = values[frontends.indexOf("eager")];
      const g = values[frontends.indexOf("graph")];
      row.push(comparisonCell(kind, e, g));
    }
    rows.push(row);
  };
  // Optional chaining throughout: a hand-edited or older file may lack a field, and one missing
  // figure should print "-" rather than abort the whole report.
  metric("ms/step (median)", (r) => r.msPerStep?.median, formatMs, "time");
  metric("ms/step (p90)", (r) => r.msPerStep?.p90, formatMs, "time");
  metric("steps/s", (r) => r.stepsPerSec, formatCount, "rate");
  metric("peak tensor bytes", (r) => r.memory?.peakTensorBytes, formatBytes, "amount");
  metric("live tensor bytes", (r) => r.memory?.liveTensorBytes, formatBytes, "amount");
  metric("allocations/step", (r) => r.memory?.allocationsPerStep, formatCount, "amount");
  metric("kernel launches/step", (r) => r.memory?.kernelLaunchesPerStep, formatCount, "amount");
  metric("peak RSS", (r) => r.memory?.peakRssBytes, formatBytes, "amount");

  // Context rows: not comparisons, but they say what the numbers above were measured on.
  const extra = (label: string, cell: (r: BenchResult) => string) => {
    const row = [label, ...results.map((r) => (r ? cell(r) : MISSING))];
    if (compare) row.push("");
    rows.push(row);
  };
  extra("loss first → last", (r) => `${formatLoss(num(r.loss?.first))} → ${formatLoss(num(r.loss?.last))}`);
  extra("timed steps (warm-up)", (r) => `${formatCount(num(r.steps))} (${formatCount(num(r.warmup))})`);
  // Plan facts get a row each (rather than one sentence) so the graph column stays narrow.
  if (results.some((r) => r?.graph)) {
    extra("graph nodes", (r) => (r.graph ? formatCount(num(r.graph.nodes)) : MISSING));
    extra("fused kernels", (r) => (r.graph ? formatCount(num(r.graph.fusedKernels)) : MISSING));
    extra("arena bytes", (r) => (r.graph ? formatBytes(num(r.graph.arenaBytes)) : MISSING));
  }
  return { header, numeric, rows };
}

/**
 * Gradient agreement per model; the "unfused max abs" column appears only when some row has it
 * (it is only measured when fusion can be switched off).
 */
export function agreementTable(report: BenchReport): ReportTable | null {
  if (report.agreement.length === 0) return null;
  const unfused = report.agreement.some((a) => a.unfusedMaxAbs !== undefined);
  const header = ["model", "max abs", "max rel", ...(unfused ? ["unfused max abs"] : [])];
  const numeric = [false, true, true, ...(unfused ? [true] : [])];
  const rows = report.agreement.map((a) => [
    a.model,
    formatSci(num(a.maxAbs)),
    formatSci(num(a.maxRel)),
    ...(unfused ? [a.unfusedMaxAbs === undefined ? MISSING : formatSci(num(a.unfusedMaxAbs))] : []),
  ]);
  return { header, numeric, rows };
}

/** Training runs (from `dualgrad train --json`), one row each; null when the report has none. */
export function trainingTable(report: BenchReport): ReportTable | null {
  const runs = report.training ?? [];
  if (runs.length === 0) return null;
  const accuracy = runs.some((t) => t.accuracy !== undefined);
  const header = ["model", "frontend", "dataset", "steps", "first loss", "last loss", "lowest loss", ...(accuracy ? ["accuracy"] : [])];
  const numeric = [false, false, false, true, true, true, true, ...(accuracy ? [true] : [])];
  const rows = runs.map((t) => {
    const losses = Array.isArray(t.losses) ? t.losses.filter((x) => Number.isFinite(x)) : [];
    const row = [
      t.model,
      t.frontend,
      t.dataset,
      String(Array.isArray(t.losses) ? t.losses.length : 0),
      formatLoss(losses.length ? losses[0] : NaN),
      formatLoss(losses.length ? losses[losses.length - 1] : NaN),
      formatLoss(losses.length ? minMax(losses).min : NaN),
    ];
    if (accuracy) row.push(t.accuracy === undefined ? MISSING : `${(t.accuracy * 100).toFixed(1)}%`);
    return row;
  });
  return { header, numeric, rows };
}

/** A number or NaN, so formatters print "-" for anything else. */
function num(x: unknown): number {
  return typeof x === "number" ? x : NaN;
}

// ---------------------------------------------------------------------------------------------
// Markdown rendering

/**
 * Escapes text for Markdown inline content and table cells: backslash-escapes the characters
 * that would start emphasis, code, links or raw HTML, and the pipe that would end a cell. Line
 * breaks become spaces because a table row must stay on one line.
 */
export function escapeMarkdown(text: string): string {
  return String(text)
    .replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`)
    .replace(/\r\n|\r|\n/g, " ");
}

/** A code span that survives backticks in its content (CommonMark: use a longer fence). */
function codeSpan(text: string): string {
  const flat = String(text).replace(/\r\n|\r|\n/g, " ");
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((m) => m.length));
  const fence = "`".repeat(longest + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") ? " " : "";
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/** Renders a table as a GitHub-flavoured Markdown table (numbers right-aligned). */
export function markdownTable(t: ReportTable): string {
  const line = (cells: string[]) => `| ${cells.map(escapeMarkdown).join(" | ")} |`;
  const rule = `| ${t.numeric.map((n) => (n ? "---:" : "---")).join(" | ")} |`;
  return [line(t.header), rule, ...t.rows.map(line)].join("\n");
}

/**
 * The whole report as GitHub-flavoured Markdown: title, machine, a side-by-side table per model,
 * gradient agreement and training runs. The output depends only on `report` (no clock, no
 * locale), so regenerating it from the same JSON gives the same bytes.
 */
export function toMarkdown(report: BenchReport): string {
  const out: string[] = [];
  out.push("# dualgrad benchmark report", "");
  out.push(`**Machine:** ${escapeMarkdown(machineLine(report.machine))}`);
  if (report.machine.command) out.push("", `**Command:** ${codeSpan(report.machine.command)}`);
  out.push("");

  const benched = modelsOf(report).filter((m) => report.results.some((r) => r.model === m));
  if (benched.length > 0) {
    out.push("## Results", "");
    if (hasComparison(report)) out.push(`_${escapeMarkdown(COMPARISON_NOTE)}_`, "");
    for (const model of benched) {
      out.push(`### ${escapeMarkdown(model)}`, "", markdownTable(resultsTable(report, model)), "");
    }
  }

  const agreement = agreementTable(report);
  if (agreement) {
    out.push("## Gradient agreement (eager vs graph)", "");
    out.push("Largest absolute and relative difference over all parameter gradients, same initial parameters and batch.", "");
    out.push(markdownTable(agreement), "");
  }

  const training = trainingTable(report);
  if (training) out.push("## Training runs", "", markdownTable(training), "");

  return `${out.join("\n").trimEnd()}\n`;
}
