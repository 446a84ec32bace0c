import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { ProfileRecorder, allocator, profiler, setProfiler, type ProfileSpan } from "@dualgrad/core";
import { main } from "../src/cli.js";
import { machineInfo } from "../src/machine.js";
import { toHtml } from "../src/report/html.js";
import { readReport } from "../src/report/read.js";
import { syntheticBatch } from "../src/datasets/synthetic.js";
import { workload } from "../src/models.js";
import { profileFrontend } from "../src/profile/run.js";
import { nestSpans } from "../src/profile/spans.js";
import type { ProfileReport } from "../src/profile/summary.js";
import { toChromeTrace } from "../src/profile/trace.js";
import { eagerTrainer } from "../src/runners/eager-trainer.js";
import { graphTrainer } from "../src/runners/graph-trainer.js";
import { FRONTENDS, type Frontend } from "../src/runners/trainer.js";

const spec = workload("mlp-small");
const dir = mkdtempSync(join(tmpdir(), "dualgrad-profile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Checks `json` against the Chrome trace-event format Perfetto and chrome://tracing read:
 * required fields and their types, and per track (pid, tid) start times in order, durations
 * nonnegative, and complete events that either nest or are disjoint. Returns the problems found.
 */
function traceProblems(json: unknown): string[] {
  const problems: string[] = [];
  const events = (json as { traceEvents?: unknown }).traceEvents;
  if (!Array.isArray(events)) return ["traceEvents is not an array"];
  const open = new Map<string, number[]>(); // per track: end times (ns) of the enclosing events
  const last = new Map<string, number>();
  events.forEach((e: Record<string, unknown>, i) => {
    for (const f of ["name", "cat", "ph"]) if (typeof e[f] !== "string") problems.push(`event ${i}: ${f} is not a string`);
    for (const f of ["ts", "dur", "pid", "tid"]) if (typeof e[f] !== "number" || !Number.isFinite(e[f])) problems.push(`event ${i}: ${f} is not a finite number`);
    if (typeof e.args !== "object" || e.args === null) problems.push(`event ${i}: args is not an object`);
    if (e.ph !== "X") problems.push(`event ${i}: ph is ${String(e.ph)}, not X`);
    const ts = Math.round((e.ts as number) * 1000);
    const end = ts + Math.round((e.dur as number) * 1000);
    if (end < ts) problems.push(`event ${i}: negative duration`);
    const track = `${String(e.pid)}:${String(e.tid)}`;
    if (ts < (last.get(track) ?? -Infinity)) problems.push(`event ${i}: ts goes backwards on track ${track}`);
    last.set(track, ts);
    const stack = open.get(track) ?? [];
    while (stack.length > 0 && stack[stack.length - 1] <= ts) stack.pop();
    if (stack.length > 0 && end > stack[stack.length - 1]) problems.push(`event ${i}: overlaps its enclosing event without nesting`);
    stack.push(end);
    open.set(track, stack);
  });
  return problems;
}

const span = (name: string, cat: ProfileSpan["cat"], start: number, end: number): ProfileSpan => ({ name, cat, start, end });

describe("span nesting and the trace format", () => {
  it("self time is a span minus its direct children, whatever order they were recorded in", () => {
    const nested = nestSpans([span("k", "kernel", 2, 3), span("e", "dispatch", 1, 4), span("k2", "kernel", 5, 6), span("s", "step", 0, 10)]);
    expect(nested.map((s) => [s.name, s.parent, s.selfMs])).toEqual([["s", -1, 6], ["e", 0, 2], ["k", 1, 1], ["k2", 0, 1]]);
  });
  it("the validator catches what it is meant to (so the trace test can fail)", () => {
    const ok = toChromeTrace([{ name: "t", spans: [span("a", "step", 0, 2), span("b", "kernel", 0.5, 1)] }]);
    expect(traceProblems(ok)).toEqual([]);
    expect(traceProblems(toChromeTrace([{ name: "t", spans: [span("a", "step", 0, 2), span("b", "kernel", 1, 3)] }]))[0]).toMatch(/without nesting/);
    const bad = { traceEvents: [{ ...ok.traceEvents[0], dur: -1 }, { ...ok.traceEvents[1], ts: "0" }] };
    expect(traceProblems(bad).join("\n")).toMatch(/negative duration[\s\S]*ts is not a finite number/);
  });
});

describe.each(FRONTENDS)("profile of %s steps", (frontend: Frontend) => {
  const run = profileFrontend(spec, frontend, 2, 3);
  const p = run.profile;
  it("counts one kernel span per launch the allocator counted, every step", () => {
    expect(p.launchesPerStep).toHaveLength(3);
    expect(p.launchesPerStep.every((n) => n > 0)).toBe(true);
    expect(p.kernelSpansPerStep).toEqual(p.launchesPerStep);
    const calls = p.ops.reduce((a, r) => a + r.calls, 0);
    expect(calls).toBeCloseTo(p.launchesPerStep[0], 9);
  });
  it("kernel time is within the step, and the shares add up to the step", () => {
    const s = p.split;
    expect(s.kernelMs).toBeGreaterThan(0);
    expect(s.kernelMs).toBeLessThanOrEqual(s.stepMs);
    expect(p.ops.reduce((a, r) => a + r.kernelMs, 0)).toBeCloseTo(s.kernelMs, 9);
    for (const v of [s.dispatchMs, s.tapeMs, s.backwardMs, s.otherMs]) expect(v).toBeGreaterThanOrEqual(-1e-9);
    expect(s.kernelMs + s.dispatchMs + s.tapeMs + s.backwardMs + s.otherMs).toBeCloseTo(s.stepMs, 9);
  });
  it("splits out the frontend's own overhead", () => {
    if (frontend === "eager") {
      expect(p.split.dispatchMs).toBeGreaterThan(0);
      expect(p.split.tapeMs).toBeGreaterThan(0);
      expect(p.split.backwardMs).toBeGreaterThan(0);
      expect(p.ops.some((r) => r.bytes > 0)).toBe(true);
    } else {
      // A compiled step has no per-op dispatch, tape or backward walk, and writes into its arena.
      expect([p.split.dispatchMs, p.split.tapeMs, p.split.backwardMs]).toEqual([0, 0, 0]);
      expect(p.ops.every((r) => r.bytes === 0)).toBe(true);
      expect(p.ops.some((r) => /^fused\(\w+(→\w+)+\)$/.test(r.op))).toBe(true);
    }
  });
  it("writes a valid trace and leaves profiling off", () => {
    expect(traceProblems(toChromeTrace([{ name: frontend, spans: run.spans }]))).toEqual([]);
    expect(profiler).toBeNull();
  });
});

describe("profiling off changes nothing a step counts", () => {
  /** Allocations and launches of each of `n` steps, with `recorder` installed (or none). */
  function counts(frontend: Frontend, recorder: ProfileRecorder | null, n = 3): { allocations: number; launches: number }[] {
    const trainer = frontend === "eager" ? eagerTrainer(spec, { seed: 0 }) : graphTrainer(spec, { seed: 0 });
    const batch = syntheticBatch(spec, spec.batch, 0);
    try {
      for (let i = 0; i < 2; i++) trainer.step(batch);
      setProfiler(recorder);
      return Array.from({ length: n }, () => {
        const before = allocator.stats();
        trainer.step(batch);
        const after = allocator.stats();
        return { allocations: after.allocations - before.allocations, launches: after.kernelLaunches - before.kernelLaunches };
      });
    } finally {
      setProfiler(null);
      trainer.dispose();
    }
  }
  it.each(FRONTENDS)("%s: the same allocations and launches per step with the profiler on and off", (frontend: Frontend) => {
    const off = counts(frontend, null);
    const on = counts(frontend, new ProfileRecorder());
    expect(on).toEqual(off);
    if (frontend === "graph") expect(off.every((c) => c.allocations === 0)).toBe(true);
  });
});

/** Runs the CLI in this process, capturing what it prints. */
function runCli(args: string[]) {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((s) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation((s) => ((stderr += String(s)), true));
  return main(args).then((code) => {
    out.mockRestore();
    err.mockRestore();
    return { code, stdout, stderr };
  });
}

describe("dualgrad profile (in process)", () => {
  it("prints the tables and writes the trace and JSON", async () => {
    const trace = join(dir, "trace.json");
    const json = join(dir, "profile.json");
    const r = await runCli(["profile", "--model", "linreg", "--steps", "2", "--warmup", "1", "--trace", trace, "--json", json]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/dispatch\+alloc[\s\S]*eager kernels[\s\S]*graph kernels/);
    expect(traceProblems(JSON.parse(readFileSync(trace, "utf8")))).toEqual([]);
    const report = JSON.parse(readFileSync(json, "utf8")) as ProfileReport;
    expect(report.frontends.map((f) => f.frontend)).toEqual(["eager", "graph"]);
    expect(report.frontends[1].launchesPerStep).toEqual(report.frontends[1].kernelSpansPerStep);
  });
  it("refuses an existing output without --force before running, and a bad frontend, with one line", async () => {
    const existing = join(dir, "existing.json");
    writeFileSync(existing, "{}");
    let r = await runCli(["profile", "--model", "linreg", "--trace", existing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^dualgrad: --trace '.*existing\.json' already exists; pass --force to overwrite it\n$/);
    expect(readFileSync(existing, "utf8")).toBe("{}");
    r = await runCli(["profile", "--frontend", "jit"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--frontend.*jit.*eager, graph, both/);
  });
});

describe("the HTML report's per-op breakdown", () => {
  const reportPath = join(dir, "bench.json");
  const bare = { machine: machineInfo("dualgrad bench"), results: [], agreement: [] };
  it("appears once a profile is added to a bench report, eager vs graph, and is replaced, not repeated, on a second add", async () => {
    writeFileSync(reportPath, JSON.stringify(bare));
    expect(toHtml(readReport(reportPath))).not.toMatch(/Where the time goes/);
    for (let i = 0; i < 2; i++) {
      const r = await runCli(["profile", "--model", "mlp-small", "--steps", "2", "--warmup", "1", "--add-to", reportPath]);
      expect(r.code).toBe(0);
    }
    const report = readReport(reportPath);
    expect(report.profile?.map((p) => p.model)).toEqual(["mlp-small"]);
    const html = toHtml(report);
    expect(html).toMatch(/Where the time goes[\s\S]*<th>share<\/th><th class="num">eager<\/th><th class="num">graph<\/th>/);
    expect(html).toMatch(/mlp-small · graph: kernels per step[\s\S]*fused\(/);
  });
  it("a malformed profile is refused when the report is read, naming the field", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...bare, profile: [{ model: "m", frontends: [{ frontend: "eager", split: { stepMs: 1 }, ops: [] }] }] }));
    expect(() => readReport(bad)).toThrow(/profile\[0\]\.frontends\[0\]\.split\.kernelMs is missing or not a number/);
  });
});
