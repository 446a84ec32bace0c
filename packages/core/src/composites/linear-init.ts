import type { DType, TypedArray } from "../dtype.js";
import { defaultGenerator, type PhiloxGenerator } from "../random/philox.js";
import { fillLinearInit } from "../random/init.js";
import type { Shape } from "../shape.js";

/** Options of a linear layer's parameters, shared by both frontends' `Linear`. */
export interface LinearInitOptions {
  /** Whether the layer has a bias (default true). */
  bias?: boolean;
  /** Parameter dtype (default float32). */
  dtype?: DType;
  /** Source of the initial values (default: the global generator, see `manualSeed`). */
  generator?: PhiloxGenerator;
}

/**
 * Creates a linear layer's parameters with PyTorch's `nn.Linear` initialisation: weight
 * `[out, in]` by kaiming-uniform with a = sqrt(5), i.e. U(±1/sqrt(in)), then bias `[out]` from
 * U(±1/sqrt(in)), drawn in that order (see {@link fillLinearInit}). `make` allocates one
 * parameter in the frontend's own form (an eager tensor, a graph variable); the same generator
 * state therefore gives both frontends bitwise-identical parameters.
 */
export function initLinear<P extends { readonly data: TypedArray }>(
  inFeatures: number,
  outFeatures: number,
  options: LinearInitOptions,
  make: (role: "weight" | "bias", shape: Shape, dtype: DType) => P,
): { weight: P; bias: P | null } {
  const dtype = options.dtype ?? "float32";
  const weight = make("weight", [outFeatures, inFeatures], dtype);
  const bias = options.bias === false ? null : make("bias", [outFeatures], dtype);
  fillLinearInit(
    options.generator ?? defaultGenerator,
    weight.data as Float32Array | Float64Array,
    bias ? (bias.data as Float32Array | Float64Array) : null,
    inFeatures,
    outFeatures,
  );
  return { weight, bias };
}
