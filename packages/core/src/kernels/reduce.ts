import type { TypedArray } from "../dtype.js";
import { coalesceDims, contiguousStrides, reducedShape, sizeOf, type Shape } from "../shape.js";

/**
 * Reductions over any set of axes. Every output element accumulates its inputs in the
 * input's row-major order, in a float64 accumulator, whichever loop shape runs: that fixed
 * order is what makes reductions deterministic (the same bits on every run and in both
 * frontends).
 */

/** How one input element `v` joins the running accumulator `s` (`q` is the output index). */
export type Combine = "sum" | "max" | "sumExpShifted";

const COMBINE_EXPR: Record<Combine, string> = {
  sum: "s + v",
  // NaN wins, as in PyTorch: once s is NaN no comparison replaces it.
  max: "(v > s || v !== v ? v : s)",
  sumExpShifted: "s + Math.exp(v - shift[q])",
};

type Reducer = (x: TypedArray, shape: Shape, outStrides: readonly number[], acc: Float64Array, shift: Float64Array | null) => void;
const reducers = new Map<Combine, Reducer>();

function reducer(kind: Combine): Reducer {
  let r = reducers.get(kind);
  if (r) return r;
  const c = COMBINE_EXPR[kind];
  // An odometer over the outer dimensions, an inner loop over the last one. When the last
  // dimension is reduced (stride 0) the running value stays in a local.
  r = new Function(
    "x", "shape", "os", "acc", "shift",
    `const n = x.length; if (n === 0) return;
     const rank = shape.length;
     if (rank === 0) { const q = 0, s = acc[0], v = x[0]; acc[0] = ${c}; return; }
     const inner = shape[rank - 1]; if (inner === 0) return;
     const is = os[rank - 1];
     const idx = new Int32Array(rank);
     let p = 0;
     for (let base = 0; base < n; base += inner) {
       if (is === 0) {
         const q = p; let s = acc[q];
         for (let j = 0; j < inner; j++) { const v = x[base + j]; s = ${c}; }
         acc[q] = s;
       } else {
         let q = p;
         for (let j = 0; j < inner; j++) { const v = x[base + j]; const s = acc[q]; acc[q] = ${c}; q += is; }
       }
       for (let d = rank - 2; d >= 0; d--) {
         idx[d]++; p += os[d];
         if (idx[d] < shape[d]) break;
         p -= os[d] * shape[d]; idx[d] = 0;
       }
     }`,
  ) as Reducer;
  reducers.set(kind, r);
  return r;
}

/** Strides into the (keepdims) output for each input dimension: 0 on reduced axes. */
function outputStrides(shape: Shape, axes: readonly number[]): number[] {
  const kept = reducedShape(shape, axes, true);
  const ks = contiguousStrides(kept);
  return shape.map((_, i) => (axes.includes(i) ? 0 : ks[i]));
}

/**
 * Accumulates `x` (of `shape`) into `acc` (sized like the reduced output) with `kind`.
 * `acc` must be initialised by the caller (0 for sums, -Infinity for max).
 */
export function reduceInto(kind: Combine, x: TypedArray, shape: Shape, axes: readonly number[], acc: Float64Array, shift: Float64Array | null = null): void {
  // Fewer, longer loops in the same element order: e.g. summing all of [1024,1] is one loop of 1024.
  const dims = coalesceDims(shape, [contiguousStrides(shape), outputStrides(shape, axes)]);
  const os = dims.strides[1], rank = dims.shape.length;
  if (kind === "sum" && rank >= 2 && os[rank - 1] === 0 && os[rank - 2] !== 0 && dims.shape[rank - 2] >= ROW_GROUP) {
    sumRowGroups(x, dims.shape, os, acc);
    return;
  }
  reducer(kind)(x, dims.shape, os, acc, shift);
}

/** Rows summed side by side by {@link sumRowGroups}. */
const ROW_GROUP = 4;

/**
 * A sum whose last (merged) dim is reduced while the one before is kept: a bias gradient's
 * [B, C, H*W] over batch and positions, a row sum. One running float64 sum is a chain of
 * dependent adds, each waiting for the last; four rows that go to four different outputs are
 * four independent chains, run side by side in one loop. Every output still takes its elements
 * in the input's row-major order, so the bits are the one-row loop's.
 */
function sumRowGroups(x: TypedArray, shape: Shape, os: readonly number[], acc: Float64Array): void {
  const n = x.length, rank = shape.length;
  const inner = shape[rank - 1], rows = shape[rank - 2], rs = os[rank - 2];
  if (n === 0 || inner === 0) return;
  const block = rows * inner;
  const idx = new Int32Array(rank);
  let p = 0;
  for (let base = 0; base < n; base += block) {
    let r = 0;
    for (; r + ROW_GROUP <= rows; r += ROW_GROUP) {
      const q0 = p + r * rs, q1 = q0 + rs, q2 = q1 + rs, q3 = q2 + rs;
      const b0 = base + r * inner, b1 = b0 + inner, b2 = b1 + inner, b3 = b2 + inner;
      let s0 = acc[q0], s1 = acc[q1], s2 = acc[q2], s3 = acc[q3];
      for (let j = 0; j < inner; j++) {
        s0 += x[b0 + j];
        s1 += x[b1 + j];
        s2 += x[b2 + j];
        s3 += x[b3 + j];
      }
      acc[q0] = s0;
      acc[q1] = s1;
      acc[q2] = s2;
      acc[q3] = s3;
    }
    for (; r < rows; r++) {
      const q = p + r * rs, b = base + r * inner;
      let s = acc[q];
      for (let j = 0; j < inner; j++) s += x[b + j];
      acc[q] = s;
    }
    // The odometer over the dims before the rows.
    for (let d = rank - 3; d >= 0; d--) {
      idx[d]++;
      p += os[d];
      if (idx[d] < shape[d]) break;
      p -= os[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/** The reference: unravel each input index, ravel its output index, combine. Same order, no tricks. */
export function referenceReduceInto(kind: Combine, x: TypedArray, shape: Shape, axes: readonly number[], acc: Float64Array, shift: Float64Array | null = null): void {
  const strides = contiguousStrides(shape);
  const kept = reducedShape(shape, axes, true);
  const keptStrides = contiguousStrides(kept);
  for (let i = 0; i < sizeOf(shape); i++) {
    let q = 0;
    for (let d = 0; d < shape.length; d++) {
      const coord = Math.floor(i / strides[d]) % shape[d];
      if (!axes.includes(d)) q += coord * keptStrides[d];
    }
    const v = x[i];
    const s = acc[q];
    if (kind === "sum") acc[q] = s + v;
    else if (kind === "max") acc[q] = v > s || v !== v ? v : s;
    else acc[q] = s + Math.exp(v - shift![q]);
  }
}

/** Number of input elements that reduce into each output element. */
export function reductionCount(shape: Shape, axes: readonly number[]): number {
  let n = 1;
  for (const a of axes) n *= shape[a];
  return n;
}

/**
 * The shift used by logsumexp for one output: its max when finite, else 0 (so that all -Inf
 * gives log(0) = -Inf and any +Inf gives +Inf, instead of Inf - Inf = NaN).
 */
export function safeShift(max: number): number {
  return Number.isFinite(max) ? max : 0;
}

/**
 * Splits `shape` around `axis` into [outer, n, inner] so a per-axis loop can address element
 * (o, i, j) at `o * n * inner + i * inner + j`.
 */
export function axisSplit(shape: Shape, axis: number): [outer: number, n: number, inner: number] {
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d];
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d];
  return [outer, shape[axis], inner];
}

/**
 * log_softmax along one axis, numerically stable: x - (m + log(sum(exp(x - m)))), with the
 * sum taken in index order along the axis.
 */
export function logSoftmaxKernel(x: TypedArray, out: TypedArray, shape: Shape, axis: number): void {
  const [outer, n, inner] = axisSplit(shape, axis);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      let m = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = x[base + i * inner];
        if (v > m || v !== v) m = v;
      }
      const shift = safeShift(m);
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.exp(x[base + i * inner] - shift);
      const lse = shift + Math.log(s);
      for (let i = 0; i < n; i++) out[base + i * inner] = x[base + i * inner] - lse;
    }
  }
}

/** Index of the first maximum along `axis` (NaN counts as the maximum, as in PyTorch). */
export function argmaxKernel(x: TypedArray, out: TypedArray, shape: Shape, axis: number): void {
  const [outer, n, inner] = axisSplit(shape, axis);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      let best = 0;
      let m = x[base];
      for (let i = 1; i < n && m === m; i++) {
        const v = x[base + i * inner];
        if (v > m || v !== v) {
          m = v;
          best = i;
        }
      }
      out[o * inner + j] = best;
    }
  }
}
