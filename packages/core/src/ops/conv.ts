import { isFloat } from "../dtype.js";
import { ShapeError } from "../errors.js";
import { formatShape, shapesEqual, type Shape } from "../shape.js";
import {
  conv2dFast, conv2dGradInputFast, conv2dGradInputReference, conv2dGradWeightFast, conv2dGradWeightReference,
  conv2dReference, convGeometry, type ConvGeometry, type ConvParams,
} from "../kernels/conv.js";
import type { Attrs, Meta, OpTable, View } from "./prim.js";

/**
 * The convolution primitives. `conv2d` is the one users call; its two gradients are primitives
 * of their own because neither is a convolution in the forward sense (one is transposed, one
 * reduces over the batch). The three are closed under differentiation: each one's VJP is built
 * from the other two, so gradients of any order stay in the set.
 */
export type ConvPrim = "conv2d" | "conv2d_grad_input" | "conv2d_grad_weight";

/** Throws unless `v` is a pair of integers >= `min` (stride, padding, dilation, kernel size). */
export function checkPair(op: string, name: string, v: readonly number[] | undefined, min: number): void {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= min)) {
    throw new ShapeError(op, `${name} must be two integers >= ${min} ([height, width]), got ${JSON.stringify(v)}`);
  }
}

/** Validates `conv2d(x, w)` and returns its geometry; every message names the op and both shapes. */
function checkConv(op: string, x: Meta, w: Meta, attrs: ConvParams): ConvGeometry {
  const shapes = `input ${x.dtype}${formatShape(x.shape)}, weight ${w.dtype}${formatShape(w.shape)}`;
  if (x.shape.length !== 4 || w.shape.length !== 4) {
    throw new ShapeError(op, `expected a 4-D NCHW input and a 4-D [out, in, kh, kw] weight, got ${shapes}`);
  }
  if (x.dtype !== w.dtype || !isFloat(x.dtype)) throw new ShapeError(op, `expected two inputs of the same floating dtype, got ${shapes}`);
  if (x.shape[1] !== w.shape[1]) {
    throw new ShapeError(op, `input has ${x.shape[1]} channels but the weight expects ${w.shape[1]} (groups = 1), got ${shapes}`);
  }
  checkPair(op, "stride", attrs.stride, 1);
  checkPair(op, "padding", attrs.padding, 0);
  checkPair(op, "dilation", attrs.dilation, 1);
  const g = convGeometry(x.shape, w.shape, attrs);
  if (g.OH < 1 || g.OW < 1) {
    throw new ShapeError(op, `the ${g.kh}x${g.kw} kernel (dilation ${attrs.dilation.join("x")}, padding ${attrs.padding.join("x")}) does not fit the ${g.H}x${g.W} input, got ${shapes}`);
  }
  return g;
}

const outShape = (g: ConvGeometry): Shape => [g.B, g.K, g.OH, g.OW];

/** Throws unless the cotangent `gy` has the shape conv2d gives for these shapes. */
function checkCotangent(op: string, gy: Meta, g: ConvGeometry, dtype: string): void {
  if (!shapesEqual(gy.shape, outShape(g)) || gy.dtype !== dtype) {
    throw new ShapeError(op, `expected a ${dtype}${formatShape(outShape(g))} output gradient, got ${gy.dtype}${formatShape(gy.shape)}`);
  }
}

type F = Float32Array | Float64Array;
const d = (v: View) => v.data as F;

/** The conv attributes alone (the gradient primitives add a shape to them). */
const convAttrs = ({ stride, padding, dilation }: ConvParams): Attrs["conv2d"] => ({ stride, padding, dilation });

/** OpDefs of conv2d and its two gradients. */
export const convOps: OpTable<ConvPrim> = {
  conv2d: {
    kind: "conv",
    arity: 2,
    infer: ([x, w], attrs) => ({ shape: outShape(checkConv("conv2d", x, w, attrs)), dtype: x.dtype }),
    kernel: ([x, w], out, attrs) => conv2dFast(d(x), d(w), d(out), convGeometry(x.shape, w.shape, attrs)),
    reference: ([x, w], out, attrs) => conv2dReference(d(x), d(w), d(out), convGeometry(x.shape, w.shape, attrs)),
    vjp: (e, [x, w], _out, g, attrs, wants = [true, true]) => [
      wants[0] ? e.emit("conv2d_grad_input", [g, w], { ...convAttrs(attrs), inputShape: e.meta(x).shape }) : null,
      wants[1] ? e.emit("conv2d_grad_weight", [x, g], { ...convAttrs(attrs), weightShape: e.meta(w).shape }) : null,
    ],
  },
  conv2d_grad_input: {
    kind: "conv",
    arity: 2,
    infer: ([gy, w], attrs) => {
      const g = checkConv("conv2d_grad_input", { shape: attrs.inputShape, dtype: w.dtype }, w, attrs);
      checkCotangent("conv2d_grad_input", gy, g, w.dtype);
      return { shape: [...attrs.inputShape], dtype: w.dtype };
    },
    kernel: ([gy, w], dx, attrs) => conv2dGradInputFast(d(gy), d(w), d(dx), convGeometry(attrs.inputShape, w.shape, attrs)),
    reference: ([gy, w], dx, attrs) => conv2dGradInputReference(d(gy), d(w), d(dx), convGeometry(attrs.inputShape, w.shape, attrs)),
    // <grad_input(gy, w), c> = <conv2d(c, w), gy>: linear in gy and in w separately.
    vjp: (e, [gy, w], _out, c, attrs, wants = [true, true]) => [
      wants[0] ? e.emit("conv2d", [c, w], convAttrs(attrs)) : null,
      wants[1] ? e.emit("conv2d_grad_weight", [c, gy], { ...convAttrs(attrs), weightShape: e.meta(w).shape }) : null,
    ],
  },
  conv2d_grad_weight: {
    kind: "conv",
    arity: 2,
    infer: ([x, gy], attrs) => {
      const g = checkConv("conv2d_grad_weight", x, { shape: attrs.weightShape, dtype: x.dtype }, attrs);
      checkCotangent("conv2d_grad_weight", gy, g, x.dtype);
      return { shape: [...attrs.weightShape], dtype: x.dtype };
    },
    kernel: ([x, gy], dw, attrs) => conv2dGradWeightFast(d(x), d(gy), d(dw), convGeometry(x.shape, attrs.weightShape, attrs)),
    reference: ([x, gy], dw, attrs) => conv2dGradWeightReference(d(x), d(gy), d(dw), convGeometry(x.shape, attrs.weightShape, attrs)),
    // <grad_weight(x, gy), c> = <conv2d(x, c), gy>.
    vjp: (e, [x, gy], _out, c, attrs, wants = [true, true]) => [
      wants[0] ? e.emit("conv2d_grad_input", [gy, c], { ...convAttrs(attrs), inputShape: e.meta(x).shape }) : null,
      wants[1] ? e.emit("conv2d", [x, c], convAttrs(attrs)) : null,
    ],
  },
};
