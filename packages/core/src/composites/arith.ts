import { floatResultType, promoteTypes, type DType } from "../dtype.js";
import type { Emitter } from "../ops/prim.js";

/**
 * The arithmetic composites are written with. Both frontends follow PyTorch's dtype rule for
 * mixed operands (float32 with float64 computes in float64), so the helpers cast the same way
 * and a composite emits the same primitives whichever frontend runs it.
 */

/** The binary elementwise primitives. */
export type BinaryPrim = "add" | "sub" | "mul" | "div" | "maximum" | "minimum";

/** `x` converted to `dtype`; `x` itself when it already has it (no cast is emitted). */
export function cast<T>(e: Emitter<T>, x: T, dtype: DType): T {
  return e.meta(x).dtype === dtype ? x : e.emit("cast", [x], { dtype });
}

/** Both operands in their promoted dtype, `a` cast first. */
export function promote<T>(e: Emitter<T>, a: T, b: T): [T, T] {
  const da = e.meta(a).dtype;
  const db = e.meta(b).dtype;
  if (da === db) return [a, b];
  const d = promoteTypes(da, db);
  return [cast(e, a, d), cast(e, b, d)];
}

/** The unary elementwise primitives that compute in floating point only. */
export type FloatUnaryPrim = "exp" | "log" | "sqrt" | "tanh" | "sigmoid";

/**
 * `prim(x)` with PyTorch's rule for integer inputs: an int32 tensor is cast to the default
 * float first (`torch.exp(int_tensor)` is float32); float inputs go straight to the primitive.
 */
export function floatUnary<T>(e: Emitter<T>, prim: FloatUnaryPrim, x: T): T {
  return e.emit(prim, [cast(e, x, floatResultType(e.meta(x).dtype))], {});
}

/** `a prim b` with NumPy broadcasting and dtype promotion. */
export function binary<T>(e: Emitter<T>, prim: BinaryPrim, a: T, b: T): T {
  return e.emit(prim, promote(e, a, b), {});
}

/** `a + b` */ export const add = <T>(e: Emitter<T>, a: T, b: T): T => binary(e, "add", a, b);
/** `a - b` */ export const sub = <T>(e: Emitter<T>, a: T, b: T): T => binary(e, "sub", a, b);
/** `a * b` */ export const mul = <T>(e: Emitter<T>, a: T, b: T): T => binary(e, "mul", a, b);
/** `a / b` */ export const div = <T>(e: Emitter<T>, a: T, b: T): T => binary(e, "div", a, b);

/** `a * c` for a number `c`, taken in a's dtype (as a Python scalar is in PyTorch). */
export function scale<T>(e: Emitter<T>, a: T, c: number): T {
  return e.emit("mul", [a, e.constant(c, e.meta(a).dtype)], {});
}

/** `a + c` for a number `c`, taken in a's dtype. */
export function shift<T>(e: Emitter<T>, a: T, c: number): T {
  return e.emit("add", [a, e.constant(c, e.meta(a).dtype)], {});
}

/** Mean over every element (a rank-0 result). */
export function meanAll<T>(e: Emitter<T>, x: T): T {
  return e.emit("mean", [x], { axes: null, keepdims: false });
}
