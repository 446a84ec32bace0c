import { setImmediate as turn } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, beforeEach, expect } from "vitest";
import { allocator, holdCollected, releaseCollected } from "@dualgrad/core";

/**
 * Leak checking for tests, on core's allocator (the one instrument both frontends allocate
 * through, docs/ARCHITECTURE.md principle 3). Every tensor buffer — eager tensors, autograd's saved values,
 * a compiled graph's arena and constants, graph Variables — is counted in
 * `allocator.stats().liveBytes`, so a test that returns that figure to where it started has
 * released everything it made, whichever frontend it drove.
 *
 * Usage: call {@link useLeakCheck} once at the top level of a test file (or inside a `describe`
 * to scope it). To make it global for the whole repository, run it from a setup file — hooks
 * registered at the top level of a setup file apply to every test of every file:
 *
 * ```ts
 * // packages/bench-cli/test/conformance/leak-setup.ts
 * import { useLeakCheck } from "./leak-hook.js";
 * useLeakCheck();
 * // vitest.config.ts, in `test`:
 * //   setupFiles: ["./packages/bench-cli/test/conformance/leak-setup.ts"],
 * ```
 *
 * (Files that also call `useLeakCheck()` themselves then check twice, which is harmless.)
 */

/** Core's live tensor bytes now. */
export function liveBytes(): number {
  return allocator.stats().liveBytes;
}

/**
 * Fails with `${name} leaked N bytes` when live bytes differ from `before`. N is signed: a
 * negative figure means the test released memory it did not allocate (e.g. something created by
 * an earlier test, or at module load), which is a leak in the other direction and just as wrong.
 */
export function expectNoLeak(name: string, before: number): void {
  const live = liveBytes();
  expect(live, `${name} leaked ${live - before} bytes (live ${live}, was ${before})`).toBe(before);
}

/**
 * Runs `body` and asserts live bytes are back where they were afterwards; returns its result.
 * For checking one block inside a test (a loop body, one frontend of several) rather than a whole test.
 */
export function withNoLeak<R>(name: string, body: () => R): R {
  const before = liveBytes();
  const result = body();
  expectNoLeak(name, before);
  return result;
}

/** The test's name with its suites (`suite > test`), as vitest prints it. */
function testName(task: { name: string; fullTestName?: string }): string {
  return task.fullTestName ?? task.name;
}

/**
 * Registers `beforeEach` (records live bytes) and `afterEach` (fails the test whose live bytes
 * changed, naming it) in the current scope. Memory made in `beforeAll` or at module level is
 * outside the window and does not count; memory a test allocates and leaves for a later test
 * does, on purpose: each test must clean up after itself so failures point at the culprit.
 *
 * Buffers the garbage-collection backstop reclaims are held while a test runs and freed before
 * the next, so they never move a test's figure.
 *
 * A test that fails on its own may also leak (its cleanup never ran); vitest then reports both
 * errors on that test, the assertion first.
 */
export function useLeakCheck(): void {
  let before = 0;
  // Buffers freed by the garbage-collection backstop (handles dropped undisposed, possibly by an
  // earlier test) would change live bytes whenever V8 happens to collect: hold them during a
  // test and free them before the next one, so the check stays deterministic and a test that
  // leaves tensors undisposed still fails.
  holdCollected(true);
  beforeEach(() => {
    releaseCollected();
    before = liveBytes();
  });
  afterEach((context) => {
    expectNoLeak(testName(context.task), before);
  });
}

/** V8's `gc()`: `--expose-gc` set at run time reaches contexts created afterwards, so a fresh context has it. */
function exposedGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

let gc: (() => void) | null = null;

/**
 * For tests of the garbage-collection backstop: runs a full collection, lets the finalizers run
 * (they need a turn of the event loop) and frees what they queued; repeats until live bytes stop
 * changing, since a handle can outlive one collection in a frame V8 has not left yet. Returns
 * live bytes after.
 */
export async function collectGarbage(): Promise<number> {
  gc ??= exposedGc();
  for (let n = 0, last = -1; n < 5 && liveBytes() !== last; n++) {
    last = liveBytes();
    gc();
    await turn();
    releaseCollected();
  }
  return liveBytes();
}
