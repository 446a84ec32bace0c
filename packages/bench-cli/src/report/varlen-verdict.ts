import { VARLEN_STRATEGIES } from "../models.js";
import { formatMs } from "./format.js";
import type { BenchReport, BenchResult } from "./types.js";

/**
 * The variable-length verdict: which way of running `rnn-varlen` on the graph frontend was
 * faster per step (a trace per length, or padding under a step mask), and after how many steps
 * it breaks even with eager. One sentence, shown by the terminal, Markdown and HTML reports;
 * null unless both strategies were measured on the graph frontend.
 */
export function varlenVerdict(report: BenchReport): string | null {
  const graph = (model: string): BenchResult | undefined => report.results.find((r) => r.model === model && r.frontend === "graph");
  const retrace = graph(VARLEN_STRATEGIES.retrace);
  const pad = graph(VARLEN_STRATEGIES.pad);
  const ms = (r: BenchResult | undefined) => r?.msPerStep?.median;
  const a = ms(retrace);
  const b = ms(pad);
  if (typeof a !== "number" || typeof b !== "number" || !(a > 0) || !(b > 0)) return null;
  const [best, other] = a <= b ? [retrace!, pad!] : [pad!, retrace!];
  const name = (r: BenchResult) => (r === retrace ? `retracing per length (${r.static?.traces ?? "?"} traces)` : "padding to the longest length under a step mask (one trace)");
  const breakEven = (r: BenchResult) => {
    const be = r.static?.breakEvenSteps;
    return be === undefined ? "not computed" : be === null ? "never" : `after ${be} steps`;
  };
  // Per step is not the whole story: retracing pays a compile per new length, so both
  // strategies' break-even steps are given.
  return (
    `${VARLEN_STRATEGIES.retrace} on graph: ${name(best)} is faster per step, ${formatMs(ms(best)!)}/step against ${formatMs(ms(other)!)}/step ${name(other)}; ` +
    `it breaks even with eager ${breakEven(best)} (the other: ${breakEven(other)}).`
  );
}
