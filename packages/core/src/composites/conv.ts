import type { DType, TypedArray } from "../dtype.js";
import { convAttrs, fillConv2dInit, flattenShape, toPair, type Conv2dOptions, type IntOrPair } from "../conv-options.js";
import type { Attrs, Emitter } from "../ops/prim.js";
import { defaultGenerator, type PhiloxGenerator } from "../random/philox.js";
import { add } from "./arith.js";

/**
 * PyTorch's `F.conv2d` (groups = 1): the conv2d primitive, then the bias `[K]` reshaped to
 * `[K, 1, 1]` and added, broadcasting over the batch and the positions.
 *
 * With `fuseBias`, a bias is added inside the convolution instead (the `conv2d_bias` primitive,
 * same bits): eager asks for it, since it runs each op as it comes and one kernel beats a
 * convolution and a second pass over its output. The graph does not: its compiler sees the add
 * and whatever follows it (the activation) and fuses both into the convolution's store.
 */
export function conv2d<T>(e: Emitter<T>, x: T, weight: T, bias: T | null, attrs: Attrs["conv2d"], fuseBias = false): T {
  if (bias !== null && fuseBias) return e.emit("conv2d_bias", [x, weight, bias], attrs);
  const y = e.emit("conv2d", [x, weight], attrs);
  if (bias === null) return y;
  const k = e.meta(bias).shape.reduce((a, b) => a * b, 1);
  return add(e, y, e.emit("reshape", [bias], { shape: [k, 1, 1] }));
}

/** `torch.flatten(x, startDim, endDim)`: a reshape. */
export function flatten<T>(e: Emitter<T>, x: T, startDim = 0, endDim = -1): T {
  return e.emit("reshape", [x], { shape: flattenShape(e.meta(x).shape, startDim, endDim) });
}

/** Options of a Conv2d layer's parameters, shared by both frontends' `Conv2d`. */
export interface Conv2dInitOptions extends Conv2dOptions {
  /** Whether the layer has a bias (default true). */
  bias?: boolean;
  /** Parameter dtype (default float32). */
  dtype?: DType;
  /** Source of the initial values (default: the global generator, see `manualSeed`). */
  generator?: PhiloxGenerator;
}

/**
 * Validates a Conv2d layer's arguments and creates its parameters with {@link fillConv2dInit}:
 * weight `[out, in, kh, kw]`, then bias `[out]` unless `bias: false`. `make` allocates one
 * parameter in the frontend's own form (an eager tensor, a graph variable), so the same generator
 * state gives both frontends bitwise-identical parameters. Returns them with the resolved kernel
 * size and the conv2d primitive's attributes.
 */
export function initConv2d<P extends { readonly data: TypedArray }>(
  inChannels: number,
  outChannels: number,
  kernelSize: IntOrPair,
  options: Conv2dInitOptions,
  make: (role: "weight" | "bias", shape: number[], dtype: DType) => P,
): { weight: P; bias: P | null; kernelSize: [number, number]; attrs: Attrs["conv2d"] } {
  const kernel = toPair("Conv2d", "kernel_size", kernelSize, 1);
  toPair("Conv2d", "in_channels", inChannels, 1);
  toPair("Conv2d", "out_channels", outChannels, 1);
  const attrs = convAttrs("Conv2d", options);
  const dtype = options.dtype ?? "float32";
  const weight = make("weight", [outChannels, inChannels, ...kernel], dtype);
  const bias = options.bias === false ? null : make("bias", [outChannels], dtype);
  fillConv2dInit(
    options.generator ?? defaultGenerator,
    weight.data as Float32Array | Float64Array,
    bias ? (bias.data as Float32Array | Float64Array) : null,
    inChannels,
    outChannels,
    kernel,
  );
  return { weight, bias, kernelSize: kernel, attrs };
}

