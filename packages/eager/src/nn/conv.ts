import {
  composites as C, convAttrs, defaultGenerator, fillDropoutMask, checkDropoutP, poolAttrs,
  type Conv2dOptions, type PhiloxGenerator, type IntOrPair, type Pool2dOptions,
} from "@dualgrad/core";
import { zeros } from "../factories.js";
import * as F from "../ops.js";
import type { Tensor } from "../tensor.js";
import { Module, parameter } from "./module.js";

/**
 * Convolutional layers with PyTorch's names, layouts and defaults: NCHW activations, weight
 * `[out, in, kh, kw]`, bias `[out]`, pooling stride defaulting to its kernel size.
 */

/** Options of {@link Conv2d}: the convolution's, plus `bias`, `dtype` and the init `generator` (default: the global one). */
export type Conv2dLayerOptions = C.Conv2dInitOptions;

/**
 * Functional 2-D convolution, `torch.nn.functional.conv2d` (groups = 1): x `[B, C, H, W]`,
 * weight `[K, C, kh, kw]`, optional bias `[K]` added per output channel, in the same kernel
 * (core's `conv2d_bias`: one launch and one tape node, as PyTorch's conv2d).
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const attrs = convAttrs("conv2d", options);
  return F.composite((e) => C.conv2d(e, x, weight, bias, attrs, true));
}

/** Functional max pooling (`F.max_pool2d`); the gradient goes to each window's first maximum. */
export function maxPool2d(x: Tensor, kernelSize: IntOrPair, options: Pool2dOptions = {}): Tensor {
  return F.apply("max_pool2d", [x], poolAttrs("max_pool2d", kernelSize, options));
}

/** Functional average pooling (`F.avg_pool2d`, `count_include_pad=True`). */
export function avgPool2d(x: Tensor, kernelSize: IntOrPair, options: Pool2dOptions = {}): Tensor {
  return F.apply("avg_pool2d", [x], poolAttrs("avg_pool2d", kernelSize, options));
}

/** Flattens dims `startDim..endDim` into one (`torch.flatten`; nn.Flatten uses startDim 1). */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  return F.composite((e) => C.flatten(e, x, startDim, endDim));
}

/**
 * Inverted dropout (`F.dropout`): with `training`, zeroes each element with probability `p` and
 * scales the rest by 1/(1-p), the mask drawn from `generator` (core's Philox); without, returns x.
 */
export function dropout(x: Tensor, p = 0.5, training = true, generator: PhiloxGenerator = defaultGenerator): Tensor {
  checkDropoutP("dropout", p);
  if (!training || p === 0) return F.mul(x, 1);
  const mask = zeros(x.shape, { dtype: x.dtype });
  try {
    fillDropoutMask(generator, mask.data as Float32Array | Float64Array, p);
    return F.mul(x, mask);
  } finally {
    mask.dispose();
  }
}

/** `nn.Conv2d(in, out, kernelSize, { stride, padding, dilation, bias })` with PyTorch's init. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  private readonly options: Conv2dOptions;
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: IntOrPair, options: Conv2dLayerOptions = {}) {
    super();
    ({ weight: this.weight, bias: this.bias, kernelSize: this.kernelSize, attrs: this.options } = C.initConv2d(
      inChannels, outChannels, kernelSize, options, (_, shape, dtype) => parameter(zeros(shape, { dtype })),
    ));
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

/** `nn.MaxPool2d(kernelSize, { stride, padding })`. */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: IntOrPair, readonly options: Pool2dOptions = {}) {
    super();
    poolAttrs("MaxPool2d", kernelSize, options);
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.options);
  }
}

/** `nn.AvgPool2d(kernelSize, { stride, padding })` (`count_include_pad=True`). */
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: IntOrPair, readonly options: Pool2dOptions = {}) {
    super();
    poolAttrs("AvgPool2d", kernelSize, options);
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.options);
  }
}

/** `nn.Flatten()`: every dim from 1 on into one, keeping the batch. */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}

/** `nn.Dropout(p)`: active in training mode (`train()`), the identity after `eval()`. */
export class Dropout extends Module {
  constructor(readonly p = 0.5, readonly options: { generator?: PhiloxGenerator } = {}) {
    super();
    checkDropoutP("Dropout", p);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.options.generator ?? defaultGenerator);
  }
}

