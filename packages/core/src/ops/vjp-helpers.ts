import { shapesEqual, type Shape } from "../shape.js";
import type { Emitter } from "./prim.js";

/**
 * Helpers VJP rules share. They only call `emit`, so they work for eager values and for
 * graph nodes alike.
 */

/**
 * Sums a broadcast cotangent back down to `shape`: over the leading axes `shape` lacks and
 * over the axes where `shape` has 1 and the cotangent does not. The inverse of broadcasting.
 */
export function sumTo<T>(e: Emitter<T>, g: T, shape: Shape): T {
  const gShape = e.meta(g).shape;
  if (shapesEqual(gShape, shape)) return g;
  const lead = gShape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < gShape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && gShape[i] !== 1)) axes.push(i);
  }
  let out = axes.length > 0 ? e.emit("sum", [g], { axes, keepdims: false }) : g;
  if (!shapesEqual(e.meta(out).shape, shape)) out = e.emit("reshape", [out], { shape });
  return out;
}

/** `a * b` */
export function mul<T>(e: Emitter<T>, a: T, b: T): T {
  return e.emit("mul", [a, b], {});
}

/** `a * c` for a number c, in a's dtype. */
export function scale<T>(e: Emitter<T>, a: T, c: number): T {
  return e.emit("mul", [a, e.constant(c, e.meta(a).dtype)], {});
}

/** Reshapes a reduced cotangent back to keepdims form and broadcasts it over the input's shape. */
export function unreduce<T>(e: Emitter<T>, g: T, inputShape: Shape, axes: readonly number[]): T {
  const kept = inputShape.map((d, i) => (axes.includes(i) ? 1 : d));
  const gk = shapesEqual(e.meta(g).shape, kept) ? g : e.emit("reshape", [g], { shape: kept });
  return shapesEqual(kept, inputShape) ? gk : e.emit("broadcast_to", [gk], { shape: inputShape });
}
