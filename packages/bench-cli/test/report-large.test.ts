import { describe, expect, it } from "vitest";
import { toHtml } from "../src/report/html.js";
import { toMarkdown } from "../src/report/markdown.js";
import { downsample, minMax } from "../src/report/series.js";
import type { BenchReport, BenchResult, PeerResult } from "../src/report/types.js";

/**
 * Reports far larger than a normal bench run (a million-step loss curve, 40k results) render
 * instead of dying with "Maximum call stack size exceeded" (a spread into Math.min/Math.max).
 */

const machine = { node: "v20", platform: "linux", arch: "x64", cpus: 2, cpuModel: "test", totalMemoryBytes: 1, date: "2026-01-01", version: "0" };

function result(model: string, frontend: "eager" | "graph", lossCurve?: number[]): BenchResult {
  return {
    model,
    frontend,
    steps: 10,
    warmup: 0,
    msPerStep: { median: 1, p90: 1.2, mean: 1.1, min: 0.9 },
    stepsPerSec: 1000,
    memory: { peakTensorBytes: 1024, liveTensorBytes: 512, allocationsPerStep: 1, kernelLaunchesPerStep: 2, peakRssBytes: 1 << 20, heapUsedBytes: 1 << 20 },
    loss: { first: 1, last: 0.5 },
    ...(lossCurve ? { lossCurve } : {}),
  };
}

/** 1,000,000 steps of a decaying loss with one spike at step 654,321. */
const curve = Array.from({ length: 1_000_000 }, (_, i) => (i === 654_321 ? 50 : 1 / (1 + i)));

describe("series helpers", () => {
  it("minMax loops over a million values", () => {
    expect(minMax(curve)).toEqual({ min: 1 / 1_000_000, max: 50 });
    expect(minMax([])).toEqual({ min: Infinity, max: -Infinity });
  });
  it("downsample keeps true step numbers, each bucket's extremes and the last point", () => {
    const pts = downsample(curve, 400);
    expect(pts.length).toBeLessThanOrEqual(801);
    expect(pts[0]).toEqual([0, 1]);
    expect(pts).toContainEqual([654_321, 50]);
    expect(pts[pts.length - 1]).toEqual([999_999, 1 / 1_000_000]);
    for (let i = 1; i < pts.length; i++) expect(pts[i][0]).toBeGreaterThan(pts[i - 1][0]);
    expect(downsample([3, 1, 2])).toEqual([[0, 3], [1, 1], [2, 2]]);
  });
  it("a bucket with no finite value keeps its first point, as a gap", () => {
    const v = Array.from({ length: 1000 }, (_, i) => (i >= 500 && i < 600 ? NaN : 1));
    const pts = downsample(v, 10);
    expect(pts).toContainEqual([500, NaN]);
  });
});

describe("large reports render", () => {
  it("a million-step bench lossCurve and training run", () => {
    const report: BenchReport = {
      machine,
      results: [result("mlp", "eager", curve), result("mlp", "graph", curve)],
      agreement: [],
      training: [{ model: "mlp", frontend: "eager", dataset: "mnist", losses: curve }],
    };
    const html = toHtml(report);
    expect(html).toMatch(/<polyline/);
    // The x axis spans the true step count, not the number of points kept.
    expect(html).toMatch(/>1000000</);
    expect(html.length).toBeLessThan(2_000_000);
    expect(toMarkdown(report)).toMatch(/1e-6|1\.000e-6/);
  });
  it("40,000 results of one model", () => {
    const results = Array.from({ length: 40_000 }, (_, i) => result("mlp", i % 2 ? "graph" : "eager", [5, 4, 3, 2, 1]));
    expect(toHtml({ machine, results, agreement: [] })).toMatch(/<svg/);
  });
  it("many different models: every renderer looks runs up by model once, not by a scan per model", () => {
    // A scan of all runs per model made a 40k-model report take minutes. Counting element reads
    // of the run arrays tells linear from quadratic deterministically, without timing anything.
    const models = Array.from({ length: 2000 }, (_, i) => `m${i}`);
    let reads = 0;
    const counted = <T extends object>(xs: T[]): T[] =>
      new Proxy(xs, { get: (t, k, r) => (typeof k === "string" && /^\d+$/.test(k) && reads++, Reflect.get(t, k, r)) });
    const results = counted(models.flatMap((m) => [result(m, "eager"), result(m, "graph")]));
    const peers = counted(models.map((m) => ({ ...result(m, "eager"), frontend: "jax-js", peer: { packages: {}, backend: "wasm", detail: "" } }) as PeerResult));
    const report: BenchReport = { machine, results, agreement: [], peers };
    const md = toMarkdown(report);
    const html = toHtml(report);
    expect(md.match(/^### m/gm)).toHaveLength(2000);
    expect(html).toContain("<h3>m1999</h3>");
    const runs = results.length + peers.length;
    // A few passes over the runs (index, model list, chart data); a scan per model would be ~2000 passes.
    expect(reads).toBeLessThan(20 * runs);
  }, 60_000);
});
