import { formatBytes, formatLoss, formatMs, MISSING } from "./format.js";
import {
  agreementTable,
  benchedModels,
  frontendsOf,
  hasComparison,
  machineLine,
  PEER_NOTE,
  peerComparisonTable,
  peerInfoTable,
  resultFor,
  resultsTable,
  SWEEP_NOTE,
  trainingTable,
  type ReportTable,
} from "./markdown.js";
import { COMPARISON_NOTE, metric, metricValue } from "./metrics.js";
import { downsample, minMax } from "./series.js";
import { SWEEP_METRICS, sweepLabel, sweepSeries, sweepTable, sweepTitle } from "./sweep.js";
import type { BenchReport, SweepResult } from "./types.js";
import { profileSection } from "./profile-section.js";
import { roundMedians, roundsRange } from "./rounds.js";
import { varlenVerdict } from "./varlen-verdict.js";

/**
 * The HTML report: one self-contained file (inline CSS, inline SVG charts drawn here, no
 * scripts, no fonts or images, nothing fetched) so it can be mailed, attached to a CI run or
 * opened from disk years later and look the same. A Content-Security-Policy forbids every
 * external load, so a mistake that references one fails closed instead of leaking a request.
 */

// ---------------------------------------------------------------------------------------------
// Escaping

/** Escapes text for HTML content and (double- or single-quoted) attribute values. */
export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Short alias used throughout the templates below. */
const h = escapeHtml;

/** A number for SVG coordinates: two decimals at most, so the markup stays small and stable. */
function n(x: number): string {
  return String(Math.round(x * 100) / 100);
}

// ---------------------------------------------------------------------------------------------
// Scales

type Unit = "ms" | "bytes" | "loss" | "steps" | "size";

interface Scale {
  /** Value to pixel (y grows downwards in SVG, so `lo` maps to the bottom). */
  map(v: number): number;
  ticks: number[];
  log: boolean;
  lo: number;
  hi: number;
}

/**
 * Chooses the axis for a set of values: logarithmic when the positive values span more than two
 * decades (a linear axis would flatten every small model to a sliver), linear otherwise.
 * Log ticks are powers of ten, or powers of two for bytes so they land on round KiB/MiB; linear
 * ticks are 1-2-5 steps, in the value's binary unit for bytes for the same reason.
 */
function makeScale(values: number[], unit: Unit, pxBottom: number, pxTop: number, includeZero: boolean, forceLog = false): Scale {
  const finite = values.filter((v) => Number.isFinite(v));
  const positive = finite.filter((v) => v > 0);
  const min = positive.length ? minMax(positive).min : 0;
  const range = minMax(finite);
  const max = finite.length ? range.max : 0;
  const log = forceLog ? positive.length > 0 : unit !== "steps" && positive.length > 0 && max / min > 100 && finite.every((v) => v > 0 || includeZero);

  if (log) {
    const base = unit === "bytes" || unit === "size" ? 2 : 10;
    const lg = (v: number) => Math.log(v) / Math.log(base);
    let a = Math.floor(lg(min) + 1e-9);
    let b = Math.ceil(lg(max) - 1e-9);
    if (a === b) b++;
    // Few enough ticks to label without crowding: bytes step through 2^1, 2^2, 2^5, 2^10.
    const steps = base === 2 ? [1, 2, 5, 10] : [1, 2, 3, 5];
    const step = steps.find((s) => (b - a) / s <= 8) ?? steps[steps.length - 1];
    a = Math.floor(a / step) * step;
    b = Math.ceil(b / step) * step;
    const ticks: number[] = [];
    for (let k = a; k <= b; k += step) ticks.push(base ** k);
    const lo = base ** a;
    const hi = base ** b;
    const map = (v: number) => {
      const t = v > 0 ? (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) : 0;
      return pxBottom + (pxTop - pxBottom) * Math.min(Math.max(t, 0), 1);
    };
    return { map, ticks, log, lo, hi };
  }

  let lo = includeZero ? Math.min(0, finite.length ? range.min : 0) : finite.length ? range.min : 0;
  let hi = Math.max(max, lo);
  if (hi === lo) hi = lo === 0 ? 1 : lo + Math.abs(lo) * 0.5;
  const u = unit === "bytes" ? 1024 ** Math.max(0, Math.floor(Math.log(Math.max(Math.abs(hi), 1)) / Math.log(1024))) : 1;
  const step = niceStep((hi - lo) / u / 5) * u;
  lo = Math.floor(lo / step + 1e-9) * step;
  hi = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step * 1e-6; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  const map = (v: number) => pxBottom + ((pxTop - pxBottom) * (v - lo)) / (hi - lo);
  return { map, ticks, log: false, lo, hi };
}

/** The 1-2-5 step at or above `raw`. */
function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/** Drops trailing zeros that matter in a table column but are noise on an axis ("4.00 KiB" → "4 KiB"). */
function trimZeros(s: string): string {
  return s.replace(/(\.\d*?)0+(?=\s|x|$)/, "$1").replace(/\.(?=\s|x|$)/, "");
}

function tickLabel(v: number, unit: Unit): string {
  switch (unit) {
    case "ms":
      return trimZeros(formatMs(v));
    case "bytes":
      return trimZeros(formatBytes(v));
    case "loss":
      return formatLoss(v);
    default:
      return String(Math.round(v));
  }
}

// ---------------------------------------------------------------------------------------------
// Chart pieces

/** CSS class suffix for a frontend's colour: eager and graph have fixed colours, others cycle. */
function seriesClass(frontend: string, others: string[]): string {
  if (frontend === "eager" || frontend === "graph") return frontend;
  const i = others.indexOf(frontend);
  return `s${(i < 0 ? 0 : i) % 4}`;
}

interface Frame {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Horizontal grid lines with labels on the left, and the rotated axis title. */
function yAxis(scale: Scale, unit: Unit, f: Frame, title: string): string {
  const parts: string[] = [];
  for (const t of scale.ticks) {
    const y = scale.map(t);
    parts.push(`<line class="grid" x1="${n(f.left)}" x2="${n(f.right)}" y1="${n(y)}" y2="${n(y)}"/>`);
    parts.push(`<text class="tick" x="${n(f.left - 6)}" y="${n(y)}" text-anchor="end" dominant-baseline="middle">${h(tickLabel(t, unit))}</text>`);
  }
  parts.push(`<line class="axis" x1="${n(f.left)}" x2="${n(f.left)}" y1="${n(f.top)}" y2="${n(f.bottom)}"/>`);
  parts.push(`<line class="axis" x1="${n(f.left)}" x2="${n(f.right)}" y1="${n(f.bottom)}" y2="${n(f.bottom)}"/>`);
  const cy = (f.top + f.bottom) / 2;
  const tx = f.left - 72; // clear of the widest tick label ("512 KiB", "0.0042 ms")
  const full = scale.log ? `${title} (log scale)` : title;
  parts.push(`<text class="axis-title" x="${n(tx)}" y="${n(cy)}" text-anchor="middle" transform="rotate(-90 ${n(tx)} ${n(cy)})">${h(full)}</text>`);
  return parts.join("");
}

/**
 * A row of colour swatches with labels, right-aligned at `right`. Line charts get line samples
 * instead of boxes, so the legend also shows which series is dashed.
 */
function legend(items: { label: string; cls: string }[], right: number, y: number, lines = false): string {
  // Width estimate from character count: good enough to lay out without measuring text.
  const widths = items.map((it) => 22 + it.label.length * 7 + 14);
  let x = right - widths.reduce((a, b) => a + b, 0);
  const parts: string[] = [`<g class="legend">`];
  items.forEach((it, i) => {
    if (lines) parts.push(`<line class="line line-${it.cls}" x1="${n(x - 4)}" x2="${n(x + 16)}" y1="${n(y)}" y2="${n(y)}"/>`);
    else parts.push(`<rect class="fill-${it.cls}" x="${n(x)}" y="${n(y - 6)}" width="14" height="12" rx="2"/>`);
    parts.push(`<text x="${n(x + 20)}" y="${n(y)}" dominant-baseline="middle">${h(it.label)}</text>`);
    x += widths[i];
  });
  parts.push(`</g>`);
  return parts.join("");
}

/** Longest category label drawn in full; longer names are cut (the full name stays in a tooltip). */
const MAX_LABEL = 28;

function shortLabel(m: string): string {
  return m.length > MAX_LABEL ? `${m.slice(0, MAX_LABEL - 1)}…` : m;
}

/** Length of the longest drawn label (a loop: a spread of 40k names would near the argument limit). */
function longestLabel(models: string[]): number {
  let longest = 0;
  for (const m of models) longest = Math.max(longest, shortLabel(m).length);
  return longest;
}

/** True when the category labels do not fit side by side and are drawn slanted. */
function slantLabels(models: string[], groupW: number): boolean {
  return longestLabel(models) * 7.5 > groupW - 8;
}

/** Model names under their groups, slanted when the groups are too narrow for the text. */
function categoryLabels(models: string[], groupX: (i: number) => number, groupW: number, y: number): string {
  const slant = slantLabels(models, groupW);
  return models
    .map((m, i) => {
      const x = groupX(i) + groupW / 2;
      const tip = m.length > MAX_LABEL ? `<title>${h(m)}</title>` : "";
      return slant
        ? `<text class="cat" x="${n(x)}" y="${n(y)}" text-anchor="end" transform="rotate(-30 ${n(x)} ${n(y)})">${tip}${h(shortLabel(m))}</text>`
        : `<text class="cat" x="${n(x)}" y="${n(y)}" text-anchor="middle">${tip}${h(shortLabel(m))}</text>`;
    })
    .join("");
}

interface BarDatum {
  value: number;
  whisker?: number;
  label: string;
  tooltip: string;
}

/**
 * A grouped bar chart: one group per model, one bar per frontend, optional whisker above each bar
 * (p90 for timings) and the value printed above it.
 */
function groupedBars(opts: {
  testid: string;
  title: string;
  unit: Unit;
  axisTitle: string;
  models: string[];
  frontends: string[];
  datum: (model: string, frontend: string) => BarDatum | undefined;
}): string {
  const W = 960;
  const H = 380;
  const { models, frontends } = opts;
  const frame: Frame = { left: 86, right: W - 16, top: 48, bottom: H - 40 };
  const groupW = (frame.right - frame.left) / Math.max(1, models.length);
  // Slanted labels need room below the axis (sin 30° of their length); grow the picture rather
  // than clip them.
  const longest = longestLabel(models);
  const extra = slantLabels(models, groupW) ? longest * 7.5 * 0.5 : 0;
  const height = H + extra;

  const data = models.flatMap((m) => frontends.map((f) => opts.datum(m, f)).filter((d): d is BarDatum => d !== undefined));
  const scale = makeScale(data.flatMap((d) => [d.value, d.whisker ?? NaN]), opts.unit, frame.bottom, frame.top + 14, true);
  const others = frontends.filter((f) => f !== "eager" && f !== "graph");

  const gap = 8;
  const barW = Math.max(6, Math.min(56, (groupW * 0.72 - gap * (frontends.length - 1)) / Math.max(1, frontends.length)));
  const clusterW = barW * frontends.length + gap * (frontends.length - 1);
  const groupX = (i: number) => frame.left + i * groupW;

  const parts: string[] = [];
  parts.push(
    `<svg data-testid="${h(opts.testid)}" class="chart" viewBox="0 0 ${W} ${n(height)}" width="${W}" height="${n(height)}" role="img" aria-label="${h(opts.title)}">`,
  );
  parts.push(`<title>${h(opts.title)}</title>`);
  parts.push(`<text class="chart-title" x="${frame.left}" y="22">${h(opts.title)}</text>`);
  parts.push(legend(frontends.map((f) => ({ label: f, cls: seriesClass(f, others) })), frame.right, 22));
  parts.push(yAxis(scale, opts.unit, frame, opts.axisTitle));

  models.forEach((model, i) => {
    const x0 = groupX(i) + (groupW - clusterW) / 2;
    frontends.forEach((f, j) => {
      const d = opts.datum(model, f);
      const x = x0 + j * (barW + gap);
      const cx = x + barW / 2;
      if (!d || !Number.isFinite(d.value)) {
        parts.push(`<text class="value" x="${n(cx)}" y="${n(frame.bottom - 6)}" text-anchor="middle">${MISSING}</text>`);
        return;
      }
      const y = scale.map(Math.max(d.value, scale.lo));
      const top = Math.min(y, frame.bottom - 1); // a zero still shows as a hairline
      parts.push(
        `<rect class="fill-${seriesClass(f, others)}" x="${n(x)}" y="${n(top)}" width="${n(barW)}" height="${n(frame.bottom - top)}"><title>${h(d.tooltip)}</title></rect>`,
      );
      let labelY = top;
      if (d.whisker !== undefined && Number.isFinite(d.whisker) && d.whisker > d.value) {
        const wy = scale.map(d.whisker);
        const cap = Math.min(barW * 0.4, 10);
        parts.push(`<line class="whisker" x1="${n(cx)}" x2="${n(cx)}" y1="${n(top)}" y2="${n(wy)}"/>`);
        parts.push(`<line class="whisker" x1="${n(cx - cap)}" x2="${n(cx + cap)}" y1="${n(wy)}" y2="${n(wy)}"/>`);
        labelY = Math.min(labelY, wy);
      }
      parts.push(`<text class="value" x="${n(cx)}" y="${n(labelY - 5)}" text-anchor="middle">${h(d.label)}</text>`);
    });
  });
  parts.push(categoryLabels(models, groupX, groupW, frame.bottom + 20));
  parts.push(`</svg>`);
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------
// Loss curves

interface LossPanel {
  title: string;
  /** `steps[i]` is the true step number of `losses[i]` (runs are sampled at different strides). */
  series: { frontend: string; label: string; losses: number[]; steps: number[] }[];
}

/**
 * The true step numbers of a benchmark run's sampled loss curve: `lossSteps` when the file has
 * it; for older files, the stride `stepStatistics` used (every floor(steps/100)-th step) when
 * the lengths match, else the samples spread evenly over the timed steps.
 */
function benchLossSteps(r: { lossCurve?: unknown; lossSteps?: unknown; steps?: unknown }, length: number): number[] {
  if (Array.isArray(r.lossSteps) && r.lossSteps.length === length && r.lossSteps.every((s) => typeof s === "number")) return r.lossSteps as number[];
  const steps = typeof r.steps === "number" && r.steps >= length ? r.steps : length;
  const every = Math.max(1, Math.floor(steps / 100));
  if (Math.ceil(steps / every) === length) return Array.from({ length }, (_, k) => k * every);
  return Array.from({ length }, (_, k) => (length > 1 ? Math.round((k * (steps - 1)) / (length - 1)) : 0));
}

/** Groups loss data into panels: one per training run (model + dataset) and one per benchmarked model. */
function lossPanels(report: BenchReport): LossPanel[] {
  const panels = new Map<string, LossPanel>();
  const add = (key: string, title: string, frontend: string, label: string, losses: unknown, steps: (length: number) => number[]) => {
    if (!Array.isArray(losses) || losses.length === 0) return;
    let p = panels.get(key);
    if (!p) panels.set(key, (p = { title, series: [] }));
    p.series.push({ frontend, label, losses: losses.map((x) => (typeof x === "number" ? x : NaN)), steps: steps(losses.length) });
  };
  const everyStep = (length: number) => Array.from({ length }, (_, i) => i);
  for (const t of report.training ?? []) {
    const acc = t.accuracy !== undefined && Number.isFinite(t.accuracy) ? ` (${(t.accuracy * 100).toFixed(1)}%)` : "";
    add(`train\u0000${t.model}\u0000${t.dataset}`, `${t.model} on ${t.dataset} (training)`, String(t.frontend), `${t.frontend}${acc}`, t.losses, everyStep);
  }
  for (const r of report.results) {
    add(`bench\u0000${r.model}`, `${r.model} (benchmark steps)`, r.frontend, r.frontend, r.lossCurve, (length) => benchLossSteps(r, length));
  }
  // Draw eager before graph whatever the file's order, so the dashed graph line lies on top.
  const rank = (f: string) => (f === "eager" ? 0 : f === "graph" ? 1 : 2);
  for (const p of panels.values()) p.series.sort((a, b) => rank(a.frontend) - rank(b.frontend));
  return [...panels.values()];
}

/**
 * A panel's curves as `[step, loss]` points over the same step range: up to the last step the
 * shortest run reached, so a run that went on longer is not drawn squeezed against the others.
 * Each series is cut there first and then downsampled (true step numbers kept).
 */
export function panelPoints(series: { losses: number[]; steps: number[] }[]): { points: [number, number][][]; lastStep: number } {
  const lastStep = Math.min(...series.map((s) => s.steps[s.steps.length - 1] ?? 0));
  const points = series.map((s) => {
    let end = 0;
    while (end < s.steps.length && s.steps[end] <= lastStep) end++;
    return downsample(s.losses.slice(0, end)).map(([i, v]): [number, number] => [s.steps[i], v]);
  });
  return { points, lastStep };
}

/** The loss chart: small multiples, one panel per model/run, each with its own axes. */
function lossChart(report: BenchReport): string {
  // Downsampling keeps each bucket's extremes, so the axis from the kept points is the full one.
  const panels = lossPanels(report).map((p): PointPanel => {
    const { points, lastStep } = panelPoints(p.series);
    return { title: p.title, lastStep, series: p.series.map((s, k) => ({ frontend: s.frontend, label: s.label, points: points[k] })) };
  });
  return panelChart(panels, { testid: "chart-loss", title: "Loss curves", unit: "loss", yTitle: "loss" });
}

/**
 * The static-cost chart: per benchmarked model, cumulative wall time from a cold start against
 * steps, eager and graph (graph's compilation shows as its head start; where the lines cross
 * is the break-even step).
 */
function cumulativeChart(report: BenchReport): string {
  const panels: PointPanel[] = [];
  for (const model of benchedModels(report)) {
    const series = (["eager", "graph"] as const).flatMap((f) => {
      const r = resultFor(report, model, f);
      const c = r && "static" in r ? r.static?.cumulative : undefined;
      // A hand-edited file may hold anything here: keep only [finite step, finite ms] pairs.
      const points = (Array.isArray(c) ? (c as unknown[]) : []).filter(
        (p): p is [number, number] => Array.isArray(p) && p.length === 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]),
      );
      return points.length > 0 ? [{ frontend: f, label: f, points }] : [];
    });
    if (series.length > 0) panels.push({ title: `${model} (cumulative time)`, series });
  }
  return panels.length === 0 ? "" : panelChart(panels, { testid: "chart-cumulative", title: "Cumulative time against steps", unit: "ms", yTitle: "total ms" });
}

/** A panel of {@link panelChart}: series of `[x, y]` points, drawn up to `lastStep` (default: the largest x). */
interface PointPanel {
  title: string;
  lastStep?: number;
  series: { frontend: string; label: string; points: [number, number][] }[];
}

/** Line charts as small multiples, one panel per entry, each with its own axes; x is the step. */
function panelChart(panels: PointPanel[], opts: { testid: string; title: string; unit: Unit; yTitle: string }): string {
  if (panels.length === 0) return "";
  const W = 960;
  const cols = panels.length === 1 ? 1 : 2;
  const rows = Math.ceil(panels.length / cols);
  const PW = W / cols;
  const PH = 270;
  const H = rows * PH + 8;
  const others = [...new Set(panels.flatMap((p) => p.series.map((s) => s.frontend)))].filter((f) => f !== "eager" && f !== "graph");

  const parts: string[] = [];
  parts.push(
    `<svg data-testid="${h(opts.testid)}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${h(opts.title)}">`,
  );
  parts.push(`<title>${h(opts.title)}</title>`);
  panels.forEach((p, i) => {
    const ox = (i % cols) * PW;
    const oy = Math.floor(i / cols) * PH;
    const f: Frame = { left: ox + 86, right: ox + PW - 16, top: oy + 52, bottom: oy + PH - 40 };
    const points = p.series.map((s) => s.points);
    const maxX = p.lastStep ?? minMax(points.flatMap((pts) => pts.map((pt) => pt[0]))).max;
    const y = makeScale(points.flatMap((pts) => pts.map((pt) => pt[1])), opts.unit, f.bottom, f.top, false);
    const xs = makeScale([0, Math.max(1, maxX)], "steps", f.left, f.right, true);

    parts.push(`<g class="panel">`);
    parts.push(`<text class="panel-title" x="${n(f.left)}" y="${n(oy + 22)}">${h(p.title)}</text>`);
    parts.push(
      legend(
        p.series.map((s) => ({ label: s.label, cls: seriesClass(s.frontend, others) })),
        f.right,
        oy + 40,
        true,
      ),
    );
    parts.push(yAxis(y, opts.unit, f, opts.yTitle));
    for (const t of xs.ticks) {
      const x = xs.map(t);
      parts.push(`<line class="axis" x1="${n(x)}" x2="${n(x)}" y1="${n(f.bottom)}" y2="${n(f.bottom + 4)}"/>`);
      parts.push(`<text class="tick" x="${n(x)}" y="${n(f.bottom + 16)}" text-anchor="middle">${h(tickLabel(t, "steps"))}</text>`);
    }
    parts.push(`<text class="axis-title" x="${n((f.left + f.right) / 2)}" y="${n(f.bottom + 32)}" text-anchor="middle">step</text>`);

    for (const [k, s] of p.series.entries()) {
      // Split at non-finite (diverged) or, on a log axis, non-positive values: a gap is honest,
      // a line to the axis floor would invent data.
      const segments: string[][] = [[]];
      for (const [i2, v] of points[k]) {
        if (!Number.isFinite(v) || (y.log && v <= 0)) {
          if (segments[segments.length - 1].length) segments.push([]);
          continue;
        }
        segments[segments.length - 1].push(`${n(xs.map(i2))},${n(y.map(v))}`);
      }
      const cls = seriesClass(s.frontend, others);
      for (const seg of segments) {
        if (seg.length === 1) parts.push(`<circle class="fill-${cls}" cx="${seg[0].split(",")[0]}" cy="${seg[0].split(",")[1]}" r="2"/>`);
        else if (seg.length > 1) parts.push(`<polyline class="line line-${cls}" points="${seg.join(" ")}"><title>${h(`${p.title}: ${s.label}`)}</title></polyline>`);
      }
    }
    parts.push(`</g>`);
  });
  parts.push(`</svg>`);
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------
// Sweeps

/**
 * One sweep quantity against size on log-log axes, a line with dots per frontend and peer: a
 * flat stretch is per-op overhead, a slope of 1 is work growing with size.
 */
function sweepChart(report: BenchReport, sweep: SweepResult, key: (typeof SWEEP_METRICS)[number]): string {
  const series = sweepSeries(report, sweep, key);
  if (series.length === 0) return "";
  const unit: Unit = key === "msMedian" ? "ms" : "bytes";
  const what = key === "msMedian" ? "ms / step (median)" : "peak tensor bytes";
  const title = `${sweep.model}: ${what} against ${sweepLabel(sweep)}`;
  const W = 960;
  const H = 360;
  const f: Frame = { left: 86, right: W - 16, top: 48, bottom: H - 44 };
  const xs = makeScale(sweep.values, "size", f.left, f.right, false, true);
  const ys = makeScale(series.flatMap((s) => s.points.map((p) => p[1])), unit, f.bottom, f.top, false, true);
  const others = series.map((s) => s.frontend).filter((x) => x !== "eager" && x !== "graph");
  const parts: string[] = [];
  parts.push(`<svg data-testid="chart-sweep-${h(key)}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${h(title)}">`);
  parts.push(`<title>${h(title)}</title>`);
  parts.push(`<text class="chart-title" x="${f.left}" y="22">${h(title)}</text>`);
  parts.push(legend(series.map((s) => ({ label: s.frontend, cls: seriesClass(s.frontend, others) })), f.right, 36, true));
  parts.push(yAxis(ys, unit, f, what));
  for (const t of xs.ticks) {
    const x = xs.map(t);
    parts.push(`<line class="axis" x1="${n(x)}" x2="${n(x)}" y1="${n(f.bottom)}" y2="${n(f.bottom + 4)}"/>`);
    parts.push(`<text class="tick" x="${n(x)}" y="${n(f.bottom + 16)}" text-anchor="middle">${h(tickLabel(t, "size"))}</text>`);
  }
  parts.push(`<text class="axis-title" x="${n((f.left + f.right) / 2)}" y="${n(f.bottom + 34)}" text-anchor="middle">${h(`${sweepLabel(sweep)} (log scale)`)}</text>`);
  for (const s of series) {
    const cls = seriesClass(s.frontend, others);
    const pts = s.points.map(([x, y]) => `${n(xs.map(x))},${n(ys.map(y))}`);
    if (pts.length > 1) parts.push(`<polyline class="line line-${cls}" points="${pts.join(" ")}"><title>${h(s.frontend)}</title></polyline>`);
    for (const [x, y] of s.points) {
      const tip = `${s.frontend}, ${sweepLabel(sweep)} ${x}: ${unit === "ms" ? formatMs(y) : formatBytes(y)}`;
      parts.push(`<circle class="fill-${cls}" cx="${n(xs.map(x))}" cy="${n(ys.map(y))}" r="3"><title>${h(tip)}</title></circle>`);
    }
  }
  parts.push(`</svg>`);
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------
// Tables and page

function htmlTable(t: ReportTable, caption?: string): string {
  const cls = (i: number) => (t.numeric[i] ? ` class="num"` : "");
  const head = t.header.map((c, i) => `<th${cls(i)}>${h(c)}</th>`).join("");
  const body = t.rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${h(c)}</th>` : `<td${cls(i)}>${h(c)}</td>`)).join("")}</tr>`).join("\n");
  return `<table>${caption ? `<caption>${h(caption)}</caption>` : ""}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const CSS = `
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --grid: #e3e8ee; --axis: #8c959f;
  --border: #d1d9e0; --stripe: #f6f8fa; --eager: #2f6fb3; --graph: #d9730d; --s0: #2e8b57; --s1: #8e44ad; --s2: #c0392b; --s3: #7f8c8d; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --grid: #262c36; --axis: #656c76;
    --border: #30363d; --stripe: #151b23; --eager: #6cb6ff; --graph: #ffa657; --s0: #56d364; --s1: #d2a8ff; --s2: #ff7b72; --s3: #b1bac4; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 1.7em; margin: 0 0 6px; }
h2 { font-size: 1.3em; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--border); }
h3 { font-size: 1.05em; margin: 22px 0 6px; }
.meta { color: var(--muted); margin: 2px 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; background: var(--stripe); padding: 1px 4px; border-radius: 4px; overflow-wrap: anywhere; }
.note { color: var(--muted); font-size: 0.9em; }
figure { margin: 12px 0 20px; }
figcaption { color: var(--muted); font-size: 0.9em; }
svg.chart { display: block; max-width: 100%; height: auto; color: var(--fg); font-size: 12px; font-family: inherit; }
svg text { fill: var(--fg); }
svg .tick, svg .cat, svg .value { fill: var(--muted); }
svg .tick { font-size: 11px; }
svg .value { font-size: 11px; }
svg .cat { font-size: 12.5px; fill: var(--fg); }
svg .chart-title { font-size: 15px; font-weight: 600; }
svg .panel-title { font-size: 13.5px; font-weight: 600; }
svg .axis-title { font-size: 12px; fill: var(--muted); }
svg .grid { stroke: var(--grid); stroke-width: 1; }
svg .axis { stroke: var(--axis); stroke-width: 1; }
svg .whisker { stroke: var(--fg); stroke-width: 1.5; opacity: 0.75; }
svg .line { fill: none; stroke-width: 1.8; stroke-linejoin: round; stroke-linecap: round; }
/* Eager and graph curves usually coincide (same init, same data): eager is drawn wide and solid,
   graph narrow and dashed on top, so both stay visible where they overlap. */
.fill-eager { fill: var(--eager); } .line-eager { stroke: var(--eager); stroke-width: 3.2; opacity: 0.85; }
.fill-graph { fill: var(--graph); } .line-graph { stroke: var(--graph); stroke-width: 1.6; stroke-dasharray: 7 4; }
.fill-s0 { fill: var(--s0); } .line-s0 { stroke: var(--s0); }
.fill-s1 { fill: var(--s1); } .line-s1 { stroke: var(--s1); }
.fill-s2 { fill: var(--s2); } .line-s2 { stroke: var(--s2); }
.fill-s3 { fill: var(--s3); } .line-s3 { stroke: var(--s3); }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 0.92em; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { border: 1px solid var(--border); padding: 4px 10px; text-align: left; vertical-align: top; }
thead th { background: var(--stripe); }
tbody th { font-weight: 500; }
tbody tr:nth-child(even) td, tbody tr:nth-child(even) th { background: var(--stripe); }
.num { text-align: right; white-space: nowrap; }
footer { margin-top: 40px; color: var(--muted); font-size: 0.85em; }
`;

/**
 * The whole report as one self-contained HTML document: machine, a bar chart of ms/step (median
 * with a p90 whisker), a bar chart of peak tensor bytes, loss curves when the report has any, and
 * the same tables as {@link toMarkdown}. All text from the report is escaped (model names are
 * user input). Light and dark colour schemes follow `prefers-color-scheme`. Deterministic: the
 * output depends only on `report`.
 */
export function toHtml(report: BenchReport): string {
  const m = report.machine;
  const frontends = frontendsOf(report);
  const benched = benchedModels(report);
  const body: string[] = [];

  body.push(`<h1>dualgrad benchmark report</h1>`);
  body.push(`<p class="meta">${h(machineLine(m))}</p>`);
  if (m.command) body.push(`<p class="meta">Command: <code>${h(m.command)}</code></p>`);

  if (benched.length > 0) {
    body.push(`<h2>Speed</h2>`);
    body.push(
      `<figure>${groupedBars({
        testid: "chart-ms",
        title: "Milliseconds per training step (lower is better)",
        unit: "ms",
        axisTitle: "ms / step",
        models: benched,
        frontends,
        datum: (model, f) => {
          const r = resultFor(report, model, f);
          if (!r) return undefined;
          const med = metricValue(metric("msMedian"), r);
          const p90 = metricValue(metric("msP90"), r);
          const medians = roundMedians(r);
          const rounds = medians ? `; ${medians.length} rounds, medians ${roundsRange(r)}` : "";
          return { value: med, whisker: p90, label: formatMs(med), tooltip: `${model} · ${f}: median ${formatMs(med)}, p90 ${formatMs(p90)}${rounds}` };
        },
      })}<figcaption>Bar: median step time; whisker: 90th percentile.</figcaption></figure>`,
    );
    body.push(`<h2>Memory</h2>`);
    body.push(
      `<figure>${groupedBars({
        testid: "chart-memory",
        title: "Peak tensor bytes (lower is better)",
        unit: "bytes",
        axisTitle: "peak tensor bytes",
        models: benched,
        frontends,
        datum: (model, f) => {
          const r = resultFor(report, model, f);
          if (!r) return undefined;
          const v = metricValue(metric("peakTensorBytes"), r);
          const live = metricValue(metric("liveTensorBytes"), r);
          return { value: v, label: formatBytes(v), tooltip: `${model} · ${f}: peak ${formatBytes(v)}, live at end ${formatBytes(live)}` };
        },
      })}<figcaption>Highest live tensor bytes from model construction through the last step (dualgrad's allocator).</figcaption></figure>`,
    );
  }

  const loss = lossChart(report);
  if (loss) {
    body.push(`<h2>Loss</h2>`);
    body.push(`<figure>${loss}<figcaption>Loss against the true step number, over the steps every run in a panel reached; eager solid, graph dashed.</figcaption></figure>`);
  }

  const cumulative = cumulativeChart(report);
  if (cumulative) {
    body.push(`<h2>What static costs</h2>`);
    body.push(`<figure>${cumulative}<figcaption>Total time from a cold start (compilation included) against steps; eager solid, graph dashed. Where the graph's line drops below eager's is the break-even step.</figcaption></figure>`);
  }

  if (benched.length > 0) {
    body.push(`<h2>Results</h2>`);
    if (hasComparison(report)) body.push(`<p class="note">${h(COMPARISON_NOTE)}</p>`);
    for (const model of benched) {
      body.push(`<h3>${h(model)}</h3>`);
      body.push(htmlTable(resultsTable(report, model)));
    }
    const verdict = varlenVerdict(report);
    if (verdict) body.push(`<p class="note"><strong>Variable lengths:</strong> ${h(verdict)}</p>`);
  }
  const peers = peerComparisonTable(report);
  const peerInfo = peerInfoTable(report);
  if (peers && peerInfo) {
    body.push(`<h2>Peer libraries</h2>`);
    body.push(`<p class="note">${h(PEER_NOTE)}</p>`);
    body.push(htmlTable(peers));
    body.push(htmlTable(peerInfo));
  }
  if (report.sweeps?.length) {
    body.push(`<h2>Sweeps</h2>`);
    body.push(`<p class="note">${h(SWEEP_NOTE)}</p>`);
    for (const sweep of report.sweeps) {
      body.push(`<h3>${h(sweepTitle(sweep))}</h3>`);
      for (const key of SWEEP_METRICS) {
        const chart = sweepChart(report, sweep, key);
        if (chart) body.push(`<figure>${chart}</figure>`);
      }
      body.push(htmlTable(sweepTable(report, sweep)));
    }
  }
  const agreement = agreementTable(report);
  if (agreement) {
    body.push(`<h2>Gradient agreement (eager vs graph)</h2>`);
    body.push(`<p class="note">Largest absolute and relative difference over all parameter gradients, same initial parameters and batch.</p>`);
    body.push(htmlTable(agreement));
  }
  const training = trainingTable(report);
  if (training) {
    body.push(`<h2>Training runs</h2>`);
    body.push(htmlTable(training));
  }
  body.push(...profileSection(report, htmlTable, h));
  body.push(`<footer>Generated by dualgrad ${h(m.version)} from the run of ${h(m.date)}.</footer>`);

  return [
    `<!DOCTYPE html>`,
    `<html lang="en">`,
    `<head>`,
    `<meta charset="utf-8">`,
    // Nothing may be fetched: no scripts, fonts, images or styles from anywhere but this file.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<meta name="generator" content="dualgrad">`,
    `<meta name="color-scheme" content="light dark">`,
    `<title>${h(`dualgrad benchmark report · ${m.date}`)}</title>`,
    `<style>${CSS}</style>`,
    `</head>`,
    `<body>`,
    `<main>`,
    body.join("\n"),
    `</main>`,
    `</body>`,
    `</html>`,
    ``,
  ].join("\n");
}
