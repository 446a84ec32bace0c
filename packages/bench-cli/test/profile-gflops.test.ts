import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { ProfileSpan } from "@dualgrad/core";
import { main } from "../src/cli.js";
import { machineInfo } from "../src/machine.js";
import { workload } from "../src/models.js";
import { profileFrontend } from "../src/profile/run.js";
import { setPeakFractions, summarize, type ProfileReport } from "../src/profile/summary.js";
import { opCells, profileTables } from "../src/profile/table.js";
import { toHtml } from "../src/report/html.js";
import { readReport } from "../src/report/read.js";
import { FRONTENDS, type Frontend } from "../src/runners/trainer.js";

const dir = mkdtempSync(join(tmpdir(), "dualgrad-gflops-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kernel = (name: string, start: number, end: number, flops: number): ProfileSpan => ({ name, cat: "kernel", start, end, shapes: "[2,2]", flops });

describe("GFLOP/s per op", () => {
  it("is the op's flops per step over its kernel time, and % of peak divides by the peak", () => {
    // Two steps; matmul twice per step, 2 ms each time, 4e6 flops each: 8e6 flops in 4 ms per step = 2 GFLOP/s.
    const spans = [
      kernel("matmul", 0, 2, 4e6), kernel("matmul", 2, 4, 4e6), kernel("add", 4, 5, 0), { name: "step 0", cat: "step" as const, start: 0, end: 6 },
      kernel("matmul", 10, 12, 4e6), kernel("matmul", 12, 14, 4e6), kernel("add", 14, 15, 0), { name: "step 1", cat: "step" as const, start: 10, end: 16 },
    ];
    const p = summarize("eager", spans, 2, [3, 3], [3, 3]);
    const mm = p.ops.find((r) => r.op === "matmul")!;
    const add = p.ops.find((r) => r.op === "add")!;
    expect(mm.flops).toBe(8e6);
    expect(mm.gflops).toBeCloseTo(2, 12);
    expect(add.gflops).toBeNull();
    setPeakFractions(p, 8);
    expect(mm.peakFraction).toBeCloseTo(0.25, 12);
    expect(add.peakFraction).toBeNull();
    expect(opCells(mm).slice(-2)).toEqual(["2.00", "25.0%"]);
    expect(opCells(add).slice(-2)).toEqual(["", ""]);
    setPeakFractions(p, undefined);
    expect(mm.peakFraction).toBeNull();
  });
});

/** Whether a profile row computes `op`'s product: the op itself or a graph epilogue step on it (`matmul+epilogue(add→relu)`). */
const computes = (row: string, op: string) => row === op || row.startsWith(`${op}+epilogue(`);

/** Sum of the flops per step of the rows that compute one of `ops`. */
const flopsOf = (rows: { op: string; flops?: number }[], ops: string[]) =>
  rows.filter((r) => ops.some((op) => computes(r.op, op))).reduce((a, r) => a + (r.flops ?? 0), 0);

describe.each(FRONTENDS)("%s: the flops a step counts are exactly the model's", (frontend: Frontend) => {
  it("mlp-small: 2*B*in*out per linear layer for the forward, dW and dX (no dX for the input)", () => {
    const { profile } = profileFrontend(workload("mlp-small"), frontend, 1, 2);
    const B = 32;
    const layers: [number, number][] = [[8, 64], [64, 64], [64, 1]];
    const expected = layers.reduce((a, [i, o]) => a + 3 * 2 * B * i * o, 0) - 2 * B * 8 * 64;
    expect(flopsOf(profile.ops, ["matmul"])).toBeCloseTo(expected, 6);
  });
  it("cnn: 2*B*K*OH*OW*C*kh*kw per convolution, its weight gradient and (past the first) its input gradient", () => {
    const { profile } = profileFrontend(workload("cnn"), frontend, 1, 1);
    const B = 64;
    const f1 = 2 * B * 8 * 28 * 28 * 1 * 3 * 3;
    const f2 = 2 * B * 16 * 14 * 14 * 8 * 3 * 3;
    // The forward convolution: eager's conv2d_bias (bias added in the kernel), the graph's conv2d+epilogue.
    expect(flopsOf(profile.ops, ["conv2d", "conv2d_bias"])).toBeCloseTo(f1 + f2, 6);
    expect(flopsOf(profile.ops, ["conv2d_grad_weight"])).toBeCloseTo(f1 + f2, 6);
    expect(flopsOf(profile.ops, ["conv2d_grad_input"])).toBeCloseTo(f2, 6);
    expect(flopsOf(profile.ops, ["matmul"])).toBeCloseTo(3 * 2 * B * 784 * 10, 6);
    for (const r of profile.ops) {
      if (/^(matmul|conv2d)/.test(r.op)) expect(r.gflops).toBeGreaterThan(0);
      else expect(r.gflops).toBeNull();
    }
  });
});

/** Runs the CLI in this process, capturing stdout. */
async function runCli(args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((s) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    return { code: await main(args), stdout };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe("dualgrad profile: GFLOP/s and % of peak in the table, the JSON and the HTML report", () => {
  it("carries the matmul path, the peak, and per-row GFLOP/s and fractions", async () => {
    const json = join(dir, "p.json");
    const r = await runCli(["profile", "--model", "mlp-small", "--steps", "2", "--warmup", "1", "--json", json]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/matmul kernel: (wasm SIMD, (relaxed_madd \(FMA\)|mul\+add) \d+x\d+|TypeScript \(js backend\)); % of peak: of [\d.]+ GFLOP\/s/);
    expect(r.stdout).toMatch(/│ GFLOP\/s │ % of peak │/);
    const report = JSON.parse(readFileSync(json, "utf8")) as ProfileReport;
    expect(report.simdPeak?.gflops).toBeGreaterThan(0);
    expect(report.simdPeak?.op).toMatch(/^(relaxed_madd|mul\+add)$/);
    for (const f of report.frontends) {
      const mm = f.ops.filter((o) => computes(o.op, "matmul"));
      expect(mm.length).toBeGreaterThan(0);
      for (const o of mm) expect(o.peakFraction).toBeCloseTo(o.gflops! / report.simdPeak!.gflops, 12);
      for (const o of f.ops.filter((x) => !computes(x.op, "matmul"))) expect([o.gflops, o.peakFraction]).toEqual([null, null]);
    }
    expect(profileTables(report)).toContain("% of peak");
  });
  it("the HTML report shows the columns, and a bad field is refused naming it", async () => {
    const path = join(dir, "bench.json");
    writeFileSync(path, JSON.stringify({ machine: machineInfo("dualgrad bench"), results: [], agreement: [] }));
    expect((await runCli(["profile", "--model", "mlp-small", "--steps", "1", "--warmup", "0", "--add-to", path])).code).toBe(0);
    const html = toHtml(readReport(path));
    expect(html).toMatch(/<th class="num">GFLOP\/s<\/th><th class="num">% of peak<\/th>/);
    expect(html).toMatch(/matmul kernel: /);
    const raw = JSON.parse(readFileSync(path, "utf8"));
    raw.profile[0].frontends[0].ops[0].gflops = "fast";
    writeFileSync(path, JSON.stringify(raw));
    expect(() => readReport(path)).toThrow(/profile\[0\]\.frontends\[0\]\.ops\[0\]\.gflops is not a number or null/);
    raw.profile[0].frontends[0].ops[0].gflops = null;
    raw.profile[0].simdPeak = { op: "mul+add", threads: 0, gflops: 1 };
    writeFileSync(path, JSON.stringify(raw));
    expect(() => readReport(path)).toThrow(/profile\[0\]\.simdPeak needs a string op and positive threads and gflops/);
  });
});
