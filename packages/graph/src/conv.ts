import {
  convAttrs, flattenShape, initConv2d, poolAttrs, type Conv2dInitOptions, type Conv2dOptions, type IntOrPair, type Pool2dOptions,
} from "@dualgrad/core";
import { SymbolicTensor, op, read, type SymLike } from "./symbolic.js";
import { Variable } from "./variable.js";

/**
 * Convolution and pooling for traced code, with the op sequences the eager frontend runs
 * (conv2d, then the bias reshaped to [K,1,1] and added), so the two agree bitwise with fusion off.
 * Channels first (NCHW, weight `[out, in, kh, kw]`): PyTorch's layout, so weights move between
 * the frontends and PyTorch unchanged.
 */

const sym = (v: Variable | SymbolicTensor): SymbolicTensor => (v instanceof Variable ? read(v) : v);

/** 2-D convolution (groups = 1): x `[B,C,H,W]`, weight `[K,C,kh,kw]`, optional bias `[K]`. */
export function conv2d(x: SymLike, weight: Variable | SymbolicTensor, bias: Variable | SymbolicTensor | null = null, options: Conv2dOptions = {}): SymbolicTensor {
  const y = op("conv2d", [x, sym(weight)], convAttrs("conv2d", options));
  if (!bias) return y;
  const b = sym(bias);
  return y.add(b.reshape([b.size, 1, 1]));
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
  return x.reshape(flattenShape(x.shape, startDim, endDim));
}

/** Options of {@link Conv2d}. */
export interface Conv2dLayerOptions extends Conv2dInitOptions {
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
    ({ weight: this.weight, bias: this.bias, kernelSize: this.kernelSize, attrs: this.options } = initConv2d(
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
