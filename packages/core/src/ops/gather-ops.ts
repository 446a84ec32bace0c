import { DTypeError, ShapeError } from "../errors.js";
import { contiguousStrides, formatShape, normalizeAxis, shapesEqual, type Shape } from "../shape.js";
import {
  checkIndices, extent, gatherKernel, indexAddKernel, scatterAddKernel, takeAlongKernel,
} from "../kernels/indexing.js";
import type { Meta, OpTable } from "./prim.js";

/**
 * The gather family: two ways of reading rows by int32 index, each paired with the scatter-add
 * that is its VJP, and each scatter-add's VJP the gather again, so the set is closed under
 * differentiation (gradients of gradients work).
 *
 *   gather          (`tf.gather`, `torch.index_select`): out = x[..., idx[j...], ...] along axis;
 *                   out shape x[:axis] + idx.shape + x[axis+1:]. VJP: index_add.
 *   index_add       zeros of `size` along axis, with src's rows added at idx (`torch.index_add`).
 *   take_along_axis (`np.take_along_axis`, `torch.gather`): idx has x's shape except along axis,
 *                   out[c] = x[c with c[axis] = idx[c]]. VJP: scatter_add.
 *   scatter_add     zeros of `size` along axis, src[c] added at c[axis] = idx[c] (`torch.scatter_add`).
 *
 * An index outside [0, axis size) is an error naming the op, the index and the axis size, raised
 * by every kernel (fast and reference) before it reads anything.
 */

/** Primitives that read or accumulate rows by index. */
export type GatherPrim = "gather" | "index_add" | "take_along_axis" | "scatter_add";

/** Calls `fn` with the coordinates of every element of `shape`, in row-major order (reference kernels only). */
function forEachCoord(shape: Shape, fn: (coord: number[], flat: number) => void): void {
  const strides = contiguousStrides(shape);
  const total = extent(shape, 0, shape.length);
  for (let i = 0; i < total; i++) fn(shape.map((d, k) => Math.floor(i / strides[k]) % d), i);
}

/** Row-major offset of `coord` in `shape`. */
function offsetOf(shape: Shape, coord: readonly number[]): number {
  let at = 0;
  for (let k = 0; k < shape.length; k++) at = at * shape[k] + coord[k];
  return at;
}

function checkIndexDtype(op: string, idx: Meta): void {
  if (idx.dtype !== "int32") throw new DTypeError(op, `indices must be int32, got ${idx.dtype}${formatShape(idx.shape)}`);
}

function checkSize(op: string, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new ShapeError(op, `size must be a non-negative integer, got ${size}`);
}

/** `op`'s axis, normalized against `rank`, which must be >= 1 (indexing a scalar has no axis). */
function axisOf(op: string, axis: number, rank: number, x: Meta): number {
  if (rank < 1) throw new ShapeError(op, `expected a tensor of rank >= 1, got ${x.dtype}${formatShape(x.shape)}`);
  return normalizeAxis(op, axis, rank);
}

/** Checks that idx has x's shape except along `a` (take_along_axis and scatter_add). */
function checkAlong(op: string, x: Shape, idx: Shape, a: number, what: string): void {
  const ok = idx.length === x.length && x.every((d, i) => i === a || d === idx[i]);
  if (!ok) {
    throw new ShapeError(op, `indices ${formatShape(idx)} must have the shape of ${what} ${formatShape(x)} except along axis ${a} (no broadcasting)`);
  }
}

/** OpDefs of gather, index_add, take_along_axis and scatter_add. */
export const gatherOps: OpTable<GatherPrim> = {
  gather: {
    kind: "index",
    arity: 2,
    infer: ([x, idx], { axis }) => {
      checkIndexDtype("gather", idx);
      const a = axisOf("gather", axis, x.shape.length, x);
      return { shape: [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)], dtype: x.dtype };
    },
    kernel: ([x, idx], out, { axis }) => {
      const a = normalizeAxis("gather", axis, x.shape.length);
      checkIndices("gather", idx.data, a, x.shape[a]);
      gatherKernel(x.data, x.shape[a], idx.data, out.data, extent(x.shape, 0, a), extent(x.shape, a + 1, x.shape.length));
    },
    reference: ([x, idx], out, { axis }) => {
      const a = normalizeAxis("gather", axis, x.shape.length);
      checkIndices("gather", idx.data, a, x.shape[a]);
      const q = idx.shape.length;
      forEachCoord(out.shape, (c, i) => {
        const k = idx.data[offsetOf(idx.shape, c.slice(a, a + q))];
        out.data[i] = x.data[offsetOf(x.shape, [...c.slice(0, a), k, ...c.slice(a + q)])];
      });
    },
    vjp: (e, [x, idx], _o, g, { axis }, wants = [true]) => {
      const xs = e.meta(x).shape;
      const a = normalizeAxis("gather", axis, xs.length);
      return [wants[0] ? e.emit("index_add", [g, idx], { axis: a, size: xs[a] }) : null, null];
    },
  },
  index_add: {
    kind: "index",
    arity: 2,
    infer: ([src, idx], { axis, size }) => {
      checkIndexDtype("index_add", idx);
      checkSize("index_add", size);
      const q = idx.shape.length;
      const a = axisOf("index_add", axis, src.shape.length - q + 1, src);
      if (!shapesEqual(src.shape.slice(a, a + q), idx.shape)) {
        throw new ShapeError("index_add", `source ${formatShape(src.shape)} does not hold indices ${formatShape(idx.shape)} at axis ${a}`);
      }
      return { shape: [...src.shape.slice(0, a), size, ...src.shape.slice(a + q)], dtype: src.dtype };
    },
    kernel: ([src, idx], out, { axis, size }) => {
      const a = normalizeAxis("index_add", axis, out.shape.length);
      checkIndices("index_add", idx.data, a, size);
      indexAddKernel(src.data, idx.data, out.data, size, extent(out.shape, 0, a), extent(out.shape, a + 1, out.shape.length));
    },
    reference: ([src, idx], out, { axis, size }) => {
      const a = normalizeAxis("index_add", axis, out.shape.length);
      checkIndices("index_add", idx.data, a, size);
      const q = idx.shape.length;
      out.data.fill(0);
      forEachCoord(src.shape, (c, i) => {
        const k = idx.data[offsetOf(idx.shape, c.slice(a, a + q))];
        out.data[offsetOf(out.shape, [...c.slice(0, a), k, ...c.slice(a + q)])] += src.data[i];
      });
    },
    vjp: (e, [, idx], _o, g, { axis }) => {
      const a = normalizeAxis("index_add", axis, e.meta(g).shape.length);
      return [e.emit("gather", [g, idx], { axis: a }), null];
    },
  },
  take_along_axis: {
    kind: "index",
    arity: 2,
    infer: ([x, idx], { axis }) => {
      checkIndexDtype("take_along_axis", idx);
      const a = axisOf("take_along_axis", axis, x.shape.length, x);
      checkAlong("take_along_axis", x.shape, idx.shape, a, "x");
      return { shape: [...idx.shape], dtype: x.dtype };
    },
    kernel: ([x, idx], out, { axis }) => {
      const a = normalizeAxis("take_along_axis", axis, x.shape.length);
      checkIndices("take_along_axis", idx.data, a, x.shape[a]);
      takeAlongKernel(x.data, x.shape[a], idx.data, out.data, extent(x.shape, 0, a), idx.shape[a], extent(x.shape, a + 1, x.shape.length));
    },
    reference: ([x, idx], out, { axis }) => {
      const a = normalizeAxis("take_along_axis", axis, x.shape.length);
      checkIndices("take_along_axis", idx.data, a, x.shape[a]);
      forEachCoord(out.shape, (c, i) => {
        c[a] = idx.data[i];
        out.data[i] = x.data[offsetOf(x.shape, c)];
      });
    },
    vjp: (e, [x, idx], _o, g, { axis }, wants = [true]) => {
      const xs = e.meta(x).shape;
      const a = normalizeAxis("take_along_axis", axis, xs.length);
      return [wants[0] ? e.emit("scatter_add", [g, idx], { axis: a, size: xs[a] }) : null, null];
    },
  },
  scatter_add: {
    kind: "index",
    arity: 2,
    infer: ([src, idx], { axis, size }) => {
      checkIndexDtype("scatter_add", idx);
      checkSize("scatter_add", size);
      const a = axisOf("scatter_add", axis, src.shape.length, src);
      if (!shapesEqual(src.shape, idx.shape)) {
        throw new ShapeError("scatter_add", `source ${formatShape(src.shape)} and indices ${formatShape(idx.shape)} must have the same shape`);
      }
      return { shape: src.shape.map((d, i) => (i === a ? size : d)), dtype: src.dtype };
    },
    kernel: ([src, idx], out, { axis, size }) => {
      const a = normalizeAxis("scatter_add", axis, out.shape.length);
      checkIndices("scatter_add", idx.data, a, size);
      scatterAddKernel(src.data, idx.data, out.data, size, extent(src.shape, 0, a), src.shape[a], extent(src.shape, a + 1, src.shape.length));
    },
    reference: ([src, idx], out, { axis, size }) => {
      const a = normalizeAxis("scatter_add", axis, out.shape.length);
      checkIndices("scatter_add", idx.data, a, size);
      out.data.fill(0);
      forEachCoord(src.shape, (c, i) => {
        c[a] = idx.data[i];
        out.data[offsetOf(out.shape, c)] += src.data[i];
      });
    },
    vjp: (e, [, idx], _o, g, { axis }) => {
      const a = normalizeAxis("scatter_add", axis, e.meta(g).shape.length);
      return [e.emit("take_along_axis", [g, idx], { axis: a }), null];
    },
  },
};
