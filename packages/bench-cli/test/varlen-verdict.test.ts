import { describe, expect, it } from "vitest";
import { stripVTControlCharacters } from "node:util";
import { toHtml } from "../src/report/html.js";
import { toMarkdown } from "../src/report/markdown.js";
import { benchTable } from "../src/report/terminal.js";
import type { BenchReport, BenchResult } from "../src/report/types.js";
import { varlenVerdict } from "../src/report/varlen-verdict.js";

function graph(model: string, median: number, traces: number, breakEvenSteps: number | null): BenchResult {
  return {
    model, frontend: "graph", steps: 100, warmup: 5,
    msPerStep: { median, p90: median, mean: median, min: median }, stepsPerSec: 1000 / median,
    memory: { peakTensorBytes: 1, liveTensorBytes: 1, allocationsPerStep: 0, kernelLaunchesPerStep: 1, peakRssBytes: 1, heapUsedBytes: 1 },
    loss: { first: 1, last: 0.5 },
    static: { traces, compileMsPerTrace: 100, coldFirstStepMs: 100, steadyMs: median, cumulative: [[1, 100]], breakEvenSteps },
  };
}

const report = (retraceMs: number, padMs: number, padBreakEven: number | null): BenchReport => ({
  machine: { node: "v20", platform: "linux", arch: "x64", cpus: 2, cpuModel: "cpu", totalMemoryBytes: 1, date: "2025-01-01T00:00:00.000Z", version: "0" },
  results: [graph("rnn-varlen", retraceMs, 29, 900), graph("rnn-varlen-pad", padMs, 1, padBreakEven)],
  agreement: [],
});

describe("variable-length verdict", () => {
  it("names the faster graph strategy and its break-even step, in every report", () => {
    const r = report(3, 2, 40);
    const verdict = varlenVerdict(r)!;
    expect(verdict).toMatch(/^rnn-varlen on graph: padding to the longest length under a step mask \(one trace\) is faster per step, 2\.\d+ ms\/step against 3\.\d+ ms\/step retracing per length \(29 traces\); it breaks even with eager after 40 steps \(the other: after 900 steps\)\.$/);
    expect(toMarkdown(r)).toContain(`**Variable lengths:** ${verdict}`);
    expect(toHtml(r)).toContain("<strong>Variable lengths:</strong> rnn-varlen on graph: padding");
    expect(stripVTControlCharacters(benchTable(r))).toContain(verdict);
  });

  it("picks retracing when it is faster, says when it never breaks even, and is absent without both", () => {
    expect(varlenVerdict(report(1, 2, null))).toContain("retracing per length (29 traces) is faster per step");
    expect(varlenVerdict({ ...report(1, 2, null), results: [graph("rnn-varlen", 1, 29, null)] })).toBeNull();
    const slow = report(2, 1, null);
    expect(varlenVerdict(slow)).toContain("it breaks even with eager never (the other: after 900 steps)");
  });
});

describe("cumulative time chart", () => {
  it("draws valid [step, ms] pairs and skips junk from a hand-edited file", () => {
    const r = report(3, 2, 40);
    (r.results[0].static as unknown as Record<string, unknown>).cumulative = [[1, 5], null, [2, "x"], [3, 9]];
    (r.results[1].static as unknown as Record<string, unknown>).cumulative = "junk";
    const html = toHtml(r);
    const chart = html.slice(html.indexOf('data-testid="chart-cumulative"'));
    expect(chart).toContain("rnn-varlen (cumulative time)");
    expect(chart).not.toContain("rnn-varlen-pad (cumulative time)");
  });
});
