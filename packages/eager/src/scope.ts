import type { Tensor } from "./tensor.js";

/**
 * Deterministic memory: a stack of scopes records the tensors created inside them. When a
 * scope ends, everything it created is disposed except what it returns (which moves to the
 * enclosing scope) and what was kept. Outside any scope tensors live until `dispose()`.
 */

const scopes: Set<Tensor>[] = [];

/** Records a new tensor in the innermost scope (called by the Tensor constructor). */
export function track(t: Tensor): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(t);
}

/** Removes `t` from scope tracking: it survives every enclosing `tidy` (parameters, grads, optimizer state). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** Every tensor inside a (possibly nested) array or plain-object result. */
function collect(result: unknown, out: Set<Tensor>, isTensor: (x: unknown) => x is Tensor, depth = 0): void {
  if (depth > 8 || result === null || typeof result !== "object") return;
  if (isTensor(result)) out.add(result);
  else if (Array.isArray(result)) for (const r of result) collect(r, out, isTensor, depth + 1);
  else if (Object.getPrototypeOf(result) === Object.prototype) {
    for (const r of Object.values(result as object)) collect(r, out, isTensor, depth + 1);
  }
}

/** Opens a scope; returns its handle for {@link endScope}. */
export function beginScope(): Set<Tensor> {
  const s = new Set<Tensor>();
  scopes.push(s);
  return s;
}

/** Closes `scope`, disposing its tensors except `result`'s, which move to the enclosing scope. */
export function endScope(scope: Set<Tensor>, result: unknown, isTensor: (x: unknown) => x is Tensor): void {
  const top = scopes.pop();
  if (top !== scope) throw new Error("tidy: scopes closed out of order");
  const kept = new Set<Tensor>();
  collect(result, kept, isTensor);
  for (const t of scope) {
    if (kept.has(t)) track(t);
    else t.dispose();
  }
}
