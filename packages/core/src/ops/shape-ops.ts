import { ShapeError } from "../errors.js";
import { broadcastShapes, broadcastsTo, checkShape, contiguousStrides, formatShape, sizeOf, type Shape } from "../shape.js";
import { broadcastKernel, padKernel, referenceGather, sliceKernel, transposeKernel } from "../kernels/layout.js";
import type { OpTable } from "./prim.js";
import { sumTo } from "./vjp-helpers.js";

/** Primitives that move data without arithmetic. */
export type ShapePrim = "reshape" | "transpose" | "broadcast_to" | "slice" | "pad";

/** Resolves a reshape target (one `-1` allowed, as in PyTorch) against `from`, or throws. */
export function resolveReshape(from: Shape, to: Shape): number[] {
  const unknown = to.filter((d) => d === -1).length;
  if (unknown > 1) throw new ShapeError("reshape", `only one dimension can be -1, got ${formatShape(to)}`);
  checkShape("reshape", to.filter((d) => d !== -1));
  const known = sizeOf(to.filter((d) => d !== -1));
  const total = sizeOf(from);
  const out = to.map((d) => (d === -1 ? (known === 0 ? 0 : total / known) : d));
  if (sizeOf(out) !== total || !out.every(Number.isInteger)) {
    throw new ShapeError("reshape", `cannot reshape ${formatShape(from)} (${total} elements) to ${formatShape(to)}`);
  }
  return out;
}

/** Validates a permutation of `rank` axes. */
function checkPerm(shape: Shape, perm: readonly number[]): void {
  const ok = perm.length === shape.length && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
  if (!ok) throw new ShapeError("transpose", `perm [${perm.join(",")}] is not a permutation of the axes of ${formatShape(shape)}`);
}

function checkRanges(op: string, shape: Shape, a: readonly number[], b: readonly number[]): void {
  if (a.length !== shape.length || b.length !== shape.length) {
    throw new ShapeError(op, `expected ${shape.length} entries per bound for ${formatShape(shape)}, got [${a.join(",")}] and [${b.join(",")}]`);
  }
}

/** The inverse permutation, used by transpose's VJP. */
export function invertPerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** OpDefs of the shape primitives. */
export const shapeOps: OpTable<ShapePrim> = {
  reshape: {
    kind: "shape",
    arity: 1,
    infer: ([x], { shape }) => ({ shape: resolveReshape(x.shape, shape), dtype: x.dtype }),
    kernel: ([x], out) => out.data.set(x.data),
    reference: ([x], out) => {
      for (let i = 0; i < out.data.length; i++) out.data[i] = x.data[i];
    },
    vjp: (e, [x], _o, g) => [e.emit("reshape", [g], { shape: e.meta(x).shape })],
  },
  transpose: {
    kind: "shape",
    arity: 1,
    infer: ([x], { perm }) => {
      checkPerm(x.shape, perm);
      return { shape: perm.map((p) => x.shape[p]), dtype: x.dtype };
    },
    kernel: ([x], out, { perm }) => transposeKernel(x.data, x.shape, perm, out.data),
    reference: ([x], out, { perm }) => {
      const s = contiguousStrides(x.shape);
      referenceGather(out.data, out.shape, (c) => c.reduce((acc, v, d) => acc + v * s[perm[d]], 0), x.data);
    },
    vjp: (e, _x, _o, g, { perm }) => [e.emit("transpose", [g], { perm: invertPerm(perm) })],
  },
  broadcast_to: {
    kind: "shape",
    arity: 1,
    infer: ([x], { shape }) => {
      checkShape("broadcast_to", shape);
      if (!broadcastsTo(x.shape, shape)) {
        broadcastShapes("broadcast_to", x.shape, shape); // throws the standard message when incompatible
        throw new ShapeError("broadcast_to", `cannot broadcast ${formatShape(x.shape)} to ${formatShape(shape)}`);
      }
      return { shape: [...shape], dtype: x.dtype };
    },
    kernel: ([x], out) => broadcastKernel(x.data, x.shape, out.data, out.shape),
    reference: ([x], out) => {
      const s = contiguousStrides(x.shape);
      const lead = out.shape.length - x.shape.length;
      referenceGather(out.data, out.shape, (c) => x.shape.reduce((acc, d, k) => acc + (d === 1 ? 0 : c[k + lead]) * s[k], 0), x.data);
    },
    vjp: (e, [x], _o, g) => [sumTo(e, g, e.meta(x).shape)],
  },
  slice: {
    kind: "shape",
    arity: 1,
    infer: ([x], { begin, end }) => {
      checkRanges("slice", x.shape, begin, end);
      x.shape.forEach((d, i) => {
        if (!(Number.isInteger(begin[i]) && Number.isInteger(end[i]) && 0 <= begin[i] && begin[i] <= end[i] && end[i] <= d)) {
          throw new ShapeError("slice", `bounds [${begin.join(",")}]..[${end.join(",")}] do not fit ${formatShape(x.shape)} (axis ${i})`);
        }
      });
      return { shape: x.shape.map((_, i) => end[i] - begin[i]), dtype: x.dtype };
    },
    kernel: ([x], out, { begin }) => sliceKernel(x.data, x.shape, begin, out.data, out.shape),
    reference: ([x], out, { begin }) => {
      const s = contiguousStrides(x.shape);
      referenceGather(out.data, out.shape, (c) => c.reduce((acc, v, d) => acc + (v + begin[d]) * s[d], 0), x.data);
    },
    vjp: (e, [x], _o, g, { begin, end }) => [
      e.emit("pad", [g], { before: begin, after: e.meta(x).shape.map((d, i) => d - end[i]) }),
    ],
  },
  pad: {
    kind: "shape",
    arity: 1,
    infer: ([x], { before, after }) => {
      checkRanges("pad", x.shape, before, after);
      if (![...before, ...after].every((p) => Number.isInteger(p) && p >= 0)) {
        throw new ShapeError("pad", `padding must be non-negative integers, got [${before.join(",")}] and [${after.join(",")}]`);
      }
      return { shape: x.shape.map((d, i) => before[i] + d + after[i]), dtype: x.dtype };
    },
    kernel: ([x], out, { before }) => padKernel(x.data, x.shape, before, out.data, out.shape),
    reference: ([x], out, { before }) => {
      const s = contiguousStrides(x.shape);
      referenceGather(out.data, out.shape, (c) => {
        let at = 0;
        for (let d = 0; d < c.length; d++) {
          const k = c[d] - before[d];
          if (k < 0 || k >= x.shape[d]) return null;
          at += k * s[d];
        }
        return at;
      }, x.data);
    },
    vjp: (e, [x], _o, g, { before }) => [
      e.emit("slice", [g], { begin: before, end: e.meta(x).shape.map((d, i) => before[i] + d) }),
    ],
  },
};
