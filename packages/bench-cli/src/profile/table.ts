import { newTable } from "../output.js";
import { formatBytes, formatMs } from "../report/format.js";
import { SHARES, type OpRow, type ProfileReport } from "./summary.js";

/** Calls per step: whole when the steps agree (they do for a fixed model), else one decimal. */
export function formatCalls(n: number): string {
  return Math.abs(n - Math.round(n)) < 1e-9 ? String(Math.round(n)) : n.toFixed(1);
}

/** The per-op columns every profile table shows (terminal and HTML). */
export const OP_HEADER = ["op", "shapes", "calls", "kernel time", "bytes allocated", "GFLOP/s", "% of peak"];

/** One op row's cells under {@link OP_HEADER}; GFLOP/s and % of peak are blank for ops whose flops are not counted. */
export function opCells(r: OpRow): string[] {
  const gflops = r.gflops == null ? "" : r.gflops.toFixed(r.gflops < 10 ? 2 : 1);
  const pct = r.peakFraction == null ? "" : `${(100 * r.peakFraction).toFixed(1)}%`;
  return [r.op, r.shapes, formatCalls(r.calls), formatMs(r.kernelMs), formatBytes(r.bytes), gflops, pct];
}

/** What the GFLOP/s columns were measured with: the matmul kernel and the peak, in one line (empty if the report has neither). */
export function peakLine(report: ProfileReport): string {
  const parts: string[] = [];
  if (report.matmulPath) parts.push(`matmul kernel: ${report.matmulPath}`);
  const p = report.simdPeak;
  if (p) parts.push(`% of peak: of ${p.gflops.toFixed(1)} GFLOP/s, this machine's f32x4 ${p.op} peak on ${p.threads} thread${p.threads > 1 ? "s" : ""} (docs/PERFORMANCE.md)`);
  return parts.join("; ");
}

/** The terminal tables of `dualgrad profile`: where a step's time goes per frontend, then each frontend's kernels. */
export function profileTables(report: ProfileReport): string {
  const split = newTable(["frontend", ...SHARES.map(([label]) => label), "launches/step"]);
  for (const f of report.frontends) {
    split.push([f.frontend, ...SHARES.map(([, key]) => formatMs(f.split[key])), formatCalls(f.launchesPerStep.reduce((a, b) => a + b, 0) / f.steps)]);
  }
  const line = peakLine(report);
  const parts = [`${report.model}: per step, mean of ${report.steps} steps after ${report.warmup} warm-up steps${line ? `\n${line}` : ""}\n${split.toString()}`];
  for (const f of report.frontends) {
    const ops = newTable(OP_HEADER);
    for (const r of f.ops) ops.push(opCells(r));
    parts.push(`${f.frontend} kernels (per step)\n${ops.toString()}`);
  }
  return parts.join("\n\n");
}
