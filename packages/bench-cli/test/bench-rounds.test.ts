import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import type { ModelSpec } from "../src/models.js";
import { toHtml } from "../src/report/html.js";
import { toMarkdown } from "../src/report/markdown.js";
import { readReport } from "../src/report/read.js";
import { ROUNDS_SPREAD_LABEL } from "../src/report/rounds.js";
import { benchTable } from "../src/report/terminal.js";
import type { BenchReport, BenchResult } from "../src/report/types.js";
import type { Frontend } from "../src/runners/index.js";
import { combineRounds, measureRounds } from "../src/runners/rounds.js";

/**
 * `bench --rounds`: the combining of rounds (the median round's whole result, the rounds'
 * medians beside it), the order rounds run in, the reports' spread row, and the CLI end to end.
 */

const dir = mkdtempSync(join(tmpdir(), "dualgrad-rounds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One round's result; every figure derives from `median` and `tag`, so a test can tell which round a figure came from. */
function round(median: number, tag: number, frontend: Frontend = "eager", model = "mlp"): BenchResult {
  return {
    model,
    frontend,
    steps: 200 + tag,
    warmup: 20,
    msPerStep: { median, p90: median * 1.2 + tag, mean: median + tag, min: median * 0.9 },
    stepsPerSec: 1000 / median,
    memory: { peakTensorBytes: 1000 + tag, liveTensorBytes: 500, allocationsPerStep: tag, kernelLaunchesPerStep: 10 + tag, peakRssBytes: 1e8 + tag, heapUsedBytes: 1e7 },
    loss: { first: 2, last: 1 },
  };
}

describe("combineRounds", () => {
  it("odd n: the median round's whole result, with every round's median in run order", () => {
    const rounds = [round(9, 0), round(5, 1), round(7, 2)];
    const c = combineRounds(rounds);
    expect(c).toEqual({ ...rounds[2], rounds: { medianMsPerStep: [9, 5, 7] } });
    // p90, memory and launches from that same round, not a mix.
    expect(c.msPerStep.p90).toBe(7 * 1.2 + 2);
    expect(c.memory.kernelLaunchesPerStep).toBe(12);
  });

  it("even n: the lower of the two middle rounds", () => {
    const rounds = [round(8, 0), round(2, 1), round(6, 2), round(4, 3)];
    expect(combineRounds(rounds)).toEqual({ ...rounds[3], rounds: { medianMsPerStep: [8, 2, 6, 4] } });
    const two = [round(3, 0, "graph"), round(1, 1, "graph")];
    expect(combineRounds(two).steps).toBe(201);
  });

  it("equal medians rank in run order", () => {
    expect(combineRounds([round(5, 0), round(5, 1), round(5, 2)]).steps).toBe(201);
    expect(combineRounds([round(1, 0), round(5, 1), round(5, 2)]).steps).toBe(201);
    expect(combineRounds([round(5, 0), round(5, 1), round(1, 2)]).steps).toBe(200);
  });

  it("one round is returned unchanged, without a rounds field", () => {
    const only = round(3, 0);
    expect(combineRounds([only])).toBe(only);
    expect(combineRounds([only])).not.toHaveProperty("rounds");
  });

  it("refuses no rounds and rounds of different runs", () => {
    expect(() => combineRounds([])).toThrow(/no rounds/);
    expect(() => combineRounds([round(1, 0, "eager"), round(1, 1, "graph")])).toThrow(/mlp\/eager include mlp\/graph/);
    expect(() => combineRounds([round(1, 0, "eager", "mlp"), round(1, 1, "eager", "cnn")])).toThrow(/mlp\/eager include cnn\/eager/);
  });
});

describe("measureRounds", () => {
  const spec = (id: string) => ({ id }) as ModelSpec;
  const medians: Record<string, number[]> = { "a/eager": [9, 5, 7], "a/graph": [4, 6, 2], "b/eager": [1, 3, 2], "b/graph": [8, 8, 9] };

  it("takes frontends in turn inside each round, per spec (a sweep's sizes included), and combines each", async () => {
    const calls: string[] = [];
    const results = await measureRounds([spec("a"), spec("b")], ["eager", "graph"], 3, async (s, f, r) => {
      calls.push(`${s.id}:${f}${r}`);
      return round(medians[`${s.id}/${f}`][r - 1], r, f, s.id);
    });
    expect(calls).toEqual(["a:eager1", "a:graph1", "a:eager2", "a:graph2", "a:eager3", "a:graph3", "b:eager1", "b:graph1", "b:eager2", "b:graph2", "b:eager3", "b:graph3"]);
    expect(results.map((x) => `${x.model}/${x.frontend}`)).toEqual(Object.keys(medians));
    expect(results.map((x) => x.rounds?.medianMsPerStep)).toEqual(Object.values(medians));
    // The median round's own figures: a/eager's median 7 ran in round 3; b/graph's two 8s rank in run order, the middle is round 2's.
    expect(results.map((x) => [x.msPerStep.median, x.steps])).toEqual([[7, 203], [4, 201], [2, 203], [8, 202]]);
  });

  it("one round: each run's result as it is", async () => {
    const results = await measureRounds([spec("a")], ["graph"], 1, async (s, f, r) => round(medians[`${s.id}/${f}`][r - 1], r, f, s.id));
    expect(results).toEqual([round(4, 1, "graph", "a")]);
  });

  it("refuses a round count that is not a positive integer", async () => {
    for (const n of [0, 1.5, -1]) await expect(measureRounds([], ["eager"], n, async () => round(1, 0))).rejects.toThrow(/positive integer/);
  });
});

describe("the reports with rounds", () => {
  const report = (results: BenchResult[]): BenchReport => ({
    machine: { node: "v20", platform: "linux", arch: "x64", cpus: 2, cpuModel: "cpu", totalMemoryBytes: 1e9, date: "2026-12-01T00:00:00.000Z", version: "0.1.0" },
    results,
    agreement: [],
  });
  const eager = combineRounds([round(12.2, 0), round(7.5, 1), round(9.1, 2)]);
  const graph = combineRounds([round(6.2, 0, "graph"), round(4.4, 1, "graph"), round(5.05, 2, "graph")]);

  it("say how many rounds the median is of, and give each frontend's min–max of round medians", () => {
    const r = report([eager, graph]);
    expect(toMarkdown(r)).toContain(`| ms/step (median, 3 rounds) | 9.10 ms | 5.05 ms | 1.8x faster |\n| ${ROUNDS_SPREAD_LABEL} | 7.50–12.2 ms | 4.40–6.20 ms |  |`);
    const terminal = stripVTControlCharacters(benchTable(r));
    expect(terminal).toMatch(/│ ms\/step \(median, 3 rounds\) +│ 9\.10 ms +│ 5\.05 ms +│/);
    expect(terminal).toMatch(/│ ms\/step, rounds min–max +│ 7\.50–12\.2 ms +│ 4\.40–6\.20 ms +│/);
    const html = toHtml(r);
    expect(html).toContain(`<th scope="row">${ROUNDS_SPREAD_LABEL}</th><td class="num">7.50–12.2 ms</td>`);
    expect(html).toContain("3 rounds, medians 7.50–12.2 ms");
  });

  it("a run without rounds beside one with them shows '-'; without any rounds the table is as before", () => {
    const single = round(5, 0, "graph");
    expect(toMarkdown(report([eager, single]))).toContain(`| ${ROUNDS_SPREAD_LABEL} | 7.50–12.2 ms | - |  |`);
    const plain = toMarkdown(report([round(9, 0), single]));
    expect(plain).toContain("| ms/step (median) | 9.00 ms | 5.00 ms |");
    expect(plain).not.toContain("rounds");
  });

  it("readReport takes rounds and names a malformed rounds field", () => {
    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify(report([eager, graph])));
    expect(readReport(good).results[0].rounds).toEqual({ medianMsPerStep: [12.2, 7.5, 9.1] });
    for (const rounds of [{}, { medianMsPerStep: "7" }, { medianMsPerStep: [7, "8"] }, [7]]) {
      const bad = join(dir, "bad.json");
      writeFileSync(bad, JSON.stringify(report([eager, { ...graph, rounds } as unknown as BenchResult])));
      expect(() => readReport(bad)).toThrow(/results\[1\]\.rounds\.medianMsPerStep is missing or not an array of numbers/);
    }
  });
});

describe("dualgrad bench --rounds (the built CLI)", () => {
  const cli = join(fileURLToPath(new URL("../../..", import.meta.url)), "packages/bench-cli/dist/cli.js");
  const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 120_000 });

  it("runs each size and frontend in turn per round, writes each round's median, and shows the spread", () => {
    const json = join(dir, "rounds.json");
    const r = run(["bench", "--models", "linreg", "--sweep", "batch=1,2", "--rounds", "2", "--steps", "5", "--warmup", "1", "--min-time", "0.01", "--json", json]);
    expect(r.status).toBe(0);
    const notes = r.stderr.split("\n").filter((l) => l.startsWith("measuring"));
    expect(notes).toEqual(
      ["linreg@batch=1", "linreg@batch=2"].flatMap((m) => [1, 2].flatMap((i) => ["eager", "graph"].map((f) => `measuring ${m} on ${f} (round ${i}/2) ...`))),
    );
    const doc = JSON.parse(readFileSync(json, "utf8")) as BenchReport;
    expect(doc.results.map((x) => `${x.model}/${x.frontend}`)).toEqual(["linreg@batch=1/eager", "linreg@batch=1/graph", "linreg@batch=2/eager", "linreg@batch=2/graph"]);
    for (const x of doc.results) {
      expect(x.rounds?.medianMsPerStep).toHaveLength(2);
      // The result's own median is the lower of the two rounds'.
      expect(x.msPerStep.median).toBe(Math.min(...x.rounds!.medianMsPerStep));
    }
    expect(doc.results[1].static?.breakEvenSteps).not.toBeUndefined();
    expect(r.stdout).toMatch(/ms\/step \(median, 2 rounds\)/);
    expect(r.stdout).toMatch(/ms\/step, rounds min–max +│ [\d.]+–[\d.]+ ms +│ [\d.]+–[\d.]+ ms/);
    // `dualgrad report` renders the file with its rounds.
    const md = join(dir, "rounds.md");
    const report = run(["report", "--in", json, "--md", md, "--html", join(dir, "rounds.html")]);
    expect(report.status).toBe(0);
    expect(readFileSync(md, "utf8")).toMatch(/\| ms\/step, rounds min–max \| [\d.]+–[\d.]+ ms \|/);
  });
});
