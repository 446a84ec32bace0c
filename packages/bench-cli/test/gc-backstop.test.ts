import { setImmediate as turn } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { holdCollected, resetLeakWatch } from "@dualgrad/core";
import { collectGarbage } from "./conformance/leak-hook.js";
import { manualSeed, memory, nn, optim, randn, tidy, type Tensor } from "@dualgrad/eager";
import * as graph from "@dualgrad/graph";

/**
 * The garbage-collection backstop (core's backstop.ts): the PyTorch training loop written as
 * it is in Python, with nothing disposed and no tidy, must run with bounded memory, and the
 * leak warning must point at it. The collector is driven explicitly (the leak hook's
 * `collectGarbage`) so the bound is deterministic; finalizers run when the event loop turns,
 * hence the `await`.
 */

/** Steps between collections (a full collection of the test worker's heap costs tens of milliseconds). */
const SAMPLE = 1000;

interface Run { bytesAtFirst: number; maxAfter: number; finalBytes: number; warnings: string[] }

/** `steps` steps of the literal loop on a small MLP; samples live bytes every 1,000 steps (after a collection). */
async function literalLoop(steps: number, useTidy: boolean): Promise<Run> {
  manualSeed(0);
  const model = new nn.Sequential(new nn.Linear(8, 32), new nn.ReLU(), new nn.Linear(32, 1));
  const lossFn = new nn.MSELoss();
  const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = randn([16, 8]);
  const y = randn([16, 1]);
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }) => { if (w.code === "DUALGRAD_LEAK") warnings.push(w.message); };
  process.on("warning", onWarning);
  resetLeakWatch(50); // the default (1,000) is longer than this test's collection interval
  const step = (): void => {
    opt.zeroGrad();
    const loss: Tensor = lossFn.forward(model.forward(x), y);
    loss.backward();
    opt.step();
  };
  let bytesAtFirst = 0;
  let maxAfter = 0;
  try {
    for (let i = 1; i <= steps; i++) {
      if (useTidy) tidy(step);
      else step();
      if (i % SAMPLE === 0) {
        await collectGarbage();
        const live = memory().liveBytes;
        if (i === SAMPLE) bytesAtFirst = live;
        else maxAfter = Math.max(maxAfter, live);
      }
    }
    await turn(); // process.emitWarning delivers on the next tick
  } finally {
    process.off("warning", onWarning);
    resetLeakWatch();
    opt.zeroGrad();
    for (const t of [...model.parameters(), x, y]) t.dispose();
    for (const st of opt.stateDict().state ? Object.values(opt.stateDict().state) : []) for (const b of Object.values(st.buffers)) b.dispose();
  }
  await collectGarbage();
  return { bytesAtFirst, maxAfter, finalBytes: memory().liveBytes, warnings };
}

describe("garbage-collection backstop", () => {
  // The shared leak hook holds collected buffers during a test (so it stays deterministic);
  // these tests are about the collector itself, so they let it free as it goes.
  beforeAll(() => holdCollected(false));
  afterAll(() => holdCollected(true));

  it("the literal PyTorch loop, nothing disposed, runs 10,000 steps with live bytes bounded", async () => {
    const before = memory().liveBytes;
    const run = await literalLoop(10_000, false);
    // Per step this loop leaves ~10 tensors undisposed (activations, the loss, the graph's
    // saved values): without the backstop that is megabytes by the end; with it, live bytes
    // after each collection stay those of the first.
    expect(run.bytesAtFirst).toBeGreaterThan(0);
    expect(run.maxAfter).toBeLessThanOrEqual(run.bytesAtFirst * 1.5);
    expect(run.finalBytes).toBe(before);
    // Between collections live buffers grow every step: the warning says so, once.
    expect(run.warnings).toHaveLength(1);
    expect(run.warnings[0]).toMatch(/live tensor buffers grew at each of the last 50 calls of SGD\.step/);
    expect(run.warnings[0]).toMatch(/DUALGRAD_TRACK_ALLOCATIONS=1/);
  }, 120_000);

  it("the same loop in tidy frees every step deterministically and does not warn", async () => {
    const before = memory().liveBytes;
    const run = await literalLoop(3 * SAMPLE, true);
    expect(run.maxAfter).toBe(run.bytesAtFirst);
    expect(run.warnings).toEqual([]);
    expect(run.finalBytes).toBe(before);
  });

  it("graph: a DeviceTensor, a Variable and a compiled function dropped undisposed are freed once collected", async () => {
    const before = memory().liveBytes;
    (() => {
      graph.put(graph.tensor([[1, 2, 3]]));
      const w = new graph.Variable([2], "float32", { init: [1, 2] });
      const f = graph.fn((x: graph.SymbolicTensor) => x.mul(2).add(graph.read(w)));
      f(graph.tensor([3, 4]));
    })();
    expect(memory().liveBytes).toBeGreaterThan(before);
    expect(await collectGarbage()).toBe(before);
  });

  it("a forward pass tidied, then dropped before backward, frees what autograd saved once collected", async () => {
    const before = memory().liveBytes;
    (() => {
      const w = randn([8, 8], { requiresGrad: true });
      // The scope disposes the intermediate handles, but their nodes still hold the storages.
      tidy(() => w.matmul(w).tanh().sum());
    })();
    expect(memory().liveBytes).toBeGreaterThan(before + 3 * 8 * 8 * 4);
    expect(await collectGarbage()).toBe(before);
  });

  it("a dropped tensor's buffer is freed once collected; one disposed first is not freed twice", async () => {
    const before = memory().liveBytes;
    (() => { randn([64, 64]); })();
    const disposed = randn([64, 64]);
    disposed.dispose();
    expect(memory().liveBytes).toBe(before + 64 * 64 * 4);
    await collectGarbage();
    expect(memory().liveBytes).toBe(before); // and releasing twice would have thrown in the finalizer
  });
});

describe("allocation sites", () => {
  it("memory.liveAllocations() names where the still-live buffers were created", () => {
    memory.trackAllocations(true);
    try {
      const t = randn([3, 5]);
      const sites = memory.liveAllocations();
      const mine = sites.filter((s) => s.stack.includes("gc-backstop.test.ts"));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ dtype: "float32", size: 15 });
      t.dispose();
      expect(memory.liveAllocations().filter((s) => s.stack.includes("gc-backstop.test.ts"))).toEqual([]);
    } finally {
      memory.trackAllocations(false);
    }
    expect(memory.liveAllocations()).toEqual([]);
  });
});
