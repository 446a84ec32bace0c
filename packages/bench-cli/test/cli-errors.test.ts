import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSafetensors, serializeSafetensors } from "@dualgrad/core";

/**
 * Every command driven with bad input: wrong flags, wrong types, out-of-range numbers, missing
 * files, a directory instead of a file, an existing output path. Each must print one clear line
 * naming the problem, exit 2, show no stack trace, and leave no output file behind.
 */
const root = fileURLToPath(new URL("../../..", import.meta.url));
const cli = join(root, "packages/bench-cli/dist/cli.js");
const dir = mkdtempSync(join(tmpdir(), "dualgrad-cli-errors-"));
const out = join(dir, "out");
const existing = join(dir, "existing.json");
const junk = join(dir, "junk.json");
const csvDir = join(dir, "a-directory");

beforeAll(() => {
  mkdirSync(out);
  mkdirSync(csvDir);
  writeFileSync(existing, "{}");
  writeFileSync(junk, "this is not json");
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CASES: [string, string[], RegExp][] = [
  ["train: zero epochs", ["train", "--epochs", "0"], /--epochs.*expected a positive integer, got '0'/],
  ["train: negative lr", ["train", "--lr", "-1"], /--lr.*expected a positive number, got '-1'/],
  ["train: lr not a number", ["train", "--lr", "fast"], /--lr.*expected a positive number, got 'fast'/],
  ["train: fractional seed", ["train", "--seed", "1.5"], /--seed.*expected an integer seed, got '1.5'/],
  ["train: unknown dataset", ["train", "--dataset", "imagenet"], /unknown dataset 'imagenet'.*synthetic, mnist, csv:PATH/],
  ["train: csv file missing", ["train", "--dataset", `csv:${join(dir, "nope.csv")}`, "--target", "y", "--layers", "2,1"], /nope\.csv/],
  ["train: csv is a directory", ["train", "--dataset", `csv:${csvDir}`, "--target", "y", "--layers", "2,1"], /a-directory.*directory/],
  ["train: csv without --target", ["train", "--dataset", `csv:${junk}`, "--layers", "2,1"], /--target/],
  ["train: save into a missing directory", ["train", "--save", join(dir, "missing", "w.safetensors")], /cannot write --save .*directory .* does not exist/],
  ["train: save onto a directory", ["train", "--save", out], /cannot write --save .*it is a directory/],
  ["train: --model and --layers", ["train", "--model", "mlp", "--layers", "2,1"], /use either --model or --layers/],
  ["train: mnist with the wrong model", ["train", "--dataset", "mnist", "--model", "linreg"], /mnist/],
  ["train: bad activation", ["train", "--activation", "gelu"], /Allowed choices are relu, tanh, sigmoid/],
  ["bench: zero steps", ["bench", "--steps", "0"], /--steps.*expected a positive integer/],
  ["bench: negative warmup", ["bench", "--warmup", "-1"], /--warmup.*expected a non-negative integer/],
  ["bench: zero min-time", ["bench", "--min-time", "0"], /--min-time.*expected a positive number/],
  ["bench: zero rounds", ["bench", "--rounds", "0"], /--rounds.*expected a positive integer, got '0'/],
  ["bench: rounds not a number", ["bench", "--rounds", "x"], /--rounds.*expected a positive integer, got 'x'/],
  ["bench: existing output", ["bench", "--json", existing], /already exists.*--force/],
  ["bench: output is a directory", ["bench", "--md", out], /directory/],
  ["bench: output into a missing directory", ["bench", "--html", join(dir, "missing", "r.html")], /does not exist/],
  ["bench: empty model list", ["bench", "--models", ","], /empty list/],
  ["compare: bad dtype", ["compare", "--dtype", "float16"], /Allowed choices are float32, float64/],
  ["compare: zero samples", ["compare", "--samples", "0"], /--samples.*positive integer/],
  ["export: a recurrent model", ["export", "--model", "rnn", "--out", join(dir, "rnn.onnx")], /--model rnn: serve and export take Linear-stack models only; rnn is recurrent/],
  ["check-ref: missing file", ["check-ref", join(dir, "nope.safetensors")], /no such file/],
  ["check-ref: a directory", ["check-ref", out], /is a directory/],
  ["check-ref: not safetensors", ["check-ref", junk], /safetensors/],
  ["check-ref: bad rtol", ["check-ref", junk, "--rtol", "-1"], /--rtol.*positive number/],
  ["check-ref: bad frontend", ["check-ref", junk, "--frontend", "tpu"], /Allowed choices are eager, graph, both/],
  ["check-ref: no file argument", ["check-ref"], /missing required argument 'file'/],
  ["graph: bad stage", ["graph", "--stage", "lowered"], /Allowed choices are traced, grad, optimized, plan/],
  ["graph: bad format", ["graph", "--format", "png"], /Allowed choices are text, dot, mermaid, json/],
  ["graph: unknown pass switch", ["graph", "--no-magic"], /unknown option '--no-magic'/],
  ["report: no --in", ["report", "--html", join(out, "r.html")], /required option '--in <file>'/],
  ["report: input missing", ["report", "--in", join(dir, "nope.json"), "--html", join(out, "r.html")], /nope\.json/],
  ["report: input not JSON", ["report", "--in", junk, "--html", join(out, "r.html")], /junk\.json/],
  ["report: input is not a bench report", ["report", "--in", existing, "--html", join(out, "r.html")], /existing\.json/],
  ["report: no output", ["report", "--in", existing], /give --html FILE and\/or --md FILE/],
  ["report: input is a directory", ["report", "--in", out, "--md", join(out, "r.md")], /directory/],
  // Numbers: decimal only, one parser for every flag; sizes checked before anything is allocated.
  ["train: hex lr", ["train", "--lr", "0x10"], /--lr.*expected a positive number, got '0x10'/],
  ["train: hex layer width", ["train", "--layers", "0x8,1"], /--layers: expected .*positive integers.*got '0x8,1'/],
  ["train: layer width 1e300", ["train", "--layers", "1e300,1"], /--layers: expected .*positive integers.*got '1e300,1'/],
  ["train: a layer too big for one tensor", ["train", "--layers", "100000,100000,1"], /100000x100000 weight of layer 0.*element limit.*--layers/],
  ["train: over the memory budget", ["train", "--layers", "40000,40000,40000,1"], /needs about .*GiB \(parameters .*over the budget of .* of this machine's memory/],
  ["train: huge batch size", ["train", "--batch-size", "1000000000"], /batch size 1000000000.*use smaller/],
  ["train: huge samples", ["train", "--samples", "1000000000"], /1000000000 rows.*use smaller/],
  ["compare: huge batch size", ["compare", "--batch-size", "1000000000"], /batch size 1000000000.*use smaller/],
  ["graph: huge batch size", ["graph", "--batch-size", "1000000000"], /batch size 1000000000.*use smaller/],
  ["train: seed beyond 2^52 names the user's seed", ["train", "--seed", "9007199254740991"], /--seed.*between .*got '9007199254740991'$/m],
  ["train: threads above the cores", ["train", "--threads", "1000"], /--threads.*at most \d+ \(this machine's available parallelism\), got '1000'/],
  ["bench: threads above the cores", ["bench", "--threads", "1000"], /--threads.*at most \d+/],
];

describe("bad input: a clear error, exit 2, no stack, nothing written", () => {
  for (const [name, args, message] of CASES) {
    it(name, () => {
      const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 });
      expect(r.stderr).toMatch(message);
      expect(r.status).toBe(2);
      expect(r.stderr.endsWith("\n") && r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe("");
      expect(readdirSync(out)).toEqual([]);
    });
  }
});

/** Runs the CLI and checks the common contract: exit 2, one line on stderr, no stack, nothing on stdout. */
function usageError(args: string[]): string {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 });
  expect(r.status).toBe(2);
  expect(r.stdout).toBe("");
  expect(r.stderr.endsWith("\n") && r.stderr.trimEnd().split("\n")).toHaveLength(1);
  return r.stderr;
}

describe("error lines are single and bounded, however big the input", () => {
  it("a 100,000-digit value is echoed cut to 80 characters", () => {
    const line = usageError(["train", "--lr", `${"9".repeat(100_000)}x`]);
    expect(line).toMatch(/--lr.*got '9{40,}…9*x'/);
    expect(line.length).toBeLessThan(400);
  });
  it("a wide CSV with the wrong --layers names its size in a short line", () => {
    const wide = join(dir, "wide.csv");
    const names = Array.from({ length: 5000 }, (_, i) => `a_rather_long_feature_column_name_${i}`);
    writeFileSync(wide, `${names.join(",")},y\n${names.map(() => "1").join(",")},2\n${names.map(() => "3").join(",")},4\n`);
    const line = usageError(["train", "--dataset", `csv:${wide}`, "--target", "y", "--layers", "2,1"]);
    expect(line).toMatch(/has 5000 feature columns .*…/);
    expect(line).toMatch(/--layers 5000,1/);
    expect(line.length).toBeLessThanOrEqual(700);
  });
  it("a quoted header with a newline is escaped onto the one line", () => {
    const csv = join(dir, "newline-header.csv");
    writeFileSync(csv, `"first\nsecond",y\n1,2\n3,4\n`);
    expect(usageError(["train", "--dataset", `csv:${csv}`, "--target", "y", "--layers", "5,1"])).toMatch(/first\\nsecond/);
  });
});

describe("check-ref: a file with nothing to compare is malformed", () => {
  it("params, input, target and metadata only: exit 2, not 'all within tolerance'", () => {
    const fixture = join(root, "packages/eager/test/fixtures/torch-mlp-small-f64.safetensors");
    const file = parseSafetensors(readFileSync(fixture));
    for (const name of [...file.tensors.keys()]) if (!name.startsWith("params.") && name !== "input" && name !== "target") file.tensors.delete(name);
    const path = join(dir, "no-results.safetensors");
    writeFileSync(path, serializeSafetensors(file.tensors, file.metadata));
    expect(usageError(["check-ref", path, "--json"])).toMatch(/no-results\.safetensors holds no result tensor to compare .*output, loss/);
  });
});

/** Runs the CLI like {@link usageError} but returns exit code and stderr, with extra spawn options. */
function runCli(args: string[], options: { uid?: number; gid?: number } = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000, ...options });
  return { code: r.status, stderr: r.stderr };
}

describe("output paths: every command refuses existing files without --force and special files always", () => {
  const outputs = join(dir, "outputs");
  const fifo = join(outputs, "pipe");
  const csv = join(outputs, "data.csv");
  const CSV_TEXT = "a,b,y\n1,2,3\n4,5,6\n7,8,9\n";
  beforeAll(() => {
    mkdirSync(outputs);
    execFileSync("mkfifo", [fifo]);
    writeFileSync(csv, CSV_TEXT);
  });

  it("train --save onto the training CSV itself exits 2 and leaves the CSV alone", () => {
    const line = usageError(["train", "--dataset", `csv:${csv}`, "--target", "y", "--layers", "2,1", "--epochs", "1", "--save", csv]);
    expect(line).toMatch(/--save '.*data\.csv' already exists; pass --force to overwrite it/);
    expect(readFileSync(csv, "utf8")).toBe(CSV_TEXT);
  });
  for (const [name, args] of [
    ["train --save", ["train", "--model", "linreg", "--epochs", "1", "--save", fifo, "--force"]],
    ["bench --json", ["bench", "--models", "linreg", "--json", fifo, "--force"]],
    ["report --md", ["report", "--in", existing, "--md", fifo, "--force"]],
  ] as [string, string[]][]) {
    it(`${name} onto a FIFO is refused even with --force`, () => {
      expect(usageError(args)).toMatch(/pipe': it is a FIFO, not a regular file; refusing to replace it, even with --force/);
      expect(lstatSync(fifo).isFIFO()).toBe(true);
    });
  }
  it("train --save into an unwritable directory fails before training", (ctx) => {
    if (process.platform === "win32") return;
    // Root ignores permission bits: run the CLI as nobody then, from directories it may enter.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    // A checkout under a private directory (mktemp -d is 0700) is closed to nobody: then this
    // case cannot be run as root, and says so instead of failing on an unreadable CLI.
    if (asNobody.uid !== undefined && spawnSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(cli)})`], asNobody).status !== 0) {
      console.warn(`skipped: running as root and user nobody cannot read ${cli}, so an unwritable directory cannot be shown`);
      ctx.skip();
    }
    const ro = join(outputs, "read-only");
    mkdirSync(ro, { mode: 0o555 });
    for (const d of [dir, outputs]) chmodSync(d, 0o755);
    const r = runCli(["train", "--model", "mlp", "--dataset", "synthetic", "--epochs", "50", "--save", join(ro, "w.safetensors")], asNobody);
    expect(r.stderr).toMatch(/cannot write --save '.*w\.safetensors': directory '.*read-only' is not writable/);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
  it("train --save over an existing weights file needs --force", () => {
    const weights = join(outputs, "w.safetensors");
    writeFileSync(weights, "old");
    expect(usageError(["train", "--model", "linreg", "--epochs", "1", "--save", weights])).toMatch(/already exists; pass --force/);
    expect(readFileSync(weights, "utf8")).toBe("old");
    expect(runCli(["train", "--model", "linreg", "--epochs", "1", "--save", weights, "--force"]).code).toBe(0);
    expect(readFileSync(weights).subarray(8, 9).toString()).toBe("{");
  });
});

