import { resultType } from "../dtype.js";
import { DualgradError, ShapeError } from "../errors.js";
import type { Emitter } from "../ops/prim.js";
import { formatShape, normalizeAxis, type Shape } from "../shape.js";
import { cast } from "./arith.js";

/**
 * Joining and splitting: concat with PyTorch's dtype promotion (`torch.cat`, `tf.concat`),
 * stack (a reshape of each input to a new size-1 axis, then concat) and split (slices, with the
 * piece sizes of PyTorch's split/chunk or TensorFlow's split). Gradients come from concat's
 * and slice's VJP rules.
 */

/** `xs` cast to their common dtype (core's resultType), after checking there is at least one. */
export function promoteAll<T>(e: Emitter<T>, op: string, xs: readonly T[]): T[] {
  if (!Array.isArray(xs) || xs.length === 0) throw new DualgradError(`${op}: expected a non-empty array of tensors`);
  const dtype = resultType(xs.map((x) => e.meta(x).dtype));
  return xs.map((x) => cast(e, x, dtype));
}

/** `torch.cat(xs, axis)` / `tf.concat(xs, axis)`: joins along an existing axis; dtypes are promoted. */
export function concat<T>(e: Emitter<T>, xs: readonly T[], axis: number, op = "concat"): T {
  return e.emit("concat", promoteAll(e, op, xs), { axis });
}

/** `torch.stack` / `tf.stack`: joins same-shaped tensors along a new axis. */
export function stack<T>(e: Emitter<T>, xs: readonly T[], axis: number): T {
  const parts = promoteAll(e, "stack", xs);
  const target = stackShape("stack", parts.map((x) => e.meta(x).shape), axis);
  return e.emit("concat", parts.map((x) => e.emit("reshape", [x], { shape: target.shape })), { axis: target.axis });
}

/** Consecutive slices of `x` along `axis`, sized by `sizesOf(axis size)` (one of the sizesBy* functions). */
export function split<T>(e: Emitter<T>, x: T, axis: number, sizesOf: (n: number) => readonly number[], op = "split"): T[] {
  return splitBounds(op, e.meta(x).shape, axis, sizesOf).map(({ begin, end }) => e.emit("slice", [x], { begin, end }));
}

/**
 * The shape each input of `stack` is reshaped to (a 1 inserted at `axis`), and that axis
 * normalized (the one concat then joins along), after checking that the inputs agree.
 */
export function stackShape(op: string, shapes: readonly Shape[], axis: number): { shape: number[]; axis: number } {
  if (shapes.length === 0) throw new ShapeError(op, "expected at least one tensor");
  const first = shapes[0];
  const bad = shapes.find((s) => s.length !== first.length || s.some((d, i) => d !== first[i]));
  if (bad) throw new ShapeError(op, `all tensors must have the same shape, got ${shapes.map(formatShape).join(", ")}`);
  const a = normalizeAxis(op, axis, first.length + 1);
  return { shape: [...first.slice(0, a), 1, ...first.slice(a)], axis: a };
}

/** PyTorch `split(x, size)`: pieces of `size` along an axis of length `n`, the last one shorter if need be. */
export function sizesBySplitSize(op: string, n: number, size: number): number[] {
  if (!Number.isSafeInteger(size) || size <= 0) throw new ShapeError(op, `split size must be a positive integer, got ${size}`);
  const out: number[] = [];
  for (let at = 0; at < n; at += size) out.push(Math.min(size, n - at));
  return out.length > 0 ? out : [0];
}

/** PyTorch `chunk(x, chunks)`: pieces of ceil(n / chunks), so possibly fewer than `chunks` of them. */
export function sizesByChunks(op: string, n: number, chunks: number): number[] {
  if (!Number.isSafeInteger(chunks) || chunks <= 0) throw new ShapeError(op, `chunks must be a positive integer, got ${chunks}`);
  return sizesBySplitSize(op, n, Math.max(1, Math.ceil(n / chunks)));
}

/** TensorFlow `split(x, num)`: `num` equal pieces, an error unless `num` divides `n`. */
export function sizesByCount(op: string, n: number, count: number): number[] {
  if (!Number.isSafeInteger(count) || count <= 0 || n % count !== 0) {
    throw new ShapeError(op, `cannot split an axis of size ${n} into ${count} equal pieces`);
  }
  return new Array<number>(count).fill(n / count);
}

/** Explicit piece sizes (both frameworks' list form); one -1 takes the rest, as in TensorFlow. They must sum to `n`. */
export function sizesFromList(op: string, n: number, sizes: readonly number[]): number[] {
  const unknown = sizes.filter((s) => s === -1).length;
  const known = sizes.filter((s) => s !== -1);
  if (unknown > 1 || !known.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new ShapeError(op, `sizes must be non-negative integers (one -1 allowed), got [${sizes.join(",")}]`);
  }
  const rest = n - known.reduce((a, b) => a + b, 0);
  if (unknown === 1 ? rest < 0 : rest !== 0) throw new ShapeError(op, `sizes [${sizes.join(",")}] do not add up to the axis size ${n}`);
  return sizes.map((s) => (s === -1 ? rest : s));
}

/** One piece of a split: slice bounds. */
export interface SliceBounds {
  readonly begin: number[];
  readonly end: number[];
}

/**
 * Slice bounds cutting `shape` along `axis` into consecutive pieces, whose sizes `sizesOf`
 * computes from the axis size (one of the sizesBy* functions above).
 */
export function splitBounds(op: string, shape: Shape, axis: number, sizesOf: (n: number) => readonly number[]): SliceBounds[] {
  if (shape.length === 0) throw new ShapeError(op, "cannot split a rank-0 tensor");
  const a = normalizeAxis(op, axis, shape.length);
  const sizes = sizesOf(shape[a]);
  let at = 0;
  return sizes.map((d) => {
    const piece = { begin: shape.map((_, i) => (i === a ? at : 0)), end: shape.map((s, i) => (i === a ? at + d : s)) };
    at += d;
    return piece;
  });
}
