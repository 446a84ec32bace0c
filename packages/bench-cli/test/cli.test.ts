import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { readSafetensors, serializeSafetensors, parseSafetensors } from "@dualgrad/core";

/** The CLI as a user runs it: the built program in a child process. */
const root = fileURLToPath(new URL("../../..", import.meta.url));
const cli = join(root, "packages/bench-cli/dist/cli.js");
const fixtures = join(root, "packages/eager/test/fixtures");
const dir = mkdtempSync(join(tmpdir(), "dualgrad-cli-"));

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("usage errors exit 2 with a clear message and no stack trace", () => {
  it("no arguments prints help", () => {
    const r = run([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: dualgrad/);
  });
  it("unknown command lists the valid ones", () => {
    const r = run(["trian"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'trian'/);
    expect(r.stderr).toMatch(/valid commands: train, bench, compare, check-ref, graph, report/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
  it("unknown model, unknown flag, bad numbers, bad choices", () => {
    let r = run(["train", "--model", "resnet"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown model 'resnet' \(valid: linreg, linreg-wide, mlp-small, mlp/);
    r = run(["train", "--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
    r = run(["train", "--epochs", "abc"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--epochs <n>.*expected a positive integer, got 'abc'/);
    r = run(["train", "--epochs", "-3"]);
    expect(r.code).toBe(2);
    r = run(["train", "--frontend", "jax"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are eager, graph, both/);
    r = run(["bench", "--models", "linreg,vgg"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown 'vgg'; valid: linreg, linreg-wide, mlp-small, mlp/);
    r = run(["train", "--layers", "4,x,1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--layers: expected at least two comma-separated positive integers/);
  });
  it("--debug shows the stack", () => {
    const r = run(["check-ref", join(dir, "missing.safetensors"), "--debug"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no such file/);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});

describe("check-ref: the bridge to PyTorch", () => {
  it("every fixture is within tolerance on both frontends", () => {
    for (const f of ["torch-linreg-f64", "torch-linreg-f32", "torch-mlp-small-f64", "torch-mlp-small-f32"]) {
      const r = run(["check-ref", join(fixtures, `${f}.safetensors`)]);
      expect(r.stderr).toBe("");
      expect(r.code, f).toBe(0);
      expect(r.stdout).toMatch(/after5\.0\.weight/);
      expect(r.stdout).toMatch(/all within tolerance/);
    }
  });
  it("--json and out-of-tolerance exit 1", () => {
    const file = parseSafetensors(readFileSync(join(fixtures, "torch-linreg-f64.safetensors")));
    const loss = file.tensors.get("loss")!;
    loss.data = Float64Array.from([(loss.data[0] as number) * 1.001]);
    const path = join(dir, "bad-loss.safetensors");
    writeFileSync(path, serializeSafetensors(file.tensors, file.metadata));
    const r = run(["check-ref", path, "--json", "--frontend", "graph"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(false);
    expect(out.rows.find((x: { tensor: string }) => x.tensor === "loss").ok).toBe(false);
    expect(out.rows.find((x: { tensor: string }) => x.tensor === "output").ok).toBe(true);
  });
  it("a malformed file or one that is not a model exits 2", () => {
    const junk = join(dir, "junk.safetensors");
    writeFileSync(junk, "not a safetensors file at all");
    expect(run(["check-ref", junk]).code).toBe(2);
    const file = parseSafetensors(readFileSync(join(fixtures, "torch-linreg-f64.safetensors")));
    file.tensors.delete("input");
    const noInput = join(dir, "no-input.safetensors");
    writeFileSync(noInput, serializeSafetensors(file.tensors, file.metadata));
    const r = run(["check-ref", noInput]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/does not describe a model: tensor input is missing/);
    expect(run(["check-ref", dir]).stderr).toMatch(/is a directory/);
  });
});

describe("commands", () => {
  it("bench writes JSON of the documented shape and refuses to overwrite", () => {
    const json = join(dir, "bench.json");
    const md = join(dir, "bench.md");
    const r = run(["bench", "--models", "linreg,mlp-small", "--steps", "5", "--warmup", "1", "--min-time", "0.01", "--json", json, "--md", md, "--quiet"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ms\/step \(median\)/);
    const doc = JSON.parse(readFileSync(json, "utf8"));
    expect(doc.machine.cpus).toBeGreaterThan(0);
    expect(doc.results).toHaveLength(4);
    for (const res of doc.results) {
      expect(Object.keys(res)).toEqual(expect.arrayContaining(["model", "frontend", "msPerStep", "stepsPerSec", "memory"]));
      expect(Object.keys(res.memory)).toEqual(expect.arrayContaining(["peakTensorBytes", "liveTensorBytes", "allocationsPerStep", "kernelLaunchesPerStep", "peakRssBytes"]));
      expect(res.msPerStep.median).toBeGreaterThan(0);
    }
    expect(doc.results.find((x: { frontend: string }) => x.frontend === "graph").memory.allocationsPerStep).toBe(0);
    expect(doc.agreement.map((a: { model: string }) => a.model)).toEqual(["linreg", "mlp-small"]);
    expect(doc.agreement[0].unfusedMaxAbs).toBe(0);
    expect(readFileSync(md, "utf8")).toMatch(/mlp-small/);
    const again = run(["bench", "--models", "linreg", "--steps", "2", "--warmup", "0", "--min-time", "0.01", "--json", json]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists/);
    const report = run(["report", "--in", json, "--html", join(dir, "report.html")]);
    expect(report.code).toBe(0);
    expect(readFileSync(join(dir, "report.html"), "utf8")).toMatch(/<svg/);
  });
  it("liveTensorBytes is the same after 20 steps as after 2,000 (nothing leaks)", () => {
    const results = [20, 2000].map((steps) => {
      const file = join(dir, `live-${steps}.json`);
      const r = run(["bench", "--models", "mlp-small", "--steps", String(steps), "--warmup", "0", "--min-time", "0.001", "--json", file, "--quiet"]);
      expect(r.code).toBe(0);
      return JSON.parse(readFileSync(file, "utf8")).results as { frontend: string; steps: number; memory: { liveTensorBytes: number } }[];
    });
    for (const f of ["eager", "graph"]) {
      const [short, long] = results.map((rs) => rs.find((x) => x.frontend === f)!);
      expect(long.steps).toBeGreaterThanOrEqual(2000);
      expect(long.memory.liveTensorBytes).toBe(short.memory.liveTensorBytes);
    }
  });
  it("check-ref checks only the result tensors a file has", () => {
    const file = parseSafetensors(readFileSync(join(fixtures, "torch-mlp-small-f64.safetensors")));
    for (const name of [...file.tensors.keys()]) if (name.startsWith("after") || name.startsWith("grad.") || name === "losses") file.tensors.delete(name);
    const path = join(dir, "partial.safetensors");
    writeFileSync(path, serializeSafetensors(file.tensors, file.metadata));
    const r = run(["check-ref", path, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).rows.map((x: { tensor: string }) => x.tensor)).toEqual(["output", "loss", "loss_after5", "output", "loss", "loss_after5"]);
  });
  it("compare prints per-parameter agreement with finite differences", () => {
    const r = run(["compare", "--model", "mlp-small", "--json", "--samples", "8"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.rows.map((x: { parameter: string }) => x.parameter)).toEqual(["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]);
    for (const row of out.rows) {
      expect(row.eagerVsGraph.maxAbs).toBe(0);
      expect(row.eagerVsFd.maxRel).toBeLessThan(1e-6);
    }
  });
  it("graph shows each stage in each format", () => {
    const traced = run(["graph", "--model", "linreg", "--stage", "traced"]);
    expect(traced.code).toBe(0);
    expect(traced.stdout).toMatch(/^\{ lambda a:f32\[64,1\] b:f32\[64,1\]/);
    expect(traced.stderr).toMatch(/linreg traced: \d+ nodes/);
    const opt = run(["graph", "--model", "mlp", "--stage", "optimized"]);
    expect(opt.stdout).toMatch(/fused\[/);
    const noFuse = run(["graph", "--model", "mlp", "--stage", "optimized", "--no-fuse"]);
    expect(noFuse.stdout).not.toMatch(/fused\[/);
    expect(noFuse.stderr).toMatch(/off: fuse/);
    expect(run(["graph", "--model", "linreg", "--format", "dot"]).stdout).toMatch(/^digraph/);
    expect(run(["graph", "--model", "linreg", "--format", "mermaid"]).stdout).toMatch(/^flowchart TD/);
    expect(JSON.parse(run(["graph", "--model", "linreg", "--format", "json"]).stdout).format).toBe("dualgrad-graph");
    expect(run(["graph", "--model", "linreg", "--stage", "plan"]).stdout).toMatch(/^plan: arena \d+ bytes/);
    expect(run(["graph", "--model", "linreg", "--stage", "plan", "--format", "dot"]).code).toBe(2);
  });
  it("train on both frontends, save weights, output without colours off a TTY", () => {
    const weights = join(dir, "w.safetensors");
    const r = run(["train", "--model", "linreg", "--epochs", "3", "--save", weights]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/final train loss/);
    expect(r.stdout).toMatch(/eager.*graph/s);
    expect(r.stdout).not.toMatch(/\x1b\[/);
    const file = readSafetensors(weights);
    expect(file.tensors.get("0.weight")!.shape).toEqual([1, 1]);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    const j = run(["train", "--model", "mlp-small", "--epochs", "2", "--frontend", "graph", "--json"]);
    expect(j.code).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out.summaries[0].frontend).toBe("graph");
    expect(out.summaries[0].losses).toHaveLength(2);
  });
  it("train on a user's CSV, and a bad row names its line", () => {
    const csv = join(dir, "data.csv");
    const rows = ["a,b,y"];
    for (let i = 0; i < 40; i++) rows.push(`${i / 40},${(i % 7) / 7},${(2 * i) / 40 + 1}`);
    writeFileSync(csv, `${rows.join("\n")}\n`);
    const ok = run(["train", "--dataset", `csv:${csv}`, "--target", "y", "--layers", "2,1", "--epochs", "2", "--frontend", "eager"]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    writeFileSync(csv, "a,b,y\n1,2,3\n4,oops,6\n");
    const bad = run(["train", "--dataset", `csv:${csv}`, "--target", "y", "--layers", "2,1", "--epochs", "1"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/data\.csv:3/);
  });
  it("--detect-anomaly names the op that first produced NaN/Inf", () => {
    const r = run(["train", "--model", "mlp-small", "--lr", "1e30", "--epochs", "3", "--frontend", "graph", "--detect-anomaly"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/at step \d+ .*graph frontend; detectAnomaly: (\w+ produced (nan|inf) in the forward pass|Function '\w+Backward' returned (nan|inf) values)/);
  });
  it("Ctrl-C during train --save leaves the old file or a complete new one, never a torn one", async () => {
    const weights = join(dir, "interrupted.safetensors");
    writeFileSync(weights, serializeSafetensors(new Map([["old", { dtype: "F32", shape: [1], data: new Float32Array([1]) }]])));
    const child = spawn(process.execPath, [cli, "train", "--model", "mlp", "--dataset", "synthetic", "--samples", "4096", "--epochs", "100", "--frontend", "eager", "--save", weights, "--force"], {
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    await new Promise((r) => setTimeout(r, 2500));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted/);
    const file = readSafetensors(weights); // parses: not torn
    expect([...file.tensors.keys()].sort()).toEqual(["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  }, 60_000);
  it("a loss that becomes NaN stops training with the step, keeping the last good weights", () => {
    const weights = join(dir, "diverge.safetensors");
    const r = run(["train", "--model", "mlp-small", "--lr", "1e30", "--epochs", "3", "--frontend", "eager", "--save", weights]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the loss became (NaN|Infinity) at step \d+/);
    if (existsSync(weights)) {
      const f = readSafetensors(weights);
      expect(Array.from(f.tensors.get("0.weight")!.data as Float32Array).every(Number.isFinite)).toBe(true);
    }
  });
});

