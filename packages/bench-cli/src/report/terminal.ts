import { color, newTable } from "../output.js";
import { formatBytes, formatMs, formatSci } from "./format.js";
import type { BenchReport } from "./types.js";

/** The side-by-side benchmark table for the terminal. */
export function benchTable(report: BenchReport): string {
  const frontends = [...new Set(report.results.map((r) => r.frontend))];
  const head = ["model", "metric", ...frontends];
  if (frontends.length === 2) head.push("graph/eager");
  const table = newTable(head);
  const models = [...new Set(report.results.map((r) => r.model))];
  for (const model of models) {
    const rows = frontends.map((f) => report.results.find((r) => r.model === model && r.frontend === f));
    const line = (metric: string, get: (r: NonNullable<(typeof rows)[number]>) => number, fmt: (x: number) => string, ratio = false) => {
      const vals = rows.map((r) => (r ? get(r) : NaN));
      const cells = vals.map((v) => (Number.isNaN(v) ? "-" : fmt(v)));
      const out = [metric === "ms/step median" ? color.cyan(model) : "", metric, ...cells];
      if (frontends.length === 2) out.push(ratio && vals[0] > 0 ? `${(vals[1] / vals[0]).toFixed(2)}x` : "");
      table.push(out);
    };
    line("ms/step median", (r) => r.msPerStep.median, formatMs, true);
    line("ms/step p90", (r) => r.msPerStep.p90, formatMs, true);
    line("steps/s", (r) => r.stepsPerSec, (x) => x.toFixed(x < 100 ? 1 : 0));
    line("peak tensor", (r) => r.memory.peakTensorBytes, formatBytes, true);
    line("live tensor", (r) => r.memory.liveTensorBytes, formatBytes);
    line("allocs/step", (r) => r.memory.allocationsPerStep, (x) => x.toFixed(1));
    line("launches/step", (r) => r.memory.kernelLaunchesPerStep, (x) => x.toFixed(1));
    line("peak RSS", (r) => r.memory.peakRssBytes, formatBytes);
  }
  if (report.agreement.length === 0) return table.toString();
  // Agreement is per model, not per frontend: its own table keeps the columns honest.
  const agree = newTable(["model", "grad max abs (eager vs graph)", "grad max rel", "max abs, fusion off"]);
  for (const a of report.agreement) {
    agree.push([color.cyan(a.model), formatSci(a.maxAbs), formatSci(a.maxRel), a.unfusedMaxAbs === undefined ? "-" : formatSci(a.unfusedMaxAbs)]);
  }
  return `${table.toString()}\n${agree.toString()}`;
}
