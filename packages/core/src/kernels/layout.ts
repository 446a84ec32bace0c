import type { TypedArray } from "../dtype.js";
import { broadcastStrides, contiguousStrides, sizeOf, type Shape } from "../shape.js";

/**
 * Data movement kernels: permute, broadcast, slice, pad. All are one strided gather
 * `out[i] = x[offset + sum(coord_d * stride_d)]`, written once with an odometer.
 */
export function stridedGather(x: TypedArray, offset: number, strides: readonly number[], out: TypedArray, outShape: Shape): void {
  const n = out.length;
  if (n === 0) return;
  const rank = outShape.length;
  if (rank === 0) {
    out[0] = x[offset];
    return;
  }
  const inner = outShape[rank - 1];
  const is = strides[rank - 1];
  const idx = new Int32Array(rank);
  let p = offset;
  for (let base = 0; base < n; base += inner) {
    let q = p;
    for (let j = 0; j < inner; j++) {
      out[base + j] = x[q];
      q += is;
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      p += strides[d];
      if (idx[d] < outShape[d]) break;
      p -= strides[d] * outShape[d];
      idx[d] = 0;
    }
  }
}

/** out = x permuted: out dimension d is input dimension perm[d]. */
export function transposeKernel(x: TypedArray, shape: Shape, perm: readonly number[], out: TypedArray): void {
  const s = contiguousStrides(shape);
  stridedGather(x, 0, perm.map((p) => s[p]), out, perm.map((p) => shape[p]));
}

/** out = x broadcast to `outShape`. */
export function broadcastKernel(x: TypedArray, shape: Shape, out: TypedArray, outShape: Shape): void {
  stridedGather(x, 0, broadcastStrides(shape, outShape), out, outShape);
}

/** out = x[begin_0:end_0, begin_1:end_1, ...]. */
export function sliceKernel(x: TypedArray, shape: Shape, begin: readonly number[], out: TypedArray, outShape: Shape): void {
  const s = contiguousStrides(shape);
  let offset = 0;
  for (let d = 0; d < shape.length; d++) offset += begin[d] * s[d];
  stridedGather(x, offset, s, out, outShape);
}

/** out = x surrounded by `before[d]` and `after[d]` zeros on each dimension. */
export function padKernel(x: TypedArray, shape: Shape, before: readonly number[], out: TypedArray, outShape: Shape): void {
  out.fill(0);
  const n = sizeOf(shape);
  if (n === 0) return;
  const os = contiguousStrides(outShape);
  const rank = shape.length;
  const idx = new Int32Array(rank);
  let p = 0;
  for (let d = 0; d < rank; d++) p += before[d] * os[d];
  // Walk the input in order; `p` is the matching output position.
  for (let i = 0; i < n; i++) {
    out[p] = x[i];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      p += os[d];
      if (idx[d] < shape[d]) break;
      p -= os[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/** Reference for all of the above: unravel each output index and compute its source by hand. */
export function referenceGather(out: TypedArray, outShape: Shape, source: (coord: number[]) => number | null, x: TypedArray): void {
  const strides = contiguousStrides(outShape);
  for (let i = 0; i < out.length; i++) {
    const coord = outShape.map((d, k) => Math.floor(i / strides[k]) % d);
    const at = source(coord);
    out[i] = at === null ? 0 : x[at];
  }
}
