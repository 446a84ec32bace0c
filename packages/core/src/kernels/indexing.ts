import { DualgradError } from "../errors.js";
import type { TypedArray } from "../dtype.js";
import type { Shape } from "../shape.js";

/**
 * Fast kernels of the indexing and joining primitives (gather, index_add, take_along_axis,
 * scatter_add, concat). Each sees its tensors as [outer, axis, inner] blocks, so the work is
 * plain loops over contiguous runs of `inner` elements, with no per-element coordinate math and
 * nothing allocated per call (a compiled graph step runs them with zero allocations).
 */

/** The product of `shape[from..to)`. */
export function extent(shape: Shape, from: number, to: number): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i];
  return n;
}

/**
 * Throws unless every index is in [0, size): the error names the op, the index, its position and
 * the axis size. Indices are checked before anything is read, so an out-of-range index is never
 * a silent read past a row (as PyTorch's index_select and TF's CPU gather refuse them too).
 */
export function checkIndices(op: string, indices: TypedArray, axis: number, size: number): void {
  for (let j = 0; j < indices.length; j++) {
    const k = indices[j];
    if (!(k >= 0 && k < size)) {
      throw new DualgradError(`${op}: index ${k} (at position ${j} of the indices) is out of range for axis ${axis} of size ${size}`);
    }
  }
}

/** out[o, j, i] = x[o, idx[j], i], where x is [outer, n, inner] and out [outer, idx.length, inner]. */
export function gatherKernel(x: TypedArray, n: number, idx: TypedArray, out: TypedArray, outer: number, inner: number): void {
  const m = idx.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const src = (o * n + idx[j]) * inner;
      const dst = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] = x[src + i];
    }
  }
}

/** out = 0; out[o, idx[j], i] += src[o, j, i], in ascending j (the one summation order). */
export function indexAddKernel(src: TypedArray, idx: TypedArray, out: TypedArray, size: number, outer: number, inner: number): void {
  out.fill(0);
  const m = idx.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const dst = (o * size + idx[j]) * inner;
      const from = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] += src[from + i];
    }
  }
}

/** out[o, j, i] = x[o, idx[o, j, i], i]: x is [outer, n, inner], idx and out [outer, m, inner]. */
export function takeAlongKernel(x: TypedArray, n: number, idx: TypedArray, out: TypedArray, outer: number, m: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const at = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) out[at + i] = x[(o * n + idx[at + i]) * inner + i];
    }
  }
}

/** out = 0; out[o, idx[o, j, i], i] += src[o, j, i], in ascending (o, j, i). */
export function scatterAddKernel(src: TypedArray, idx: TypedArray, out: TypedArray, size: number, outer: number, m: number, inner: number): void {
  out.fill(0);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const at = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) out[(o * size + idx[at + i]) * inner + i] += src[at + i];
    }
  }
}

/** Copies each input's [outer, d_t, inner] block in turn into out's [outer, sum d_t, inner]. */
export function concatKernel(xs: readonly { readonly data: TypedArray; readonly shape: Shape }[], axis: number, out: TypedArray, outer: number, inner: number): void {
  let row = 0;
  for (let o = 0; o < outer; o++) {
    for (let t = 0; t < xs.length; t++) {
      const x = xs[t].data;
      const run = xs[t].shape[axis] * inner;
      const from = o * run;
      for (let i = 0; i < run; i++) out[row + i] = x[from + i];
      row += run;
    }
  }
}
