import { allocator, type DataBuffer } from "./memory.js";

/**
 * The garbage-collection backstop: a tensor handle that is dropped without `dispose()` still
 * gives its buffer back, once V8 has collected the handle. Deterministic release (`dispose`,
 * `tidy`, `using`) stays the fast path and the one the measurements assume: the collector runs
 * when it likes, and its callbacks only run when the event loop turns (after an `await`, a
 * timer or the end of the script), never in the middle of synchronous code.
 *
 * The registry holds the buffer, never the handle (holding the handle would keep it alive);
 * releasing a buffer deterministically unregisters it first, so each buffer is freed once.
 */

let held = false;
const pending: DataBuffer[] = [];

function releaseIfLive(buf: DataBuffer): void {
  if (!buf.released) allocator.release(buf);
}

const registry = new FinalizationRegistry<DataBuffer>((buf) => {
  if (held) pending.push(buf);
  else releaseIfLive(buf);
});

/** Frees `buf` when `owner` is garbage-collected, unless {@link cancelReleaseOnCollect} runs first. */
export function releaseOnCollect(owner: object, buf: DataBuffer): void {
  registry.register(owner, buf, owner);
}

/** Forgets `owner`'s registration: call it when the owner releases its buffer itself. */
export function cancelReleaseOnCollect(owner: object): void {
  registry.unregister(owner);
}

/**
 * While `hold` is true, buffers whose owners are collected wait in a queue instead of being
 * freed, until {@link releaseCollected}. The shared test leak hook holds them so that the
 * collector running in the middle of a test never changes that test's live bytes.
 */
export function holdCollected(hold: boolean): void {
  held = hold;
  if (!hold) releaseCollected();
}

/** Frees the buffers queued while held; returns how many. */
export function releaseCollected(): number {
  const n = pending.length;
  for (const buf of pending.splice(0)) releaseIfLive(buf);
  return n;
}
