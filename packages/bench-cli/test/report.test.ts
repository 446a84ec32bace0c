import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DualgradError } from "@dualgrad/core";
import { stripVTControlCharacters } from "node:util";
import { formatBytes, formatMs, formatRatio, formatSci } from "../src/report/format.js";
import { toHtml } from "../src/report/html.js";
import { toMarkdown } from "../src/report/markdown.js";
import { readReport } from "../src/report/read.js";
import { comparisonCell, METRICS, metricValue } from "../src/report/metrics.js";
import { benchTable, peerTable } from "../src/report/terminal.js";
import type { BenchReport, BenchResult, PeerResult } from "../src/report/types.js";
import { writeReports } from "../src/report/write.js";

// ---------------------------------------------------------------------------------------------
// Fixture: the four reference workloads on both frontends, as a real `dualgrad bench` run on a
// laptop-class CPU would report them (tiny models span decades below the MNIST MLP).

function result(model: string, frontend: "eager" | "graph", median: number, peak: number, extra: Partial<BenchResult> = {}): BenchResult {
  return {
    model,
    frontend,
    steps: 200,
    warmup: 20,
    msPerStep: { median, p90: median * 1.18, mean: median * 1.05, min: median * 0.93 },
    stepsPerSec: 1000 / median,
    memory: {
      peakTensorBytes: peak,
      liveTensorBytes: Math.round(peak * 0.4),
      allocationsPerStep: frontend === "eager" ? 24.5 : 3,
      kernelLaunchesPerStep: frontend === "eager" ? 31 : 12,
      peakRssBytes: 96 * 1024 * 1024 + peak * 4,
      heapUsedBytes: 12 * 1024 * 1024,
    },
    loss: { first: 2.31, last: 0.42 },
    // Eager compiles nothing; the graph traces once and pays for it on its first step.
    static: frontend === "eager"
      ? { traces: 0, compileMsPerTrace: null, coldFirstStepMs: median * 3, steadyMs: median, cumulative: [[1, median * 3], [220, median * 222]] }
      : { traces: 1, compileMsPerTrace: median * 40, coldFirstStepMs: median * 41, steadyMs: median, cumulative: [[1, median * 41], [220, median * 260]], breakEvenSteps: 12 },
    ...extra,
  };
}

/** A decaying, slightly noisy loss curve (deterministic). */
function curve(steps: number, start: number, end: number, phase: number): number[] {
  return Array.from({ length: steps }, (_, i) => end + (start - end) * Math.exp(-i / (steps / 5)) + 0.03 * Math.sin(i * 0.7 + phase) * Math.exp(-i / steps));
}

function fixture(): BenchReport {
  return {
    machine: {
      node: "v20.20.2",
      platform: "linux",
      arch: "x64",
      cpus: 16,
      cpuModel: "AMD EPYC 7B13",
      totalMemoryBytes: 64 * 1024 ** 3,
      date: "2025-05-04T10:11:12.000Z",
      version: "0.1.0",
      command: "dualgrad bench --json out.json --md out.md --html out.html",
    },
    results: [
      result("linreg", "eager", 0.031, 2_304),
      result("linreg", "graph", 0.0042, 1_152, { graph: { nodes: 9, fusedKernels: 2, arenaBytes: 768 } }),
      result("linreg-wide", "eager", 0.62, 2_160_000),
      result("linreg-wide", "graph", 0.27, 1_130_000, { graph: { nodes: 9, fusedKernels: 2, arenaBytes: 1_060_000 } }),
      result("mlp-small", "eager", 0.45, 61_000, { lossCurve: curve(200, 1.2, 0.08, 0) }),
      result("mlp-small", "graph", 0.19, 33_500, { lossCurve: curve(200, 1.2, 0.08, 0.4), graph: { nodes: 41, fusedKernels: 6, arenaBytes: 24_000 } }),
      result("mlp", "eager", 40.2, 3_670_016),
      result("mlp", "graph", 22.1, 1_992_294, { graph: { nodes: 58, fusedKernels: 8, arenaBytes: 1_400_000 } }),
    ],
    agreement: [
      { model: "linreg", maxAbs: 0, maxRel: 0, unfusedMaxAbs: 0 },
      { model: "linreg-wide", maxAbs: 2.4e-7, maxRel: 1.1e-6, unfusedMaxAbs: 0 },
      { model: "mlp-small", maxAbs: 1.2e-7, maxRel: 8.3e-7, unfusedMaxAbs: 0 },
      { model: "mlp", maxAbs: 5.9e-8, maxRel: 3.2e-6 },
    ],
    training: [
      { model: "mlp", frontend: "eager", dataset: "mnist", losses: curve(300, 2.3, 0.21, 0), accuracy: 0.9412 },
      { model: "mlp", frontend: "graph", dataset: "mnist", losses: curve(300, 2.3, 0.2, 1.3), accuracy: 0.9437 },
    ],
  };
}

/** The fixture with one model renamed to markup, to prove every renderer escapes. */
function hostile(): BenchReport {
  const r = fixture();
  const rename = <T extends { model: string }>(x: T) => (x.model === "mlp-small" ? { ...x, model: "<b>x</b>" } : x);
  return { ...r, results: r.results.map(rename), agreement: r.agreement.map(rename), training: r.training?.map(rename) };
}

const MODELS = ["linreg", "linreg-wide", "mlp-small", "mlp"];

/** A peer run as `bench --peers` records it; jax-js has no tensor accounting (those metrics are absent). */
function peer(model: string, frontend: PeerResult["frontend"], median: number): PeerResult {
  const tensors = frontend === "jax-js" ? {} : { peakTensorBytes: 4096, liveTensorBytes: 1024, allocationsPerStep: 30, kernelLaunchesPerStep: 28 };
  return {
    model,
    frontend,
    steps: 200,
    warmup: 20,
    msPerStep: { median, p90: median * 1.1, mean: median, min: median * 0.9 },
    stepsPerSec: 1000 / median,
    memory: { ...tensors, peakRssBytes: 300 * 1024 * 1024, heapUsedBytes: 40 * 1024 * 1024 },
    loss: { first: 2.3, last: 0.5 },
    peer: { packages: frontend === "jax-js" ? { "@jax-js/jax": "0.1.25" } : { "@tensorflow/tfjs-core": "4.22.0" }, backend: frontend === "jax-js" ? "wasm" : "cpu", detail: `${frontend} as documented` },
  };
}

/** The fixture plus TF.js (cpu) and jax-js on mlp and linreg. */
function withPeers(): BenchReport {
  return { ...fixture(), peers: [peer("linreg", "tfjs-cpu", 0.074), peer("linreg", "jax-js", 0.035), peer("mlp", "tfjs-cpu", 199), peer("mlp", "jax-js", 6.8)] };
}

// ---------------------------------------------------------------------------------------------

describe("report formatting", () => {
  it("formats bytes, times, ratios and error magnitudes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.50 KiB");
    expect(formatBytes(3_670_016)).toBe("3.50 MiB");
    expect(formatBytes(200 * 1024 * 1024)).toBe("200.0 MiB");
    expect(formatMs(0.0042)).toBe("0.0042 ms");
    expect(formatMs(1.37)).toBe("1.37 ms");
    expect(formatMs(40.2)).toBe("40.2 ms");
    expect(formatRatio(40.2, 22.1)).toBe("1.8x");
    expect(formatRatio(1, 0)).toBe("-");
    expect(formatSci(0)).toBe("0");
    expect(formatSci(1.2e-7)).toBe("1.2e-7");
    expect(formatMs(NaN)).toBe("-");
  });
});

describe("toMarkdown", () => {
  const md = toMarkdown(fixture());

  it("has a title, the machine line and a side-by-side table per model", () => {
    expect(md.startsWith("# dualgrad benchmark report\n")).toBe(true);
    expect(md).toContain("AMD EPYC 7B13, 16 cores, 64.0 GiB RAM");
    for (const m of MODELS) expect(md).toContain(`### ${m}\n`);
    const header = "| metric | eager | graph | graph vs eager |";
    expect(md.split("\n").filter((l) => l === header)).toHaveLength(4);
    expect(md).toContain("| --- | ---: | ---: | ---: |");
    expect(md).toContain("| ms/step (median) | 40.2 ms | 22.1 ms | 1.8x faster |");
    for (const label of ["ms/step (p90)", "steps/s", "peak tensor bytes", "live tensor bytes", "allocations/step", "kernel launches/step", "peak RSS"]) {
      expect(md).toContain(`| ${label} |`);
    }
    expect(md).toContain("| peak tensor bytes | 3.50 MiB | 1.90 MiB | 0.54x |");
  });

  it("has the agreement table with the unfused column", () => {
    expect(md).toContain("| model | max abs | max rel | unfused max abs |");
    expect(md).toContain("| linreg-wide | 2.4e-7 | 1.1e-6 | 0 |");
    expect(md).toContain("| mlp | 5.9e-8 | 3.2e-6 | - |");
  });

  it("is deterministic and ends with one newline", () => {
    expect(toMarkdown(fixture())).toBe(md);
    expect(md.endsWith("\n") && !md.endsWith("\n\n")).toBe(true);
  });

  it("escapes markup in model names", () => {
    const out = toMarkdown(hostile());
    expect(out).not.toContain("<b>x</b>");
    expect(out).toContain("\\<b\\>x\\</b\\>");
  });
});

describe("toHtml", () => {
  const html = toHtml(fixture());

  it("is one self-contained document", () => {
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script\b/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).toContain('<meta name="generator" content="dualgrad">');
    expect(html).toMatch(/<title>[^<]*dualgrad[^<]*<\/title>/);
    expect(html).toContain("prefers-color-scheme: dark");
  });

  it("draws the four charts", () => {
    expect(html.match(/<svg\b/g)).toHaveLength(4);
    for (const id of ["chart-ms", "chart-memory", "chart-loss", "chart-cumulative"]) expect(html).toMatch(new RegExp(`<svg data-testid="${id}"`));
    // Time spans linreg's 0.0042 ms to mlp's 40 ms: more than two decades, so a log axis.
    const ms = html.slice(html.indexOf('data-testid="chart-ms"'), html.indexOf("</svg>", html.indexOf('data-testid="chart-ms"')));
    expect(ms).toContain("(log scale)");
    // Bars carry a tooltip; legend swatches do not.
    expect(ms.match(/<rect class="fill-(eager|graph)"[^>]*><title>/g)).toHaveLength(8);
    expect(ms.match(/class="whisker"/g)).toHaveLength(16);
    const loss = html.slice(html.indexOf('data-testid="chart-loss"'));
    expect(loss.match(/<polyline/g)!.length).toBeGreaterThanOrEqual(4);
  });

  it("has the same tables as the Markdown", () => {
    for (const m of MODELS) expect(html).toContain(`<h3>${m}</h3>`);
    expect(html).toContain('<th class="num">graph vs eager</th>');
    expect(html).toContain("<td class=\"num\">1.8x faster</td>");
    expect(html).toContain("<th>model</th><th class=\"num\">max abs</th><th class=\"num\">max rel</th><th class=\"num\">unfused max abs</th>");
  });

  it("draws cumulative time against steps for both frontends, per model", () => {
    const chart = html.slice(html.indexOf('data-testid="chart-cumulative"'));
    expect(chart).toContain("mlp (cumulative time)");
    expect(chart.slice(0, chart.indexOf("</svg>")).match(/<polyline class="line line-(eager|graph)"/g)).toHaveLength(8);
    expect(html).toContain("<h2>What static costs</h2>");
  });

  it("escapes model names everywhere", () => {
    const out = toHtml(hostile());
    expect(out).not.toContain("<b>");
    expect(out).toContain("&#60;b&#62;x&#60;/b&#62;");
  });

  it("is deterministic and copes with a report without training or agreement", () => {
    expect(toHtml(fixture())).toBe(html);
    const bare = { ...fixture(), agreement: [], training: undefined };
    bare.results = bare.results.filter((r) => r.frontend === "graph").map(({ lossCurve: _, static: __, ...r }) => r);
    const out = toHtml(bare);
    expect(out.match(/<svg\b/g)).toHaveLength(2);
    expect(out).not.toContain("graph vs eager");
  });
});

describe("one metric table for the three renderers", () => {
  const report = fixture();
  const md = toMarkdown(report);
  const html = toHtml(report);
  const terminal = stripVTControlCharacters(benchTable(report));
  const mlp = (f: string) => report.results.find((r) => r.model === "mlp" && r.frontend === f)!;

  for (const metric of METRICS) {
    it(`shows ${metric.key} with the same label, figures and comparison in the terminal, Markdown and HTML`, () => {
      const eager = metricValue(metric, mlp("eager"));
      const graph = metricValue(metric, mlp("graph"));
      // Graph-only rows (compile time, break-even) print "-" for eager.
      expect(Number.isFinite(eager)).toBe(!metric.graphOnly);
      expect(Number.isFinite(graph)).toBe(true);
      const cells = [metric.format(eager), metric.format(graph), comparisonCell(metric.compare, eager, graph)];
      expect(md).toContain(`| ${metric.label} | ${cells.join(" | ")} |`);
      expect(html).toContain(`<tr><th scope="row">${metric.label}</th>${cells.map((c) => `<td class="num">${c.replace("÷", "&#247;")}</td>`).join("")}</tr>`);
      expect(terminal).toMatch(new RegExp(`│ +${escapeRegExp(metric.label)} +│ +${cells.map(escapeRegExp).join(" +│ +")} +│`));
    });
  }
});

describe("peer libraries in the reports", () => {
  const report = withPeers();

  it("Markdown: peer columns in the model tables, the comparison and what each peer ran", () => {
    const md = toMarkdown(report);
    expect(md).toContain("| metric | eager | graph | tfjs-cpu | jax-js | graph vs eager |");
    expect(md).toContain("| ms/step (median) | 40.2 ms | 22.1 ms | 199 ms | 6.80 ms | 1.8x faster |");
    // jax-js has no tensor accounting: "-" rather than a made-up figure.
    expect(md).toContain("| peak tensor bytes | 3.50 MiB | 1.90 MiB | 4.00 KiB | - | 0.54x |");
    expect(md).toContain("## Peer libraries");
    expect(md).toContain("| model | dualgrad best | tfjs-cpu | tfjs-cpu/ours | jax-js | jax-js/ours |");
    expect(md).toContain("| mlp | 22.1 ms (graph) | 199 ms | 9.0x | 6.80 ms | 0.31x |");
    expect(md).toContain("| linreg | 0.0042 ms (graph) | 0.074 ms | 17.6x | 0.035 ms | 8.3x |");
    expect(md).toContain("| jax-js | @jax-js/jax 0.1.25 | wasm | jax-js as documented |");
  });

  it("HTML: the same tables, and peer bars in the charts", () => {
    const html = toHtml(report);
    expect(html).toContain("<h2>Peer libraries</h2>");
    expect(html).toContain('<th class="num">tfjs-cpu/ours</th>');
    expect(html).toContain('<tr><th scope="row">mlp</th><td class="num">22.1 ms (graph)</td><td class="num">199 ms</td><td class="num">9.0x</td><td class="num">6.80 ms</td><td class="num">0.31x</td></tr>');
    expect(html).toContain('<th scope="row">jax-js</th><td>@jax-js/jax 0.1.25</td>');
    const ms = html.slice(html.indexOf('data-testid="chart-ms"'), html.indexOf("</svg>", html.indexOf('data-testid="chart-ms"')));
    // Two peers on two models, each bar with its tooltip.
    expect(ms.match(/<rect class="fill-s[01]"[^>]*><title>/g)).toHaveLength(4);
  });

  it("terminal: the peer table beside our best frontend", () => {
    const text = stripVTControlCharacters(peerTable(report));
    expect(text).toMatch(/mlp +│ +22\.1 ms \(graph\) +│ +199 ms +│ +9\.0x +│ +6\.80 ms +│ +0\.31x/);
    expect(peerTable(fixture())).toBe("");
  });

  it("readReport keeps peers and names a malformed one", () => {
    const dir = mkdtempSync(join(tmpdir(), "dualgrad-peers-"));
    try {
      const p = join(dir, "r.json");
      writeReports(report, { json: p });
      expect(readReport(p)).toEqual(report);
      const bad = join(dir, "bad.json");
      writeFileSync(bad, JSON.stringify({ ...report, peers: [{ ...peer("mlp", "jax-js", 1), frontend: "torch" }] }));
      expect(() => readReport(bad)).toThrow(/peers\[0\]\.frontend is "torch", expected "tfjs-cpu" or "tfjs-wasm" or "jax-js"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("writeReports", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dualgrad-report-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const targets = (d: string) => ({ json: join(d, "r.json"), md: join(d, "r.md"), html: join(d, "r.html") });

  it("writes all three files, leaving no temp files", () => {
    const report = fixture();
    const written = writeReports(report, targets(dir));
    expect(written).toHaveLength(3);
    expect(readdirSync(dir).sort()).toEqual(["r.html", "r.json", "r.md"]);
    const json = readFileSync(join(dir, "r.json"), "utf8");
    expect(json).toBe(`${JSON.stringify(report, null, 2)}\n`);
    expect(readFileSync(join(dir, "r.md"), "utf8")).toBe(toMarkdown(report));
    expect(readFileSync(join(dir, "r.html"), "utf8")).toBe(toHtml(report));
  });

  it("refuses to overwrite unless told to", () => {
    writeFileSync(join(dir, "r.md"), "keep me");
    expect(() => writeReports(fixture(), targets(dir))).toThrow(DualgradError);
    expect(() => writeReports(fixture(), targets(dir))).toThrow(/r\.md' already exists; pass --force/);
    // Nothing written, not even the targets that were free.
    expect(readdirSync(dir)).toEqual(["r.md"]);
    expect(readFileSync(join(dir, "r.md"), "utf8")).toBe("keep me");

    writeReports(fixture(), targets(dir), { overwrite: true });
    expect(readFileSync(join(dir, "r.md"), "utf8")).toBe(toMarkdown(fixture()));
  });

  it("writes none of the files when one target is invalid", () => {
    const t = { ...targets(dir), html: join(dir, "missing", "r.html") };
    expect(() => writeReports(fixture(), t)).toThrow(/missing.*does not exist/);
    expect(readdirSync(dir)).toEqual([]);

    mkdirSync(join(dir, "r.md"));
    expect(() => writeReports(fixture(), targets(dir), { overwrite: true })).toThrow(/r\.md'.*is a directory/);
    expect(readdirSync(dir)).toEqual(["r.md"]);
  });

  it("rejects two outputs on one path, and checks without writing in dry-run mode", () => {
    expect(() => writeReports(fixture(), { md: join(dir, "x"), html: join(dir, ".", "x") })).toThrow(/--md and --html both name/);
    expect(writeReports(null, targets(dir), { dryRun: true })).toHaveLength(3);
    expect(readdirSync(dir)).toEqual([]);
    expect(() => writeReports(null, targets(dir))).toThrow(DualgradError);
  });
});

describe("readReport", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dualgrad-read-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const put = (name: string, content: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
    return p;
  };

  it("round-trips what writeReports wrote", () => {
    const p = join(dir, "r.json");
    writeReports(fixture(), { json: p });
    expect(readReport(p)).toEqual(fixture());
  });

  it("names the path for a missing file, a directory and non-JSON", () => {
    const missing = join(dir, "nope.json");
    expect(() => readReport(missing)).toThrow(DualgradError);
    expect(() => readReport(missing)).toThrow(`cannot read report '${missing}': no such file`);
    expect(() => readReport(dir)).toThrow(`cannot read report '${dir}': it is a directory`);
    const bad = put("bad.json", "{ not json");
    expect(() => readReport(bad)).toThrow(new RegExp(`'${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}': not valid JSON`));
  });

  it("rejects JSON that is not a bench report, naming the field", () => {
    const cases: [unknown, RegExp][] = [
      [[1, 2], /top level is an array/],
      [{ results: [], agreement: [] }, /'machine' is missing/],
      [{ ...fixture(), results: "x" }, /'results' is missing or not an array/],
      [{ ...fixture(), agreement: undefined }, /'agreement' is missing/],
      [{ ...fixture(), results: [{ model: "m", frontend: "eager", msPerStep: {} }] }, /results\[0\]\.msPerStep\.median/],
      [{ ...fixture(), results: [{ model: "m", frontend: "tpu", msPerStep: { median: 1 } }] }, /results\[0\]\.frontend is "tpu"/],
      [{ ...fixture(), results: [{ frontend: "eager", msPerStep: { median: 1 } }] }, /results\[0\]\.model/],
      [{ ...fixture(), agreement: [{ model: "m", maxAbs: 0 }] }, /agreement\[0\]\.maxRel/],
    ];
    cases.forEach(([content, why], i) => {
      const p = put(`case${i}.json`, content);
      expect(() => readReport(p)).toThrow(why);
      expect(() => readReport(p)).toThrow(`'${p}' is not a dualgrad bench report`);
    });
  });
});

// ---------------------------------------------------------------------------------------------

const CHROMIUM = "/usr/bin/chromium";
const SCRIPT = fileURLToPath(new URL("../scripts/screenshot-report.mjs", import.meta.url));

describe("HTML report in a real browser", () => {
  it.skipIf(!existsSync(CHROMIUM))(
    "renders to a non-trivial PNG with headless Chromium",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "dualgrad-shot-"));
      try {
        const html = join(dir, "report.html");
        const png = join(dir, "report.png");
        writeReports(fixture(), { html });
        execFileSync(process.execPath, [SCRIPT, html, png], { stdio: "pipe", timeout: 150_000 });
        const bytes = readFileSync(png);
        expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
        expect(statSync(png).size).toBeGreaterThan(10 * 1024);
        // To look at it: DUALGRAD_KEEP_SCREENSHOT=/some/dir npx vitest run .../report.test.ts
        const keep = process.env.DUALGRAD_KEEP_SCREENSHOT;
        if (keep) {
          copyFileSync(png, join(keep, "report.png"));
          copyFileSync(html, join(keep, "report.html"));
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    180_000,
  );
});
