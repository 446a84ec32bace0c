import { DualgradError } from "../errors.js";
import type { Emitter } from "../ops/prim.js";
import { formatShape } from "../shape.js";

/** Transpose flags of {@link matmul}: op(A) @ op(B) without materialising a transpose. */
export interface MatmulFlags {
  transA?: boolean;
  transB?: boolean;
}

/**
 * Matrix product with PyTorch's `torch.matmul` rules: batched and broadcasting for rank >= 2;
 * a 1-D operand is promoted to a matrix (a row on the left, a column on the right) and the
 * added dimension removed from the result.
 */
export function matmul<T>(e: Emitter<T>, a: T, b: T, flags: MatmulFlags = {}): T {
  const attrs = { transA: flags.transA ?? false, transB: flags.transB ?? false };
  const sa = e.meta(a).shape;
  const sb = e.meta(b).shape;
  if (sa.length >= 2 && sb.length >= 2) return e.emit("matmul", [a, b], attrs);
  if (sa.length === 0 || sb.length === 0) {
    throw new DualgradError(`matmul: both arguments need at least 1 dimension, got ${formatShape(sa)} and ${formatShape(sb)}`);
  }
  const a2 = sa.length === 1 ? e.emit("reshape", [a], { shape: [1, sa[0]] }) : a;
  const b2 = sb.length === 1 ? e.emit("reshape", [b], { shape: [sb[0], 1] }) : b;
  const c = e.emit("matmul", [a2, b2], attrs);
  const shape = e.meta(c).shape.slice();
  if (sb.length === 1) shape.splice(shape.length - 1, 1);
  if (sa.length === 1) shape.splice(shape.length - (sb.length === 1 ? 1 : 2), 1);
  return e.emit("reshape", [c], { shape });
}
