import { DualgradError, allocator, type AllocationSite, type MemoryStats } from "@dualgrad/core";
import { beginScope, endScope, keep } from "./scope.js";
import { Tensor, isTensor } from "./tensor.js";

/**
 * Runs `fn` and disposes every tensor it created except those reachable from what it returns,
 * like `tf.tidy`: through arrays, plain objects, Maps, Sets and class instances' own enumerable
 * fields, to any depth. Functions are not looked into (keep tensors a returned closure captures
 * with {@link keep}); a WeakMap, WeakSet, WeakRef or Promise in the result is an error, since the
 * tensors in it cannot be found. Autograd still holds what it saved, so a forward pass can be
 * tidied before its backward.
 */
export function tidy<R>(fn: () => R): R {
  const scope = beginScope();
  let result: R | undefined;
  try {
    const r = fn();
    if (r instanceof Promise) throw new DualgradError("tidy: fn must be synchronous (it returned a Promise)");
    return (result = r);
  } finally {
    endScope(scope, result, isTensor);
  }
}

export { keep };

/** Disposes every tensor in a list, object or single value. */
export function dispose(x: Tensor | readonly Tensor[] | Record<string, Tensor>): void {
  if (isTensor(x)) x.dispose();
  else for (const t of Array.isArray(x) ? x : Object.values(x)) (t as Tensor).dispose();
}

/** Core's memory counters (the same instrument the graph frontend is measured with). */
export function memory(): MemoryStats {
  return allocator.stats();
}

/**
 * Where the buffers still alive were created (stack traces), for finding tensors that are never
 * disposed. Recorded only while tracking is on: run with `DUALGRAD_TRACK_ALLOCATIONS=1`, or call
 * `memory.trackAllocations(true)` before the code under suspicion.
 */
memory.liveAllocations = (): AllocationSite[] => allocator.liveAllocations();

/** Turns the recording of allocation sites on or off (see {@link memory.liveAllocations}). */
memory.trackAllocations = (on: boolean): void => allocator.trackAllocations(on);

export { Tensor };
