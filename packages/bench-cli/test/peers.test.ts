import { describe, expect, it } from "vitest";
import { WORKLOADS } from "../src/models.js";
import { PEERS, PeerUnavailableError, TORCH_PEERS, checkInstalled, measurePeer, parsePeers, peerAvailable } from "../src/peers/index.js";
import { peerTable } from "../src/report/terminal.js";
import type { BenchReport, BenchResult, PeerResult } from "../src/report/types.js";

const tiny = { steps: 5, warmup: 2, minSeconds: 0.001, seed: 0 };

describe("peers", () => {
  for (const name of PEERS.filter((p) => !p.startsWith("torch"))) {
    const installed = peerAvailable(name).available;
    it.skipIf(!installed)(`${name} trains linreg and reports a BenchResult-shaped result`, async () => {
      const r = await measurePeer(name, WORKLOADS.linreg, tiny);
      expect(r.model).toBe("linreg");
      expect(r.frontend).toBe(name);
      expect(r.steps).toBeGreaterThanOrEqual(5);
      expect(r.warmup).toBe(2);
      for (const v of Object.values(r.msPerStep)) expect(v).toBeGreaterThan(0);
      expect(r.msPerStep.median).toBeLessThanOrEqual(r.msPerStep.p90);
      expect(r.stepsPerSec).toBeGreaterThan(0);
      expect(r.memory.peakRssBytes).toBeGreaterThan(0);
      // Training, not just timing: the loss goes down from its first timed value.
      expect(Number.isFinite(r.loss.first)).toBe(true);
      expect(r.loss.last).toBeLessThan(r.loss.first);
      expect(Object.keys(r.peer.packages).length).toBeGreaterThan(0);
      for (const v of Object.values(r.peer.packages)) expect(v).toMatch(/^\d+\.\d+\.\d+/);
      if (name.startsWith("tfjs")) {
        expect(r.memory.kernelLaunchesPerStep).toBeGreaterThan(0);
        // w [1,1] and b [1] plus a few constant scalars: a leak of even the loss scalar per step would add 4 bytes x 7 steps.
        expect(r.memory.liveTensorBytes).toBeGreaterThanOrEqual(2 * 4);
        expect(r.memory.liveTensorBytes).toBeLessThan(2 * 4 + 7 * 4);
      }
      // The result is one JSON line for the worker.
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    });
  }

  it("an unknown or uninstalled peer gives a note, not a crash", async () => {
    const bogus = peerAvailable("bogus-peer");
    expect(bogus).toEqual({ available: false, note: expect.stringMatching(/unknown peer 'bogus-peer' \(known: tfjs-cpu, tfjs-wasm, jax-js, torch-eager-1t/) });
    await expect(measurePeer("bogus-peer", WORKLOADS.linreg, tiny)).rejects.toThrow(PeerUnavailableError);
    const missing = checkInstalled("tfjs-cpu", ["@dualgrad/no-such-package"]);
    expect(missing).toEqual({ available: false, note: expect.stringMatching(/peer tfjs-cpu skipped: @dualgrad\/no-such-package not installed \(pnpm add -D/) });
  });

  it("--peers accepts names, tfjs and all", () => {
    expect(parsePeers("tfjs,jax-js")).toEqual(["tfjs-cpu", "tfjs-wasm", "jax-js"]);
    expect(parsePeers("tfjs-wasm")).toEqual(["tfjs-wasm"]);
    expect(parsePeers("all")).toEqual([...PEERS]);
    expect(parsePeers("torch")).toEqual([...TORCH_PEERS]);
    expect(parsePeers("torch-jit-2t,jax-js")).toEqual(["torch-jit-2t", "jax-js"]);
    expect(() => parsePeers("torch-gpu")).toThrow(/unknown peer 'torch-gpu'/);
  });

  it("the table puts our best frontend beside each peer with the ratio", () => {
    const ours = (frontend: "eager" | "graph", median: number) => ({ model: "mlp", frontend, msPerStep: { median, p90: median, mean: median, min: median } }) as BenchResult;
    const peer = { model: "mlp", frontend: "jax-js", msPerStep: { median: 6, p90: 6, mean: 6, min: 6 } } as PeerResult;
    const text = peerTable({ results: [ours("eager", 4), ours("graph", 3)], peers: [peer], agreement: [] } as unknown as BenchReport);
    expect(text).toMatch(/3\.00 ms \(graph\)/);
    expect(text).toMatch(/6\.00 ms/);
    expect(text).toMatch(/2\.0x/);
  });
});
