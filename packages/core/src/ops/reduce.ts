import { isFloat, type TypedArray } from "../dtype.js";
import { DTypeError, ShapeError } from "../errors.js";
import { formatShape, normalizeAxes, normalizeAxis, reducedShape, sizeOf, type Shape } from "../shape.js";
import {
  argmaxKernel, logSoftmaxKernel, reduceInto, reductionCount, referenceReduceInto, safeShift, type Combine,
} from "../kernels/reduce.js";
import { getBackend } from "../kernels/backend.js";
import { WASM_ELEMENTWISE_MIN_SIZE } from "../kernels/elementwise-dispatch.js";
import { columnSumsWasm } from "../kernels/wasm/reduce-wasm.js";
import type { Emitter, Meta, OpDef, OpTable, ReduceAttrs, View } from "./prim.js";
import { mul, scale, unreduce } from "./vjp-helpers.js";

/** Reductions and the softmax family. */
export type ReducePrim = "sum" | "mean" | "max" | "logsumexp" | "argmax" | "log_softmax";

function inferReduce(op: string, x: Meta, attrs: ReduceAttrs, floatOnly: boolean, nonEmpty: boolean): Meta {
  const axes = normalizeAxes(op, attrs.axes, x.shape.length);
  if (floatOnly && !isFloat(x.dtype)) throw new DTypeError(op, `expected a floating-point input, got ${x.dtype}${formatShape(x.shape)}`);
  if (nonEmpty && axes.some((a) => x.shape[a] === 0)) {
    throw new ShapeError(op, `cannot reduce over an empty dimension of ${formatShape(x.shape)} (axes [${axes.join(",")}]): the result has no identity`);
  }
  return { shape: reducedShape(x.shape, axes, attrs.keepdims), dtype: x.dtype };
}

type ReduceFn = (kind: Combine, x: TypedArray, shape: Shape, axes: readonly number[], acc: Float64Array, shift?: Float64Array | null) => void;

/**
 * Runs a reduction into a float64 accumulator and writes `out`. `finish` maps the accumulator
 * to the output value (divide for mean, shift and log for logsumexp).
 */
function runReduce(reduce: ReduceFn, kind: "sum" | "mean" | "max" | "logsumexp", x: View, out: View, attrs: ReduceAttrs): void {
  const axes = normalizeAxes(kind, attrs.axes, x.shape.length);
  const m = sizeOf(reducedShape(x.shape, axes, true));
  if (kind === "sum" || kind === "mean") {
    const div = kind === "mean" ? reductionCount(x.shape, axes) : 1;
    if (reduce === reduceInto && leadingColumnSums(x, out, axes, div)) return;
    const acc = new Float64Array(m);
    reduce("sum", x.data, x.shape, axes, acc);
    for (let i = 0; i < m; i++) out.data[i] = div === 1 ? acc[i] : acc[i] / div;
    return;
  }
  const max = new Float64Array(m).fill(-Infinity);
  reduce("max", x.data, x.shape, axes, max);
  if (kind === "max") {
    out.data.set(max);
    return;
  }
  const shift = max.map(safeShift);
  const acc = new Float64Array(m);
  reduce("sumExpShifted", x.data, x.shape, axes, acc, shift);
  for (let i = 0; i < m; i++) out.data[i] = shift[i] + Math.log(acc[i]);
}

/**
 * A float32 sum or mean over the leading axes (a bias gradient: [batch, features] summed over the
 * batch) on the wasm backend: column sums in SIMD with the JavaScript reducer's float64 order,
 * so the same bits. False when the case or the arrays do not fit (the caller then runs JS).
 */
function leadingColumnSums(x: View, out: View, axes: readonly number[], div: number): boolean {
  // Below the elementwise kernels' call-overhead crossover the JS loop is as quick (same bits either way).
  if (getBackend() !== "wasm" || !(x.data instanceof Float32Array) || !(out.data instanceof Float32Array) || x.data.length < WASM_ELEMENTWISE_MIN_SIZE) return false;
  if (axes.length === 0 || axes.length === x.shape.length || !axes.every((a, i) => a === i)) return false;
  const rows = reductionCount(x.shape, axes);
  return columnSumsWasm(x.data, rows, x.data.length / rows, out.data, div);
}

function defineReduce(kind: "sum" | "mean" | "max" | "logsumexp", vjp: OpDef<"sum">["vjp"]): OpDef<typeof kind> {
  return {
    kind: "reduce",
    arity: 1,
    infer: ([x], attrs) => inferReduce(kind, x, attrs, kind === "mean" || kind === "logsumexp", kind === "max" || kind === "logsumexp"),
    kernel: ([x], out, attrs) => runReduce(reduceInto, kind, x, out, attrs),
    reference: ([x], out, attrs) => runReduce(referenceReduceInto, kind, x, out, attrs),
    vjp,
  };
}

/** The input's axes a reduction reduced, normalized. */
function reducedAxes<T>(e: Emitter<T>, x: T, attrs: ReduceAttrs): number[] {
  return normalizeAxes("vjp", attrs.axes, e.meta(x).shape.length);
}

/** OpDefs of the reductions. */
export const reduceOps: OpTable<ReducePrim> = {
  sum: defineReduce("sum", (e, [x], _out, g, attrs) => [unreduce(e, g, e.meta(x).shape, reducedAxes(e, x, attrs))]),
  mean: defineReduce("mean", (e, [x], _out, g, attrs) => {
    const axes = reducedAxes(e, x, attrs);
    return [scale(e, unreduce(e, g, e.meta(x).shape, axes), 1 / reductionCount(e.meta(x).shape, axes))];
  }),
  // Ties share the gradient equally (as torch.amax does): mask / count.
  max: defineReduce("max", (e, [x], out, g, attrs) => {
    const shape = e.meta(x).shape;
    const axes = reducedAxes(e, x, attrs);
    const mask = e.emit("compare", [x, unreduce(e, out, shape, axes)], { kind: "eq" });
    const count = e.emit("sum", [mask], { axes, keepdims: true });
    return [mul(e, unreduce(e, g, shape, axes), e.emit("div", [mask, unreduce(e, count, shape, axes)], {}))];
  }),
  logsumexp: defineReduce("logsumexp", (e, [x], out, g, attrs) => {
    const shape = e.meta(x).shape;
    const axes = reducedAxes(e, x, attrs);
    const softmax = e.emit("exp", [e.emit("sub", [x, unreduce(e, out, shape, axes)], {})], {});
    return [mul(e, unreduce(e, g, shape, axes), softmax)];
  }),
  argmax: {
    kind: "reduce",
    arity: 1,
    infer: ([x], { axis, keepdims }) => {
      const a = normalizeAxis("argmax", axis, x.shape.length);
      if (x.shape.length === 0) return { shape: [], dtype: "int32" };
      if (x.shape[a] === 0) throw new ShapeError("argmax", `cannot take argmax over an empty dimension of ${formatShape(x.shape)}`);
      return { shape: reducedShape(x.shape, [a], keepdims), dtype: "int32" };
    },
    kernel: ([x], out, { axis }) => argmaxKernel(x.data, out.data, x.shape.length === 0 ? [1] : x.shape, x.shape.length === 0 ? 0 : normalizeAxis("argmax", axis, x.shape.length)),
    reference: ([x], out, { axis }) => {
      // Per output: scan the axis from the start, keep the first strict maximum.
      const shape = x.shape.length === 0 ? [1] : x.shape;
      const a = x.shape.length === 0 ? 0 : normalizeAxis("argmax", axis, shape.length);
      const inner = sizeOf(shape.slice(a + 1));
      for (let o = 0; o < out.data.length; o++) {
        const base = Math.floor(o / inner) * shape[a] * inner + (o % inner);
        let best = 0;
        for (let i = 1; i < shape[a]; i++) {
          const v = x.data[base + i * inner];
          const b = x.data[base + best * inner];
          if (b === b && (v > b || v !== v)) best = i;
        }
        out.data[o] = best;
      }
    },
    vjp: () => [null],
  },
  log_softmax: {
    kind: "reduce",
    arity: 1,
    infer: ([x], { axis }) => {
      normalizeAxis("log_softmax", axis, x.shape.length); // validates the axis
      if (!isFloat(x.dtype)) throw new DTypeError("log_softmax", `expected a floating-point input, got ${x.dtype}${formatShape(x.shape)}`);
      return { shape: x.shape, dtype: x.dtype };
    },
    kernel: ([x], out, { axis }) => {
      if (x.shape.length === 0) out.data[0] = x.data[0] - x.data[0];
      else logSoftmaxKernel(x.data, out.data, x.shape, normalizeAxis("log_softmax", axis, x.shape.length));
    },
    reference: ([x], out, { axis }) => {
      // x - logsumexp(x, axis, keepdims), from the reference reductions.
      const rank = x.shape.length;
      const axes = rank === 0 ? [] : [normalizeAxis("log_softmax", axis, rank)];
      const m = sizeOf(reducedShape(x.shape, axes, true));
      const max = new Float64Array(m).fill(-Infinity);
      referenceReduceInto("max", x.data, x.shape, axes, max);
      const shift = max.map(safeShift);
      const acc = new Float64Array(m);
      referenceReduceInto("sumExpShifted", x.data, x.shape, axes, acc, shift);
      const inner = rank === 0 ? 1 : sizeOf(x.shape.slice(axes[0] + 1));
      const n = rank === 0 ? 1 : x.shape[axes[0]];
      for (let i = 0; i < x.data.length; i++) {
        const q = Math.floor(i / (n * inner)) * inner + (i % inner);
        out.data[i] = x.data[i] - (shift[q] + Math.log(acc[q]));
      }
    },
    // d/dx: g - softmax * sum(g, axis)
    vjp: (e, [x], out, g, { axis }) => {
      const shape = e.meta(x).shape;
      if (shape.length === 0) return [e.emit("mul", [g, e.constant(0, e.meta(g).dtype)], {})];
      const a = normalizeAxis("log_softmax", axis, shape.length);
      const gsum = e.emit("sum", [g], { axes: [a], keepdims: true });
      const softmax = e.emit("exp", [out], {});
      return [e.emit("sub", [g, mul(e, softmax, gsum)], {})];
    },
  },
};
