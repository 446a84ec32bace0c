import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

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
  execFileSync("pnpm", ["-s", "-r", "run", "build"], { cwd: root, stdio: "ignore" });
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
  ["train: save into a missing directory", ["train", "--save", join(dir, "missing", "w.safetensors")], /--save: directory .* does not exist/],
  ["train: save onto a directory", ["train", "--save", out], /--save: .* is a directory/],
  ["train: --model and --layers", ["train", "--model", "mlp", "--layers", "2,1"], /use either --model or --layers/],
  ["train: mnist with the wrong model", ["train", "--dataset", "mnist", "--model", "linreg"], /mnist/],
  ["train: bad activation", ["train", "--activation", "gelu"], /Allowed choices are relu, tanh, sigmoid/],
  ["bench: zero steps", ["bench", "--steps", "0"], /--steps.*expected a positive integer/],
  ["bench: negative warmup", ["bench", "--warmup", "-1"], /--warmup.*expected a non-negative integer/],
  ["bench: zero min-time", ["bench", "--min-time", "0"], /--min-time.*expected a positive number/],
  ["bench: existing output", ["bench", "--json", existing], /already exists.*--force/],
  ["bench: output is a directory", ["bench", "--md", out], /directory/],
  ["bench: output into a missing directory", ["bench", "--html", join(dir, "missing", "r.html")], /does not exist/],
  ["bench: empty model list", ["bench", "--models", ","], /empty list/],
  ["compare: bad dtype", ["compare", "--dtype", "float16"], /Allowed choices are float32, float64/],
  ["compare: zero samples", ["compare", "--samples", "0"], /--samples.*positive integer/],
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
];

describe("bad input: a clear error, exit 2, no stack, nothing written", () => {
  for (const [name, args, message] of CASES) {
    it(name, () => {
      const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 });
      expect(r.stderr).toMatch(message);
      expect(r.status).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe("");
      expect(readdirSync(out)).toEqual([]);
    });
  }
});
