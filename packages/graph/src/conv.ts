import { composites as C, convAttrs, poolAttrs, type Conv2dOptions, type IntOrPair, type Pool2dOptions } from "@dualgrad/core";
import { composite, op, type SymbolicTensor, type SymLike } from "./symbolic.js";
import { Variable } from "./variable.js";

/**
 * Convolution and pooling for traced code: thin adapters over core's composites, which the eager
 * frontend runs too, so the two agree bitwise with fusion off.
 * Channels first (NCHW, weight `[out, in, kh, kw]`): PyTorch's layout, so weights move between
 * the frontends and PyTorch unchanged.
 */

/** 2-D convolution (groups = 1): x `[B,C,H,W]`, weight `[K,C,kh,kw]`, optional bias `[K]` (core's conv2d composite). */
export function conv2d(x: SymLike, weight: Variable | SymbolicTensor, bias: Variable | SymbolicTensor | null = null, options: Conv2dOptions = {}): SymbolicTensor {
  const attrs = convAttrs("conv2d", options);
  return bias === null
    ? composite([x, weight], (b, [xi, w]) => C.conv2d(b, xi, w, null, attrs))
    : composite([x, weight, bias], (b, [xi, w, bi]) => C.conv2d(b, xi, w, bi, attrs));
}

/** Max pooling; the gradient goes to each window's first maximum (as PyTorch). */
export function maxPool2d(x: SymLike, kernelSize: IntOrPair, options: Pool2dOptions = {}): SymbolicTensor {
  return op("max_pool2d", [x], poolAttrs("max_pool2d", kernelSize, options));
}

/** Average pooling with the padding counted (PyTorch's `count_include_pad=True`). */
export function avgPool2d(x: SymLike, kernelSize: IntOrPair, options: Pool2dOptions = {}): SymbolicTensor {
  return op("avg_pool2d", [x], poolAttrs("avg_pool2d", kernelSize, options));
}

/** Flattens dims `startDim..endDim` into one (`torch.flatten`; default keeps the batch dim). */
export function flatten(x: SymbolicTensor, startDim = 1, endDim = -1): SymbolicTensor {
  return composite([x], (b, [xi]) => C.flatten(b, xi, startDim, endDim));
}

/** Options of {@link Conv2d}. */
export interface Conv2dLayerOptions extends C.Conv2dInitOptions {
  /** Prefix for the variables' names. */
  name?: string;
}

/** A convolution's parameters as variables, initialised like PyTorch's `nn.Conv2d` (the same draws as eager's). */
export class Conv2d {
  readonly weight: Variable;
  readonly bias: Variable | null;
  readonly kernelSize: [number, number];
  readonly options: Conv2dOptions;
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: IntOrPair, options: Conv2dLayerOptions = {}) {
    const name = options.name ?? "conv2d";
    ({ weight: this.weight, bias: this.bias, kernelSize: this.kernelSize, attrs: this.options } = C.initConv2d(
      inChannels, outChannels, kernelSize, options, (role, shape, dtype) => new Variable(shape, dtype, { name: `${name}.${role}` }),
    ));
  }

  /** Applies the layer inside a trace. */
  forward(x: SymLike): SymbolicTensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }

  /** The layer's variables (weight, then bias). */
  parameters(): Variable[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }
}
