import { formatMs } from "./format.js";
import { SHARES } from "../profile/summary.js";
import { OP_HEADER, opCells, peakLine } from "../profile/table.js";
import type { ReportTable } from "./markdown.js";
import type { BenchReport } from "./types.js";

/**
 * The HTML report's per-op breakdown, when the report carries profiles (`dualgrad profile
 * --add-to`): per model, where a step's time goes on eager vs graph, then each frontend's
 * kernels. `table` and `esc` are the page's own table renderer and escaper.
 */
export function profileSection(report: BenchReport, table: (t: ReportTable, caption?: string) => string, esc: (s: string) => string): string[] {
  if (!report.profile || report.profile.length === 0) return [];
  const out = [`<h2>Where the time goes (profile)</h2>`];
  out.push(`<p class="note">Per training step, mean over the profiled steps after warm-up. Kernel time is the arithmetic; dispatch+alloc, tape and backward walk are eager's bookkeeping around it (self time); other is the rest of the step.</p>`);
  for (const p of report.profile) {
    out.push(`<h3>${esc(p.model)}</h3>`);
    const line = peakLine(p);
    if (line) out.push(`<p class="note">${esc(line)}</p>`);
    const split: ReportTable = {
      header: ["share", ...p.frontends.map((f) => f.frontend)],
      numeric: [false, ...p.frontends.map(() => true)],
      rows: SHARES.map(([label, key]) => [label, ...p.frontends.map((f) => formatMs(f.split[key]))]),
    };
    out.push(table(split, `${p.model}: time per step, eager vs graph`));
    for (const f of p.frontends) {
      out.push(
        table(
          {
            header: OP_HEADER,
            numeric: OP_HEADER.map((_, i) => i >= 2),
            rows: f.ops.map(opCells),
          },
          `${p.model} · ${f.frontend}: kernels per step`,
        ),
      );
    }
  }
  return out;
}
