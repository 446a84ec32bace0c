/**
 * The user-facing options of convolution and pooling layers, resolved once for both frontends:
 * PyTorch accepts an int or an (h, w) pair for every size, and pooling's stride defaults to its
 * kernel size. Also the Conv2d initialisation, which is nn.Linear's law over fan_in = in*kh*kw.
 */
import { DualgradError } from "./errors.js";
import { checkPoolPadding } from "./ops/pool.js";
import type { Attrs } from "./ops/prim.js";
import { fillLinearInit } from "./random/init.js";
import type { PhiloxGenerator } from "./random/philox.js";

/** An int (both axes) or a [height, width] pair, as PyTorch's `_pair` accepts. */
export type IntOrPair = number | readonly [number, number] | readonly number[];

/** `v` as a [height, width] pair of integers >= `min`, or a DualgradError naming `api` and `name`. */
export function toPair(api: string, name: string, v: IntOrPair, min: number): [number, number] {
  const pair = typeof v === "number" ? [v, v] : Array.isArray(v) ? [...v] : [];
  if (pair.length !== 2 || !pair.every((x) => Number.isSafeInteger(x) && x >= min)) {
    throw new DualgradError(`${api}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [pair[0], pair[1]];
}

/** Options of a 2-D convolution (PyTorch's names; groups = 1). */
export interface Conv2dOptions {
  stride?: IntOrPair;
  padding?: IntOrPair;
  dilation?: IntOrPair;
}

/** Options of a 2-D pooling layer; `stride` defaults to the kernel size, as in PyTorch. */
export interface Pool2dOptions {
  stride?: IntOrPair | null;
  padding?: IntOrPair;
}

/** The conv2d primitive's attributes for `options` (defaults: stride 1, padding 0, dilation 1). */
export function convAttrs(api: string, options: Conv2dOptions = {}): Attrs["conv2d"] {
  return {
    stride: toPair(api, "stride", options.stride ?? 1, 1),
    padding: toPair(api, "padding", options.padding ?? 0, 0),
    dilation: toPair(api, "dilation", options.dilation ?? 1, 1),
  };
}

/** The pooling primitives' attributes for a kernel size and `options`. */
export function poolAttrs(api: string, kernelSize: IntOrPair, options: Pool2dOptions = {}): Attrs["max_pool2d"] {
  const kernel = toPair(api, "kernel_size", kernelSize, 1);
  const attrs = {
    kernel,
    stride: options.stride == null ? kernel : toPair(api, "stride", options.stride, 1),
    padding: toPair(api, "padding", options.padding ?? 0, 0),
  };
  checkPoolPadding(api, attrs);
  return attrs;
}

/**
 * PyTorch's default `nn.Conv2d` initialisation: kaiming-uniform with a = sqrt(5) on the weight
 * `[out, in, kh, kw]` and U(±1/sqrt(fan_in)) on the bias, fan_in = in*kh*kw. Both bounds are
 * 1/sqrt(fan_in), exactly nn.Linear's law with `inFeatures = fan_in`, so this is
 * {@link fillLinearInit} over the flattened weight: the same draws in the same order (weight,
 * then bias on a fresh Philox block) on both frontends.
 */
export function fillConv2dInit(
  gen: PhiloxGenerator,
  weight: Float32Array | Float64Array,
  bias: Float32Array | Float64Array | null,
  inChannels: number,
  outChannels: number,
  kernel: readonly [number, number],
): void {
  fillLinearInit(gen, weight, bias, inChannels * kernel[0] * kernel[1], outChannels);
}

/**
 * Fills `out` with an inverted-dropout mask: each element is kept (1 / (1 - p)) with
 * probability 1 - p, else 0, from one `fillUniform` of `gen` (kept where u < 1 - p). p = 1 gives
 * all zeros; p = 0 all ones.
 */
export function fillDropoutMask(gen: PhiloxGenerator, out: Float32Array | Float64Array, p: number): void {
  checkDropoutP("dropout", p);
  gen.fillUniform(out, 0, 1);
  const keep = 1 - p;
  const scale = p === 1 ? 0 : 1 / keep;
  for (let i = 0; i < out.length; i++) out[i] = out[i] < keep ? scale : 0;
}

/** Throws unless 0 <= p <= 1 (PyTorch's check, same wording). */
export function checkDropoutP(api: string, p: number): void {
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new DualgradError(`${api}: dropout probability has to be between 0 and 1, but got ${String(p)}`);
}

/** The shape `torch.flatten(x, startDim, endDim)` gives (a rank-0 input becomes [1]). */
export function flattenShape(shape: readonly number[], startDim = 0, endDim = -1): number[] {
  const r = shape.length;
  if (r === 0) return [1];
  const s = startDim < 0 ? startDim + r : startDim;
  const e = endDim < 0 ? endDim + r : endDim;
  if (!(s >= 0 && e < r && s <= e)) throw new DualgradError(`flatten: start_dim ${startDim} and end_dim ${endDim} do not fit a rank-${r} tensor`);
  return [...shape.slice(0, s), shape.slice(s, e + 1).reduce((a, b) => a * b, 1), ...shape.slice(e + 1)];
}
