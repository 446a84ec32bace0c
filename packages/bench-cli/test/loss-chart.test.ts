import { describe, expect, it } from "vitest";
import { panelPoints, toHtml } from "../src/report/html.js";
import type { BenchReport, BenchResult } from "../src/report/types.js";
import { stepStatistics } from "../src/runners/timing.js";

/**
 * The loss chart plots every curve against the true step number over one step range: two
 * frontends on the same trajectory, timed for different numbers of steps (so sampled at
 * different strides), draw the same line.
 */

const machine = { node: "v20", platform: "linux", arch: "x64", cpus: 2, cpuModel: "test", totalMemoryBytes: 1, date: "2026-01-01", version: "0" };
const trajectory = (step: number) => 2 / (1 + step / 50);

/** A result for `steps` timed steps of the shared trajectory, with the statistics `measure` writes. */
function run(frontend: "eager" | "graph", steps: number, keepSteps = true): BenchResult {
  const losses = Array.from({ length: steps }, (_, i) => trajectory(i));
  const { lossCurve, lossSteps } = stepStatistics({ times: losses.map(() => 1), losses });
  return {
    model: "mlp",
    frontend,
    steps,
    warmup: 0,
    msPerStep: { median: 1, p90: 1, mean: 1, min: 1 },
    stepsPerSec: 1000,
    memory: { peakTensorBytes: 1, liveTensorBytes: 1, allocationsPerStep: 1, kernelLaunchesPerStep: 1, peakRssBytes: 1, heapUsedBytes: 1 },
    loss: { first: losses[0], last: losses[steps - 1] },
    lossCurve,
    ...(keepSteps ? { lossSteps } : {}),
  };
}

/** The polylines of the loss chart as [x, y] pairs, one list per series. */
function polylines(html: string): [number, number][][] {
  const chart = html.slice(html.indexOf('data-testid="chart-loss"'));
  return [...chart.matchAll(/<polyline class="line line-(\w+)" points="([^"]+)"/g)].map((m) => m[2].split(" ").map((p) => p.split(",").map(Number) as [number, number]));
}

describe("loss chart", () => {
  it("stepStatistics records the true step of every sampled loss", () => {
    const { lossCurve, lossSteps } = stepStatistics({ times: Array(1000).fill(1), losses: Array.from({ length: 1000 }, (_, i) => trajectory(i)) });
    expect(lossSteps.slice(0, 3)).toEqual([0, 10, 20]);
    lossSteps.forEach((s, k) => expect(lossCurve[k]).toBe(trajectory(s)));
  });

  for (const keepSteps of [true, false]) {
    it(`identical trajectories of 1000 and 3000 steps draw the same line (${keepSteps ? "lossSteps in the file" : "older file without lossSteps"})`, () => {
      const report: BenchReport = { machine, results: [run("eager", 1000, keepSteps), run("graph", 3000, keepSteps)], agreement: [] };
      const [eager, graph] = polylines(toHtml(report));
      expect(eager.length).toBeGreaterThan(10);
      // Same step range: both end at the last step the shorter run sampled, at the same point.
      expect(graph[graph.length - 1]).toEqual(eager[eager.length - 1]);
      // Every graph point lies on the eager line: at an x both have, the same y.
      const eagerAt = new Map(eager.map(([x, y]) => [x, y]));
      const shared = graph.filter(([x]) => eagerAt.has(x));
      expect(shared.length).toBeGreaterThan(10);
      for (const [x, y] of shared) expect(y).toBeCloseTo(eagerAt.get(x)!, 1);
    });
  }

  it("panelPoints cuts each series at the shortest run's last step before downsampling", () => {
    const { points, lastStep } = panelPoints([
      { losses: [5, 4, 3], steps: [0, 10, 20] },
      { losses: [5, 4.5, 4, 3.5, 3, 2.5], steps: [0, 5, 10, 15, 20, 25] },
    ]);
    expect(lastStep).toBe(20);
    expect(points[1]).toEqual([[0, 5], [5, 4.5], [10, 4], [15, 3.5], [20, 3]]);
  });
});
