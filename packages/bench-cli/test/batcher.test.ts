import { describe, expect, it } from "vitest";
import { DynamicBatcher, QueueFullError, type BatcherOptions } from "../src/serve/batcher.js";

/** A batcher over a "model" whose one output is twice the sum of its two inputs; `calls` records the rows of each call. */
function doubler(options: Partial<BatcherOptions>) {
  const calls: number[] = [];
  const run = (x: Float32Array, rows: number) => {
    calls.push(rows);
    return Float32Array.from({ length: rows }, (_, i) => 2 * (x[2 * i] + x[2 * i + 1]));
  };
  const b = new DynamicBatcher(run, 2, 1, { maxBatch: 8, maxWaitMs: 20, maxQueue: 100, batching: true, ...options }, () => {});
  return { b, calls };
}

const req = (i: number) => Float32Array.of(i, 1);

describe("DynamicBatcher", () => {
  it("groups requests that arrive within the wait into one call and hands each its own rows", async () => {
    const { b, calls } = doubler({});
    const out = await Promise.all([b.submit(req(1), 1), b.submit(Float32Array.of(2, 1, 3, 1), 2), b.submit(req(4), 1)]);
    expect(calls).toEqual([4]);
    expect(out.map((y) => Array.from(y))).toEqual([[4], [6, 8], [10]]);
  });

  it("with no wait, runs what was submitted in the same turn as one batch, and a lone request at once", async () => {
    const { b, calls } = doubler({ maxWaitMs: 0 });
    const out = await Promise.all([1, 2, 3].map((i) => b.submit(req(i), 1)));
    expect(calls).toEqual([3]);
    expect(out.map((y) => y[0])).toEqual([4, 6, 8]);
    const t0 = performance.now();
    await b.submit(req(5), 1);
    expect(calls).toEqual([3, 1]);
    // No timer: one turn of the event loop (a generous bound, far under any wait a timer would add on a loaded machine).
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("runs a full batch without waiting, and the rest next", async () => {
    const { b, calls } = doubler({ maxBatch: 2, maxWaitMs: 10_000 });
    const t0 = Date.now();
    await Promise.all([1, 2, 3, 4].map((i) => b.submit(req(i), 1)));
    expect(calls).toEqual([2, 2]);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("without batching runs every request alone", async () => {
    const { b, calls } = doubler({ batching: false });
    await Promise.all([1, 2, 3].map((i) => b.submit(req(i), 1)));
    expect(calls).toEqual([1, 1, 1]);
  });

  it("refuses past the queue bound and rows outside 1..maxBatch; drain runs the queue at once", async () => {
    const { b, calls } = doubler({ maxQueue: 2, maxWaitMs: 10_000 });
    const waiting = [b.submit(req(1), 1), b.submit(req(2), 1)];
    expect(() => b.submit(req(3), 1)).toThrow(QueueFullError);
    expect(() => b.submit(new Float32Array(18), 9)).toThrow(/1 to 8 rows, got 9/);
    await b.drain();
    expect(calls).toEqual([2]);
    expect((await Promise.all(waiting)).map((y) => y[0])).toEqual([4, 6]);
  });

  it("a model error rejects every request of its batch, and the batcher keeps serving", async () => {
    let fail = true;
    const b = new DynamicBatcher(
      (_x, rows) => {
        if (fail) throw new Error("boom");
        return new Float32Array(rows);
      },
      2, 1, { maxBatch: 8, maxWaitMs: 5, maxQueue: 10, batching: true },
    );
    const results = await Promise.allSettled([b.submit(req(1), 1), b.submit(req(2), 1)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    expect(Array.from(await b.submit(req(3), 1))).toEqual([0]);
  });
});
