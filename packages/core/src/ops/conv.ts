import { isFloat } from "../dtype.js";
import { ShapeError } from "../errors.js";
import { formatShape, shapesEqual, type Shape } from "../shape.js";
import {
  conv2dFast, conv2dGradInputFast, conv2dGradInputReference, conv2dGradWeightFast, conv2dGradWeightReference,
  conv2dReference, convGeometry, type ConvGeometry, type ConvParams,
} from "../kernels/conv.js";
import { compileConvEpilogue, type ConvEpilogueKernel } from "../kernels/gemm-epilogue.js";
import type { DType } from "../dtype.js";
import type { ElementwiseProgram } from "./elementwise-types.js";
import type { Attrs, Meta, OpTable, View } from "./prim.js";

/**
 * The convolution primitives. `conv2d` is the one users call; its two gradients are primitives
 * of their own because neither is a convolution in the forward sense (one is transposed, one
 * reduces over the batch). The three are closed under differentiation: each one's VJP is built
 * from the other two, so gradients of any order stay in the set.
 *
 * `conv2d_bias` is conv2d with its bias added per output channel in the same kernel, as
 * PyTorch's `conv2d(x, w, b)` is one call: eager runs a layer with a bias as this one op (one
 * launch, no second pass over the output). Its result is bitwise conv2d's followed by the
 * broadcast add, and its VJP is conv2d's plus the bias's sum over batch and positions, so it
 * gives the graph's bits, where the compiler fuses the same add (and the activation after it)
 * into the convolution's store instead (see the composite in ../composites/conv.ts).
 */
export type ConvPrim = "conv2d" | "conv2d_bias" | "conv2d_grad_input" | "conv2d_grad_weight";

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

/** Throws unless `b` is a bias of `K` values of the convolution's dtype. */
function checkBias(op: string, b: Meta, K: number, dtype: DType): void {
  if (b.shape.length !== 1 || b.shape[0] !== K || b.dtype !== dtype) {
    throw new ShapeError(op, `expected a ${dtype}[${K}] bias (one value per output channel), got ${b.dtype}${formatShape(b.shape)}`);
  }
}

/** The bias-add as an elementwise program: the convolution's value plus operand 1 (the bias, per channel). */
function biasProgram(dtype: DType): ElementwiseProgram {
  return { ops: [{ prim: "add", attrs: {}, operands: [{ from: "in", index: 0 }, { from: "in", index: 1 }], dtype }] } as ElementwiseProgram;
}

/**
 * Compiled conv2d_bias kernels by dtype and output shape. A network has a handful of
 * convolution geometries, each compiled once (the direct kernel's variant and the gemm's are
 * cached inside core by program and layout as well); the table is bounded so that a program
 * sweeping many shapes does not keep every kernel forever.
 */
const biasKernels = new Map<string, ConvEpilogueKernel>();
const MAX_BIAS_KERNELS = 64;

function biasKernel(out: Meta): ConvEpilogueKernel {
  const key = `${out.dtype}[${out.shape.join(",")}]`;
  let k = biasKernels.get(key);
  if (k === undefined) {
    if (biasKernels.size >= MAX_BIAS_KERNELS) biasKernels.delete(biasKernels.keys().next().value!);
    k = compileConvEpilogue(biasProgram(out.dtype), out.shape, out.dtype, [[out.shape[1], 1, 1]]);
    biasKernels.set(key, k);
  }
  return k;
}

/** OpDefs of conv2d, conv2d with a bias, and the two gradients. */
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
  conv2d_bias: {
    kind: "conv",
    arity: 3,
    infer: ([x, w, b], attrs) => {
      // Named as the op users call (F.conv2d / Conv2d with a bias), not the fused primitive.
      const g = checkConv("conv2d", x, w, attrs);
      checkBias("conv2d", b, g.K, x.dtype);
      return { shape: outShape(g), dtype: x.dtype };
    },
    // The bias is the epilogue's per-channel operand: [K] and [K, 1, 1] hold the same values.
    kernel: ([x, w, b], out, attrs) => biasKernel(out)([x, w, { data: b.data, shape: [b.shape[0], 1, 1] }], out, attrs),
    reference: ([x, w, b], out, attrs) => {
      const g = convGeometry(x.shape, w.shape, attrs);
      conv2dReference(d(x), d(w), d(out), g);
      const o = d(out), bias = d(b), plane = g.OH * g.OW;
      for (let i = 0; i < o.length; i++) o[i] += bias[Math.floor(i / plane) % g.K];
    },
    // conv2d's rule, and the bias's: the sum of the cotangent over batch and positions, the one
    // reduction (same axes, same order) the graph's add-of-a-[K,1,1]-bias rule runs.
    vjp: (e, [x, w], _out, g, attrs, wants = [true, true, true]) => [
      wants[0] ? e.emit("conv2d_grad_input", [g, w], { ...convAttrs(attrs), inputShape: e.meta(x).shape }) : null,
      wants[1] ? e.emit("conv2d_grad_weight", [x, g], { ...convAttrs(attrs), weightShape: e.meta(w).shape }) : null,
      wants[2] ? e.emit("sum", [g], { axes: [0, 2, 3], keepdims: false }) : null,
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
