import type { Attrs } from "../ops/prim.js";
import { normalizeAxis, type Shape } from "../shape.js";

/**
 * The axis arguments of both frontends' shape and reduction methods (PyTorch's conventions:
 * negative axes count from the end), turned into primitive attributes in one place.
 */

/** Reduction options: `axis` a number or list (all axes when absent), `keepdims` as NumPy. */
export interface ReduceOptions {
  axis?: number | readonly number[];
  keepdims?: boolean;
}

/** The reduce primitives' attributes for {@link ReduceOptions}. */
export function reduceAttrs(o: ReduceOptions): Attrs["sum"] {
  return { axes: o.axis === undefined ? null : typeof o.axis === "number" ? [o.axis] : [...o.axis], keepdims: o.keepdims ?? false };
}

/** The transpose permutation of `permute(perm)` for a rank-`ndim` tensor (axes normalised). */
export function permuteAttrs(perm: readonly number[], ndim: number): Attrs["transpose"] {
  return { perm: perm.map((p) => normalizeAxis("permute", p, ndim)) };
}

/** The transpose permutation that swaps dimensions `dim0` and `dim1` of a rank-`ndim` tensor. */
export function swapAttrs(dim0: number, dim1: number, ndim: number): Attrs["transpose"] {
  const perm = Array.from({ length: ndim }, (_, i) => i);
  const a = normalizeAxis("transpose", dim0, ndim);
  const b = normalizeAxis("transpose", dim1, ndim);
  [perm[a], perm[b]] = [perm[b], perm[a]];
  return { perm };
}

/** `shape` with a size-1 dimension inserted at `dim` (`-1` appends). */
export function unsqueezeShape(shape: Shape, dim: number): Shape {
  const d = normalizeAxis("unsqueeze", dim, shape.length + 1);
  return [...shape.slice(0, d), 1, ...shape.slice(d)];
}

/** `shape` without its size-1 dimensions (all of them, or only `dim`, if it has size 1). */
export function squeezeShape(shape: Shape, dim?: number): Shape {
  if (dim === undefined) return shape.filter((d) => d !== 1);
  const d = normalizeAxis("squeeze", dim, shape.length);
  return shape[d] === 1 ? shape.filter((_, i) => i !== d) : shape;
}
