import { ShapeError } from "./errors.js";

/** A tensor's dimensions, outermost first. `[]` is a scalar (rank 0). */
export type Shape = readonly number[];

/** `[64,3]`: the form every error message uses. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

/** Number of elements (1 for a scalar, 0 when any dimension is 0). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C order) strides, in elements. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Element-wise equality of two shapes. */
export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Throws unless every dimension is a non-negative integer. */
export function checkShape(op: string, shape: Shape): void {
  if (!Array.isArray(shape)) throw new ShapeError(op, `shape must be an array of dimensions, got ${String(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(op, `invalid shape ${formatShape(shape)}: dimensions must be non-negative integers`);
    }
  }
}

/**
 * NumPy broadcasting: align trailing dimensions; each pair must be equal or contain a 1.
 * Throws a ShapeError naming the op and all shapes when they do not broadcast.
 */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (out[o] === 1) out[o] = d;
      else if (d !== 1 && d !== out[o]) {
        throw new ShapeError(
          op,
          `cannot broadcast ${shapes.map(formatShape).join(" and ")} (dimension ${o - rank} is ${out[o]} vs ${d})`,
        );
      }
    }
  }
  return out;
}

/** True when `from` broadcasts to exactly `to`. */
export function broadcastsTo(from: Shape, to: Shape): boolean {
  if (from.length > to.length) return false;
  for (let i = 0; i < from.length; i++) {
    const d = from[i];
    const t = to[to.length - from.length + i];
    if (d !== 1 && d !== t) return false;
  }
  return true;
}

/**
 * Strides for reading `shape` as if broadcast to `target`: 0 on broadcast dimensions,
 * and prepended 0s for missing leading dimensions.
 */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const own = contiguousStrides(shape);
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const o = target.length - shape.length + i;
    out[o] = shape[i] === 1 && target[o] !== 1 ? 0 : own[i];
  }
  return out;
}

/**
 * Simplifies a loop nest without changing its order: drops dimensions of size 1 and merges each
 * dimension into the next one wherever every operand steps through both as through one (its
 * stride on the outer dimension is its inner stride times the inner size; a broadcast 0 on both
 * qualifies). `strides[k]` are operand k's strides over `shape`. Kernels then run the odometer
 * over as few dimensions as possible: `[1024,1] + [1]` becomes one flat loop of 1024 rather than
 * 1024 trips of an inner loop of 1. The result always has at least one dimension.
 */
export function coalesceDims(shape: Shape, strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    const merge = last >= 0 && strides.every((st, k) => outStrides[k][last] === st[d] * shape[d]);
    if (merge) {
      outShape[last] *= shape[d];
      strides.forEach((st, k) => (outStrides[k][last] = st[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((st, k) => outStrides[k].push(st[d]));
    }
  }
  if (outShape.length === 0) {
    // Every dimension was 1: one element.
    outShape.push(1);
    outStrides.forEach((st) => st.push(0));
  }
  return { shape: outShape, strides: outStrides };
}

/** Resolves a possibly negative axis (-1 = last) against a rank, or throws naming the op. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -Math.max(rank, 1) || axis >= Math.max(rank, 1)) {
    throw new ShapeError(op, `axis ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/**
 * Resolves a list of axes (negative allowed) to sorted unique non-negative axes.
 * `undefined` or `null` means every axis.
 */
export function normalizeAxes(op: string, axes: readonly number[] | null | undefined, rank: number): number[] {
  if (axes == null) return Array.from({ length: rank }, (_, i) => i);
  const out = axes.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new ShapeError(op, `axis ${a} is out of range for rank ${rank}`);
    }
    return a < 0 ? a + rank : a;
  });
  const sorted = [...new Set(out)].sort((x, y) => x - y);
  if (sorted.length !== out.length) throw new ShapeError(op, `repeated axis in [${axes.join(",")}]`);
  return sorted;
}

/** The shape after reducing `axes` (already normalized), keeping them as 1s if `keepdims`. */
export function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (axes.includes(i)) {
      if (keepdims) out.push(1);
    } else out.push(shape[i]);
  }
  return out;
}
