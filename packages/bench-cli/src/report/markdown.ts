import { formatBytes, formatCount, formatLoss, formatMs, formatRatio, formatSci, MISSING } from "./format.js";
import { varlenVerdict } from "./varlen-verdict.js";
import { COMPARISON_NOTE, metricRows, type Measured } from "./metrics.js";
import { benchedModels, frontendsOf, hasComparison, runIndex } from "./run-index.js";
import { sweepTable, sweepTitle } from "./sweep.js";
import type { ReportTable } from "./table.js";

export { benchedModels, frontendsOf, hasComparison, modelsOf, runsOf } from "./run-index.js";
export type { ReportTable } from "./table.js";
import { minMax } from "./series.js";
import type { BenchReport, BenchResult, MachineInfo } from "./types.js";

/**
 * The Markdown report, plus the table model it shares with the HTML report (and, for the metric
 * rows and the peer table, with the terminal): the renderers take their rows from the functions
 * below and the metric rows from metrics.ts, so the documents can never disagree about a number
 * or a label. Cells are plain text here; each renderer escapes them for its own syntax.
 */

/** The one run of a model on a frontend or peer (the last one wins if a file repeats a pair). */
export function resultFor(report: BenchReport, model: string, frontend: string): Measured | undefined {
  return runIndex(report).get(model, frontend);
}

/** One line describing where the numbers were measured. */
export function machineLine(m: MachineInfo): string {
  return [
    `${m.cpuModel}, ${m.cpus} cores, ${formatBytes(m.totalMemoryBytes)} RAM`,
    `${m.platform}/${m.arch}`,
    `Node ${m.node}`,
    `dualgrad ${m.version}`,
    ...(m.matmulPath ? [`matmul: ${m.matmulPath}`] : []),
    m.date,
  ].join(" · ");
}

/**
 * The side-by-side table for one model: a row per metric (`METRICS`), a column per frontend and
 * peer and, when both frontends ran, a "graph vs eager" column; then context rows.
 */
export function resultsTable(report: BenchReport, model: string): ReportTable {
  const frontends = frontendsOf(report);
  const compare = hasComparison(report);
  const results = frontends.map((f) => resultFor(report, model, f));
  const header = ["metric", ...frontends, ...(compare ? ["graph vs eager"] : [])];
  const numeric = [false, ...frontends.map(() => true), ...(compare ? [true] : [])];
  const rows = metricRows(results, frontends, compare);

  // Context rows: not comparisons, but they say what the numbers above were measured on.
  const extra = (label: string, cell: (r: Measured) => string) => {
    const row = [label, ...results.map((r) => (r ? cell(r) : MISSING))];
    if (compare) row.push("");
    rows.push(row);
  };
  extra("loss first → last", (r) => `${formatLoss(num(r.loss?.first))} → ${formatLoss(num(r.loss?.last))}`);
  extra("timed steps (warm-up)", (r) => `${formatCount(num(r.steps))} (${formatCount(num(r.warmup))})`);
  // Plan facts get a row each (rather than one sentence) so the graph column stays narrow.
  const plan = (r: Measured) => ("graph" in r ? r.graph : undefined);
  if (results.some((r) => r && plan(r))) {
    extra("graph nodes", (r) => formatCount(num(plan(r)?.nodes)));
    extra("fused kernels", (r) => formatCount(num(plan(r)?.fusedKernels)));
    extra("arena bytes", (r) => formatBytes(num(plan(r)?.arenaBytes)));
  }
  return { header, numeric, rows };
}

/**
 * The peer libraries beside us, one row per model: our best frontend's median ms/step, then per
 * peer its median and its time over ours ("3.1x" = the peer takes 3.1 times as long per step;
 * below 1x the peer is faster). Null when the report has no peer results.
 */
export function peerComparisonTable(report: BenchReport): ReportTable | null {
  const peers = report.peers ?? [];
  if (peers.length === 0) return null;
  const names = [...new Set(peers.map((p) => p.frontend as string))];
  const header = ["model", "dualgrad best", ...names.flatMap((p) => [p, `${p}/ours`])];
  const numeric = header.map((_, i) => i > 0);
  const models = benchedModels(report);
  const rows = models.map((model) => {
    const best = runIndex(report).runsOf(model).filter((r) => !("peer" in r)).sort((a, b) => num(a.msPerStep?.median) - num(b.msPerStep?.median))[0];
    const ours = num(best?.msPerStep?.median);
    const row = [model, best ? `${formatMs(ours)} (${best.frontend})` : MISSING];
    for (const name of names) {
      const theirs = num(resultFor(report, model, name)?.msPerStep?.median);
      row.push(formatMs(theirs), formatRatio(theirs, ours));
    }
    return row;
  });
  return { header, numeric, rows };
}

/** What each peer ran: its packages and versions, backend and how it was driven. Null without peers. */
export function peerInfoTable(report: BenchReport): ReportTable | null {
  const seen = new Map<string, string[]>();
  for (const p of report.peers ?? []) {
    const packages = Object.entries(p.peer?.packages ?? {}).map(([name, version]) => `${name} ${version}`).join(", ");
    seen.set(p.frontend, [p.frontend, packages || MISSING, p.peer?.backend ?? MISSING, p.peer?.detail ?? MISSING]);
  }
  if (seen.size === 0) return null;
  return { header: ["peer", "packages", "backend", "how it ran"], numeric: [false, false, false, false], rows: [...seen.values()] };
}

/** The note under the sweep tables and charts. */
export const SWEEP_NOTE = "One model at several sizes, each size measured like any model. Where per-op overhead dominates, ms/step barely grows with size; once the arithmetic dominates it grows in proportion.";

/** The note under the peer tables: what the ratio means. */
export const PEER_NOTE = "Other libraries on the same workloads with the same timing protocol, each in a fresh process. peer/ours: the peer's median ms/step over our best frontend's (below 1x: the peer is faster).";

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
 * The whole report as GitHub-flavoured Markdown: title, machine, a side-by-side table per model
 * (frontends and peers), the peer libraries, gradient agreement and training runs. The output depends only on `report` (no clock, no
 * locale), so regenerating it from the same JSON gives the same bytes.
 */
export function toMarkdown(report: BenchReport): string {
  const out: string[] = [];
  out.push("# dualgrad benchmark report", "");
  out.push(`**Machine:** ${escapeMarkdown(machineLine(report.machine))}`);
  if (report.machine.command) out.push("", `**Command:** ${codeSpan(report.machine.command)}`);
  out.push("");

  const benched = benchedModels(report);
  if (benched.length > 0) {
    out.push("## Results", "");
    if (hasComparison(report)) out.push(`_${escapeMarkdown(COMPARISON_NOTE)}_`, "");
    for (const model of benched) {
      out.push(`### ${escapeMarkdown(model)}`, "", markdownTable(resultsTable(report, model)), "");
    }
    const verdict = varlenVerdict(report);
    if (verdict) out.push(`**Variable lengths:** ${escapeMarkdown(verdict)}`, "");
  }

  const peers = peerComparisonTable(report);
  const peerInfo = peerInfoTable(report);
  if (peers && peerInfo) {
    out.push("## Peer libraries", "", escapeMarkdown(PEER_NOTE), "", markdownTable(peers), "", markdownTable(peerInfo), "");
  }

  if (report.sweeps?.length) {
    out.push("## Sweeps", "", escapeMarkdown(SWEEP_NOTE), "");
    for (const sweep of report.sweeps) out.push(`### ${escapeMarkdown(sweepTitle(sweep))}`, "", markdownTable(sweepTable(report, sweep)), "");
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
