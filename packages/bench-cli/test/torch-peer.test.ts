import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { WORKLOADS } from "../src/models.js";
import { measurePeer, peerAvailable } from "../src/peers/index.js";
import { torchAvailable } from "../src/peers/torch-env.js";
import { measure } from "../src/runners/measure.js";

/** The built CLI (bench spawns its workers from dist). */
const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

/**
 * The PyTorch peer: the system Python with torch, when there is one (this test is then skipped
 * with the reason in its name), trains linreg from our exact batch and initial parameters; and
 * without Python or torch, `bench --peers torch` prints one note and succeeds.
 */

// maxSteps: exactly 5 timed steps on both sides, so the last losses are of the same step.
const tiny = { steps: 5, warmup: 2, minSeconds: 0.001, maxSteps: 5, seed: 3 };
const status = torchAvailable();
const skipNote = status.available ? "" : ` (SKIPPED: ${status.note})`;

describe("torch peer", () => {
  const saved = process.env.DUALGRAD_PYTHON;
  afterEach(() => {
    if (saved === undefined) delete process.env.DUALGRAD_PYTHON;
    else process.env.DUALGRAD_PYTHON = saved;
  });

  it.skipIf(!status.available)(`trains linreg eager (1 thread) and TorchScript (2 threads) from our batch and parameters${skipNote}`, async () => {
    const ours = measure(WORKLOADS.linreg, "eager", tiny);
    for (const peer of ["torch-eager-1t", "torch-jit-2t"] as const) {
      const r = await measurePeer(peer, WORKLOADS.linreg, tiny);
      expect(r.frontend).toBe(peer);
      expect(r.steps).toBe(5);
      expect(r.msPerStep.median).toBeGreaterThan(0);
      expect(r.msPerStep.median).toBeLessThanOrEqual(r.msPerStep.p90);
      expect(r.memory.peakRssBytes).toBeGreaterThan(1 << 20);
      expect(r.peer.packages.torch).toMatch(/^\d+\.\d+/);
      expect(r.peer.detail).toMatch(peer.includes("jit") ? /torch\.jit\.trace/ : /^nn\.Sequential/);
      expect(r.peer.detail).toContain(`${peer.endsWith("2t") ? 2 : 1} thread(s)`);
      expect(r.peer.detail).toMatch(/BLAS/);
      // Same data, same initial parameters, same warm-up: the same losses as our eager frontend.
      expect(r.loss.first).toBeCloseTo(ours.loss.first, 4);
      expect(r.loss.last).toBeCloseTo(ours.loss.last, 4);
      expect(r.lossCurve?.length).toBe(r.lossSteps?.length);
    }
  }, 120_000);

  it("without a Python with torch: a one-line note from peerAvailable and from bench, exit 0", () => {
    process.env.DUALGRAD_PYTHON = "/nonexistent/python3";
    expect(peerAvailable("torch-eager-1t")).toEqual({ available: false, note: "peer torch skipped: no Python at /nonexistent/python3 (set DUALGRAD_PYTHON to a Python with PyTorch)" });
    const run = spawnSync(process.execPath, [CLI, "bench", "--models", "linreg", "--frontends", "eager", "--peers", "torch", "--steps", "3", "--warmup", "1", "--min-time", "0.001", "--quiet"], {
      encoding: "utf8",
      env: { ...process.env, DUALGRAD_PYTHON: "/nonexistent/python3" },
    });
    expect(run.status).toBe(0);
    const notes = run.stderr.split("\n").filter((l) => l.includes("torch"));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/peer torch skipped: no Python at \/nonexistent\/python3/);
  }, 60_000);
});
