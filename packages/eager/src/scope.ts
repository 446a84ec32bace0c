import { DualgradError } from "@dualgrad/core";
import type { Tensor } from "./tensor.js";

/**
 * Deterministic memory: a stack of scopes records the tensors created inside them. When a
 * scope ends, everything it created is disposed except what it returns (which moves to the
 * enclosing scope) and what was kept. Outside any scope tensors live until `dispose()`, or
 * until the garbage-collection backstop reclaims a dropped handle (see ./storage.ts).
 */

const scopes: Set<Tensor>[] = [];

/** Records a new tensor in the innermost scope (called by the Tensor constructor); false when no scope is open. */
export function track(t: Tensor): boolean {
  if (scopes.length === 0) return false;
  scopes[scopes.length - 1].add(t);
  return true;
}

/** Removes `t` from scope tracking: it survives every enclosing `tidy` (parameters, grads, optimizer state). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  t._storage.guard(); // no scope will free it now
  return t;
}

/** Containers whose contents cannot be enumerated: a tensor inside one could not be kept. */
const OPAQUE: [new (...args: never[]) => object, string][] = [
  [WeakMap, "a WeakMap"], [WeakSet, "a WeakSet"], [WeakRef, "a WeakRef"], [Promise, "a Promise"],
];

/**
 * Every tensor reachable from a scope's result: through arrays, Maps (keys and values), Sets,
 * plain objects and class instances' own enumerable fields, to any depth. A work stack and a
 * visited set, not recursion, so deep or cyclic results are fine. Functions are not looked into
 * (a closure's captured tensors cannot be seen); containers that cannot be enumerated throw
 * rather than have their tensors disposed behind the caller's back.
 */
function collect(result: unknown, out: Set<Tensor>, isTensor: (x: unknown) => x is Tensor): void {
  // The common results (nothing, a number, one tensor) need no walk: backward ends a scope per node.
  if (result === null || typeof result !== "object") return;
  if (isTensor(result)) {
    out.add(result);
    return;
  }
  // A flat list of tensors and nulls (what every VJP rule returns) needs no visited set.
  if (Array.isArray(result) && result.every((x) => x === null || isTensor(x))) {
    for (const t of result) if (t !== null) out.add(t);
    return;
  }
  const seen = new Set<object>();
  const pending: unknown[] = [result];
  while (pending.length > 0) {
    const x = pending.pop();
    if (x === null || typeof x !== "object" || seen.has(x)) continue;
    seen.add(x);
    if (isTensor(x)) out.add(x);
    else if (Array.isArray(x)) for (let i = 0; i < x.length; i++) pending.push(x[i]);
    else if (x instanceof Map) for (const [k, v] of x) pending.push(k, v);
    else if (x instanceof Set) for (const v of x) pending.push(v);
    else if (ArrayBuffer.isView(x) || x instanceof ArrayBuffer) continue; // numbers only; skip their index keys
    else {
      const opaque = OPAQUE.find(([type]) => x instanceof type);
      if (opaque) {
        throw new DualgradError(`tidy: the result holds ${opaque[1]}, whose contents cannot be enumerated, so tensors in it would be disposed; return them in an array, object, Map or Set`);
      }
      for (const v of Object.values(x)) pending.push(v);
    }
  }
}

/** Opens a scope; returns its handle for {@link endScope}. */
export function beginScope(): Set<Tensor> {
  const s = new Set<Tensor>();
  scopes.push(s);
  return s;
}

/**
 * Closes `scope`, disposing its tensors except `result`'s, which move to the enclosing scope.
 * If the result cannot be walked, nothing of the scope is kept (the caller gets the error, not
 * the result) and the error is thrown after the scope is cleaned up.
 */
export function endScope(scope: Set<Tensor>, result: unknown, isTensor: (x: unknown) => x is Tensor): void {
  const top = scopes.pop();
  if (top !== scope) throw new Error("tidy: scopes closed out of order");
  const kept = new Set<Tensor>();
  let failure: unknown = null;
  try {
    collect(result, kept, isTensor);
  } catch (err) {
    failure = err;
    kept.clear();
  }
  for (const t of scope) {
    // What leaves the outermost scope, and storages a disposed handle leaves to an autograd
    // node, are no longer anyone's to free deterministically: the GC backstop takes them.
    if (kept.has(t)) {
      if (!track(t)) t._storage.guard();
    } else {
      t.dispose();
      t._storage.guard();
    }
  }
  if (failure !== null) throw failure;
}
