import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { WORKLOADS } from "../src/models.js";
import { toHtml } from "../src/report/html.js";
import { toMarkdown } from "../src/report/markdown.js";
import { readReport } from "../src/report/read.js";
import { sweepSeries, sweepTable } from "../src/report/sweep.js";
import { sweepTerminalTable } from "../src/report/terminal.js";
import type { BenchReport, BenchResult, PeerResult } from "../src/report/types.js";
import { parseSweep, sweepSpecs } from "../src/sweep.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "dualgrad-sweep-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const machine = { node: "v20", platform: "linux", arch: "x64", cpus: 2, cpuModel: "test", totalMemoryBytes: 1, date: "2026-01-01", version: "0" };

function run(model: string, frontend: string, ms: number, peak?: number): BenchResult {
  return {
    model,
    frontend,
    steps: 10,
    warmup: 1,
    msPerStep: { median: ms, p90: ms, mean: ms, min: ms },
    stepsPerSec: 1000 / ms,
    memory: { peakRssBytes: 1 << 20, heapUsedBytes: 1, ...(peak === undefined ? {} : { peakTensorBytes: peak, liveTensorBytes: 1, allocationsPerStep: 1, kernelLaunchesPerStep: 1 }) },
    loss: { first: 1, last: 0.5 },
  } as BenchResult;
}

/** mlp swept over batch 1, 16, 256: eager overhead-bound at small sizes, a torch peer without tensor bytes. */
function sweepReport(): BenchReport {
  const values = [1, 16, 256];
  const models = values.map((v) => `mlp@batch=${v}`);
  return {
    machine,
    results: models.flatMap((m, i) => [run(m, "eager", 1 + values[i] / 100, 1000 * values[i]), run(m, "graph", 0.1 + values[i] / 100, 500 * values[i])]),
    peers: models.map((m, i) => ({ ...run(m, "torch-eager-1t", 0.2 + values[i] / 50), peer: { packages: { torch: "1.13" }, backend: "cpu", detail: "" } }) as unknown as PeerResult),
    agreement: [],
    sweeps: [{ model: "mlp", param: "batch", values, models }],
  };
}

describe("--sweep", () => {
  it("parses batch= and width= lists (sorted, deduplicated) and rejects anything else", () => {
    expect(parseSweep("batch=64,1,4,4")).toEqual({ param: "batch", values: [1, 4, 64] });
    expect(parseSweep("width=16,1024")).toEqual({ param: "width", values: [16, 1024] });
    expect(() => parseSweep("depth=2")).toThrow(/expected batch=N,N,... or width=N,N,.../);
    expect(() => parseSweep("batch=1,0")).toThrow(/positive integers/);
    expect(() => parseSweep("batch=1.5")).toThrow(/positive integers/);
  });

  it("makes one spec per size: batch sets the batch, width every hidden layer", () => {
    const batch = sweepSpecs(WORKLOADS.mlp, { param: "batch", values: [1, 64] });
    expect(batch.map((s) => [s.id, s.batch, s.layers])).toEqual([["mlp@batch=1", 1, [784, 256, 256, 10]], ["mlp@batch=64", 64, [784, 256, 256, 10]]]);
    const width = sweepSpecs(WORKLOADS.mlp, { param: "width", values: [16] });
    expect(width[0]).toMatchObject({ id: "mlp@width=16", layers: [784, 16, 16, 10], batch: 128 });
    expect(() => sweepSpecs(WORKLOADS.linreg, { param: "width", values: [16] })).toThrow(/model linreg has no hidden layer/);
  });

  it("the reports show each sweep as a table and as log-log charts", () => {
    const report = sweepReport();
    const table = sweepTable(report, report.sweeps![0]);
    expect(table.header).toEqual(["batch size", "eager ms/step", "graph ms/step", "torch-eager-1t ms/step", "eager peak bytes", "graph peak bytes", "graph vs eager"]);
    expect(table.rows.map((r) => r[0])).toEqual(["1", "16", "256"]);
    expect(table.rows[2][3]).toBe("5.32 ms");
    // The peer has no tensor accounting: no bytes points rather than its RSS passed off as such.
    expect(sweepSeries(report, report.sweeps![0], "peakTensorBytes").map((s) => s.frontend)).toEqual(["eager", "graph"]);

    const md = toMarkdown(report);
    expect(md).toContain("## Sweeps");
    expect(md).toContain("### mlp: ms/step and peak bytes against batch size");
    expect(md).toMatch(/\| 256 \| 3\.56 ms \| 2\.66 ms \| 5\.32 ms \| 250\.0 KiB \| 125\.0 KiB \| 1\.3x faster \|/);
    expect(sweepTerminalTable(report, report.sweeps![0])).toContain("5.32 ms");

    const html = toHtml(report);
    const ms = html.slice(html.indexOf('data-testid="chart-sweep-msMedian"'), html.indexOf("</svg>", html.indexOf('data-testid="chart-sweep-msMedian"')));
    expect(ms.match(/<polyline/g)).toHaveLength(3);
    expect(ms).toContain("batch size (log scale)");
    expect(ms).toContain("(log scale)</text>");
    // Log x axis: 1, 16 and 256 are equally spaced.
    const xs = [...ms.matchAll(/<circle class="fill-eager" cx="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(xs).toHaveLength(3);
    expect(xs[1] - xs[0]).toBeCloseTo(xs[2] - xs[1], 1);
    expect(html).toContain('data-testid="chart-sweep-peakTensorBytes"');
  });

  it("read.ts checks the sweeps shape and names the field that is off", () => {
    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify(sweepReport()));
    expect(readReport(good).sweeps?.[0].models).toHaveLength(3);
    const bad = (patch: object) => {
      const r = sweepReport();
      Object.assign(r.sweeps![0], patch);
      const path = join(dir, "bad.json");
      writeFileSync(path, JSON.stringify(r));
      return () => readReport(path);
    };
    expect(bad({ param: "depth" })).toThrow(/sweeps\[0\]\.param is "depth", expected "batch" or "width"/);
    expect(bad({ models: ["a"] })).toThrow(/sweeps\[0\]\.models has 1 entries but values has 3/);
    expect(bad({ values: [1, -2, 3] })).toThrow(/sweeps\[0\]\.values/);
  });

  it("bench runs a custom model over a width sweep and writes the sweep to JSON; bad sweeps exit 2 with one line", () => {
    const out = join(dir, "sweep.json");
    const args = ["bench", "--layers", "4,8,1", "--activation", "tanh", "--batch-size", "8", "--sweep", "width=2,8", "--steps", "2", "--warmup", "1", "--min-time", "0.001", "--quiet", "--json", out];
    const ok = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    const report = JSON.parse(readFileSync(out, "utf8")) as BenchReport;
    expect(report.sweeps).toEqual([{ model: "custom-4x8x1", param: "width", values: [2, 8], models: ["custom-4x8x1@width=2", "custom-4x8x1@width=8"] }]);
    expect(report.results.map((r) => `${r.model}/${r.frontend}`)).toEqual(["custom-4x8x1@width=2/eager", "custom-4x8x1@width=2/graph", "custom-4x8x1@width=8/eager", "custom-4x8x1@width=8/graph"]);
    expect(report.agreement.map((a) => a.model)).toEqual(["custom-4x8x1"]);
    expect(ok.stdout).toContain("custom-4x8x1: ms/step and peak bytes against hidden width");

    for (const [flags, message] of [
      [["--models", "linreg", "--sweep", "width=4"], /--sweep width: model linreg has no hidden layer/],
      [["--sweep", "depth=4"], /--sweep.*expected batch=N,N,... or width=N,N,.../],
      [["--models", "mlp", "--sweep", "width=16,2000000"], /model mlp@width=2000000 with batch size 128 needs the 2000000x2000000 weight of layer 1, .* over the .*-element limit of one tensor/],
    ] as const) {
      const bad = spawnSync(process.execPath, [CLI, "bench", ...flags, "--quiet"], { encoding: "utf8" });
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim().split("\n")).toHaveLength(1);
      expect(bad.stderr).toMatch(message);
    }
  }, 120_000);
});
