import { isFloat } from "../dtype.js";
import { ShapeError } from "../errors.js";
import { formatShape, shapesEqual, type Shape } from "../shape.js";
import {
  avgPool2dGradKernel, avgPool2dKernel, maxPool2dGradKernel, maxPool2dKernel, maxPool2dSelectKernel, poolGeometry,
  type PoolGeometry, type PoolParams,
} from "../kernels/pool.js";
import { checkPair } from "./conv.js";
import type { Attrs, Meta, OpTable, View } from "./prim.js";

/**
 * The pooling primitives. Max pooling's gradient routes each cotangent to its window's first
 * maximum (`max_pool2d_grad`); the adjoint of that routing (`max_pool2d_select`, which reads a
 * tensor at those positions) closes the set under differentiation. Both take the pooled input
 * `x` to find the maxima and have no gradient through it (the positions are piecewise constant).
 * Average pooling is linear: its gradient spreads, and the gradient's gradient pools again.
 */
export type PoolPrim = "max_pool2d" | "max_pool2d_grad" | "max_pool2d_select" | "avg_pool2d" | "avg_pool2d_grad";

/** Throws unless the padding is at most half the kernel on each axis (PyTorch's rule). */
export function checkPoolPadding(op: string, { kernel, padding }: PoolParams): void {
  if (padding[0] * 2 > kernel[0] || padding[1] * 2 > kernel[1]) {
    throw new ShapeError(op, `padding ${JSON.stringify(padding)} must be at most half the kernel ${JSON.stringify(kernel)} (as in PyTorch)`);
  }
}

/** Validates pooling an input of meta `x` and returns the geometry. */
function checkPool(op: string, x: Meta, attrs: PoolParams): PoolGeometry {
  if (x.shape.length !== 4 || !isFloat(x.dtype)) throw new ShapeError(op, `expected a 4-D NCHW floating input, got ${x.dtype}${formatShape(x.shape)}`);
  checkPair(op, "kernel", attrs.kernel, 1);
  checkPair(op, "stride", attrs.stride, 1);
  checkPair(op, "padding", attrs.padding, 0);
  checkPoolPadding(op, attrs);
  const g = poolGeometry(x.shape, attrs);
  if (g.OH < 1 || g.OW < 1) {
    throw new ShapeError(op, `the ${g.kh}x${g.kw} window (padding ${attrs.padding.join("x")}) does not fit the ${g.H}x${g.W} input ${formatShape(x.shape)}`);
  }
  return g;
}

const pooled = (x: Shape, g: PoolGeometry): Shape => [x[0], x[1], g.OH, g.OW];

/** Throws unless `t` is exactly `shape` in `dtype` (the cotangent or tensor a pooling gradient reads). */
function checkMeta(op: string, what: string, t: Meta, shape: Shape, dtype: string): void {
  if (!shapesEqual(t.shape, shape) || t.dtype !== dtype) {
    throw new ShapeError(op, `expected ${what} of ${dtype}${formatShape(shape)}, got ${t.dtype}${formatShape(t.shape)}`);
  }
}

type F = Float32Array | Float64Array;
const d = (v: View) => v.data as F;
const poolAttrs = ({ kernel, stride, padding }: PoolParams): Attrs["max_pool2d"] => ({ kernel, stride, padding });

/**
 * The reference kernels: per output element, every window position in row-major order with its
 * bounds checked, `f(output index, input index or -1 for padding)`.
 */
function eachWindow(x: Shape, attrs: PoolParams, f: (o: number, xi: number) => void): void {
  const [B, C, H, W] = x;
  const g = poolGeometry(x, attrs);
  for (let b = 0; b < B * C; b++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++)
        for (let i = 0; i < g.kh; i++)
          for (let j = 0; j < g.kw; j++) {
            const h = oh * g.sh - g.ph + i;
            const w = ow * g.sw - g.pw + j;
            f((b * g.OH + oh) * g.OW + ow, h < 0 || h >= H || w < 0 || w >= W ? -1 : (b * H + h) * W + w);
          }
}

/** Reference first-maximum index of each window (NaN wins, as in PyTorch). */
function referenceArgmax(x: View, attrs: PoolParams): Int32Array {
  const g = poolGeometry(x.shape, attrs);
  const arg = new Int32Array(x.shape[0] * x.shape[1] * g.OH * g.OW).fill(-1);
  eachWindow(x.shape, attrs, (o, xi) => {
    if (xi < 0) return;
    const cur = arg[o] < 0 ? NaN : x.data[arg[o]];
    const v = x.data[xi];
    if (arg[o] < 0 || (!Number.isNaN(cur) && (v > cur || Number.isNaN(v)))) arg[o] = xi;
  });
  return arg;
}

/** OpDefs of max and average pooling and their gradients. */
export const poolOps: OpTable<PoolPrim> = {
  max_pool2d: {
    kind: "conv",
    arity: 1,
    infer: ([x], attrs) => ({ shape: pooled(x.shape, checkPool("max_pool2d", x, attrs)), dtype: x.dtype }),
    kernel: ([x], out, attrs) => maxPool2dKernel(d(x), d(out), poolGeometry(x.shape, attrs)),
    reference: ([x], out, attrs) => referenceArgmax(x, attrs).forEach((xi, o) => (out.data[o] = xi < 0 ? -Infinity : x.data[xi])),
    vjp: (e, [x], _out, g, attrs) => [e.emit("max_pool2d_grad", [x, g], poolAttrs(attrs))],
  },
  max_pool2d_grad: {
    kind: "conv",
    arity: 2,
    infer: ([x, gy], attrs) => {
      checkMeta("max_pool2d_grad", "an output gradient", gy, pooled(x.shape, checkPool("max_pool2d_grad", x, attrs)), x.dtype);
      return { shape: x.shape, dtype: x.dtype };
    },
    kernel: ([x, gy], dx, attrs) => maxPool2dGradKernel(d(x), d(gy), d(dx), poolGeometry(x.shape, attrs)),
    reference: ([x, gy], dx, attrs) => {
      dx.data.fill(0);
      referenceArgmax(x, attrs).forEach((xi, o) => {
        if (xi >= 0) dx.data[xi] += gy.data[o];
      });
    },
    vjp: (e, [x], _out, c, attrs) => [null, e.emit("max_pool2d_select", [x, c], poolAttrs(attrs))],
  },
  max_pool2d_select: {
    kind: "conv",
    arity: 2,
    infer: ([x, c], attrs) => {
      const g = checkPool("max_pool2d_select", x, attrs);
      checkMeta("max_pool2d_select", "a tensor to select from", c, x.shape, x.dtype);
      return { shape: pooled(x.shape, g), dtype: x.dtype };
    },
    kernel: ([x, c], out, attrs) => maxPool2dSelectKernel(d(x), d(c), d(out), poolGeometry(x.shape, attrs)),
    reference: ([x, c], out, attrs) => referenceArgmax(x, attrs).forEach((xi, o) => (out.data[o] = xi < 0 ? 0 : c.data[xi])),
    vjp: (e, [x], _out, g, attrs) => [null, e.emit("max_pool2d_grad", [x, g], poolAttrs(attrs))],
  },
  avg_pool2d: {
    kind: "conv",
    arity: 1,
    infer: ([x], attrs) => ({ shape: pooled(x.shape, checkPool("avg_pool2d", x, attrs)), dtype: x.dtype }),
    kernel: ([x], out, attrs) => avgPool2dKernel(d(x), d(out), poolGeometry(x.shape, attrs)),
    reference: ([x], out, attrs) => {
      const acc = new Float64Array(out.data.length);
      eachWindow(x.shape, attrs, (o, xi) => (acc[o] += xi < 0 ? 0 : x.data[xi]));
      acc.forEach((v, o) => (out.data[o] = v / (attrs.kernel[0] * attrs.kernel[1])));
    },
    vjp: (e, [x], _out, g, attrs) => [e.emit("avg_pool2d_grad", [g], { ...poolAttrs(attrs), inputShape: e.meta(x).shape })],
  },
  avg_pool2d_grad: {
    kind: "conv",
    arity: 1,
    infer: ([gy], attrs) => {
      const x = { shape: attrs.inputShape, dtype: gy.dtype };
      checkMeta("avg_pool2d_grad", "an output gradient", gy, pooled(x.shape, checkPool("avg_pool2d_grad", x, attrs)), gy.dtype);
      return { shape: [...attrs.inputShape], dtype: gy.dtype };
    },
    kernel: ([gy], dx, attrs) => avgPool2dGradKernel(d(gy), d(dx), poolGeometry(attrs.inputShape, attrs)),
    reference: ([gy], dx, attrs) => {
      dx.data.fill(0);
      const div = attrs.kernel[0] * attrs.kernel[1];
      eachWindow(attrs.inputShape, attrs, (o, xi) => {
        if (xi >= 0) dx.data[xi] += gy.data[o] / div;
      });
    },
    vjp: (e, _in, _out, c, attrs) => [e.emit("avg_pool2d", [c], poolAttrs(attrs))],
  },
};
