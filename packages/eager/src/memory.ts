import { allocator, type MemoryStats } from "@dualgrad/core";
import { beginScope, endScope, keep } from "./scope.js";
import { Tensor, isTensor } from "./tensor.js";

/**
 * Runs `fn` and disposes every tensor it created except those it returns (found in arrays and
 * plain objects too), like `tf.tidy`. Autograd still holds what it saved, so a forward pass can
 * be tidied before its backward.
 */
export function tidy<R>(fn: () => R): R {
  const scope = beginScope();
  let result: R | undefined;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error("tidy: fn must be synchronous (it returned a Promise)");
    return result;
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

export { Tensor };
