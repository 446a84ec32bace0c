import { newTable } from "../output.js";
import { formatBytes, formatMs } from "../report/format.js";
import { SHARES, type ProfileReport } from "./summary.js";

/** Calls per step: whole when the steps agree (they do for a fixed model), else one decimal. */
export function formatCalls(n: number): string {
  return Math.abs(n - Math.round(n)) < 1e-9 ? String(Math.round(n)) : n.toFixed(1);
}

/** The terminal tables of `dualgrad profile`: where a step's time goes per frontend, then each frontend's kernels. */
export function profileTables(report: ProfileReport): string {
  const split = newTable(["frontend", ...SHARES.map(([label]) => label), "launches/step"]);
  for (const f of report.frontends) {
    split.push([f.frontend, ...SHARES.map(([, key]) => formatMs(f.split[key])), formatCalls(f.launchesPerStep.reduce((a, b) => a + b, 0) / f.steps)]);
  }
  const parts = [`${report.model}: per step, mean of ${report.steps} steps after ${report.warmup} warm-up steps\n${split.toString()}`];
  for (const f of report.frontends) {
    const ops = newTable(["op", "shapes", "calls", "kernel time", "bytes allocated"]);
    for (const r of f.ops) ops.push([r.op, r.shapes, formatCalls(r.calls), formatMs(r.kernelMs), formatBytes(r.bytes)]);
    parts.push(`${f.frontend} kernels (per step)\n${ops.toString()}`);
  }
  return parts.join("\n\n");
}
