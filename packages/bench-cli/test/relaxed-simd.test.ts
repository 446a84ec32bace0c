import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { NO_RELAXED_SIMD_FLAG, RELAXED_SIMD_FLAG, childEngineArgs, engineArgs, relaxedSimdWanted, type EngineProbe } from "../src/relaxed-simd.js";
import { CLI_PATH, workerArgv } from "../src/runners/worker-process.js";
import type { ProfileReport } from "../src/profile/summary.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const cli = join(root, "packages/bench-cli/dist/cli.js");
const dir = mkdtempSync(join(tmpdir(), "dualgrad-relaxed-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fake Node: relaxed SIMD by default or not, and which flags it accepts. */
function fakeNode(byDefault: boolean, accepts: boolean): EngineProbe {
  return (flag) => (flag === null ? byDefault : accepts ? flag === RELAXED_SIMD_FLAG : undefined);
}

/** Whether this Node, started with `flags`, has relaxed SIMD (a real probe, as the module makes). */
function nodeHasRelaxed(flags: string[]): boolean | undefined {
  const src = `process.exit(WebAssembly.validate(new Uint8Array([0,97,115,109,1,0,0,0,1,8,1,96,3,123,123,123,1,123,3,2,1,0,7,5,1,1,102,0,0,10,13,1,11,0,32,0,32,1,32,2,253,133,2,11])) ? 0 : 3)`;
  const r = spawnSync(process.execPath, [...flags, "-e", src]);
  return r.status === 0 ? true : r.status === 3 ? false : undefined;
}

describe("relaxed SIMD: which flags a child Node gets", () => {
  it("none when the engine already matches; the flag when it is needed and accepted; none when rejected", () => {
    expect(engineArgs(true, fakeNode(false, true))).toEqual([RELAXED_SIMD_FLAG]); // Node 20
    expect(engineArgs(true, fakeNode(true, true))).toEqual([]); // on by default
    expect(engineArgs(true, fakeNode(false, false))).toEqual([]); // flag unknown: start it plain
    expect(engineArgs(false, fakeNode(false, true))).toEqual([]);
    expect(engineArgs(false, fakeNode(true, true))).toEqual([NO_RELAXED_SIMD_FLAG]);
    expect(engineArgs(false, fakeNode(true, false))).toEqual([]);
  });
  it("DUALGRAD_RELAXED_SIMD: unset or 1 wants it, 0 or --no-relaxed-simd does not, anything else is a usage error naming it", () => {
    expect(relaxedSimdWanted({})).toBe(true);
    expect(relaxedSimdWanted({ DUALGRAD_RELAXED_SIMD: "1" })).toBe(true);
    expect(relaxedSimdWanted({ DUALGRAD_RELAXED_SIMD: "" })).toBe(true);
    expect(relaxedSimdWanted({ DUALGRAD_RELAXED_SIMD: "0" })).toBe(false);
    expect(relaxedSimdWanted({}, true)).toBe(false);
    expect(() => relaxedSimdWanted({ DUALGRAD_RELAXED_SIMD: "yes" })).toThrow(/^DUALGRAD_RELAXED_SIMD must be 0 or 1, got 'yes'$/);
  });
  it("a measurement worker's command line is the engine flags this Node needs, then the CLI", () => {
    const argv = workerArgv(["bench-worker", "--x"]);
    expect(argv.slice(-3)).toEqual([CLI_PATH, "bench-worker", "--x"]);
    const flags = argv.slice(0, -3);
    expect(flags).toEqual(childEngineArgs());
    // Whatever this Node is, the worker ends up with relaxed SIMD if this Node can have it at all.
    const can = nodeHasRelaxed([]) || nodeHasRelaxed([RELAXED_SIMD_FLAG]);
    expect(nodeHasRelaxed(flags)).toBe(can);
  });
});

describe("relaxed SIMD in the CLI's own process", () => {
  /** `dualgrad profile --json` on linreg in a child process; the report it wrote. */
  function profile(name: string, extra: string[], env: NodeJS.ProcessEnv = {}): ProfileReport {
    const out = join(dir, name);
    execFileSync(process.execPath, [cli, "profile", "--model", "linreg", "--steps", "1", "--warmup", "0", "--json", out, ...extra], { env: { ...process.env, ...env }, stdio: "pipe" });
    return JSON.parse(readFileSync(out, "utf8")) as ProfileReport;
  }
  const can = nodeHasRelaxed([]) || nodeHasRelaxed([RELAXED_SIMD_FLAG]);
  const canOff = nodeHasRelaxed([]) === false || nodeHasRelaxed([NO_RELAXED_SIMD_FLAG]) === false;
  it("turns it on without any flag from the user, and says so", () => {
    expect(profile("on.json", []).matmulPath).toMatch(can ? /^wasm SIMD, relaxed_madd \(FMA\) \d+x\d+$/ : /^wasm SIMD, mul\+add \d+x\d+$/);
  });
  it("--no-relaxed-simd and DUALGRAD_RELAXED_SIMD=0 turn it off", () => {
    if (!canOff) return;
    expect(profile("off.json", ["--no-relaxed-simd"]).matmulPath).toMatch(/^wasm SIMD, mul\+add \d+x\d+$/);
    expect(profile("off-env.json", [], { DUALGRAD_RELAXED_SIMD: "0" }).matmulPath).toMatch(/^wasm SIMD, mul\+add \d+x\d+$/);
  });
  it("a bad DUALGRAD_RELAXED_SIMD is one line and exit 2", () => {
    const r = spawnSync(process.execPath, [cli, "profile", "--model", "linreg"], { env: { ...process.env, DUALGRAD_RELAXED_SIMD: "on" }, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("dualgrad: DUALGRAD_RELAXED_SIMD must be 0 or 1, got 'on'\n");
  });
});
