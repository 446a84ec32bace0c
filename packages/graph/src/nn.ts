import { DualgradError, defaultGenerator, fillLinearInit, formatShape, type DType, type Generator } from "@dualgrad/core";
import { SymbolicTensor, matmul, read, type SymLike } from "./symbolic.js";
import { Variable } from "./variable.js";

/**
 * Layers and losses for traced code. They emit exactly the op sequences the eager frontend
 * runs (matmul with transB, then add; sub, pow 2, mean; log_softmax, one_hot, mul, sum, mean,
 * neg), so with fusion off the two frontends compute bitwise identical results.
 */

/** y = x W^T + b with W `[out, in]` (PyTorch's layout); the transpose is a matmul flag. */
export function linear(x: SymLike, weight: Variable | SymbolicTensor, bias: Variable | SymbolicTensor | null = null): SymbolicTensor {
  const y = matmul(x, weight instanceof Variable ? read(weight) : weight, { transB: true });
  return bias ? y.add(bias) : y;
}

/** mean((input - target)^2) */
export function mseLoss(input: SymbolicTensor, target: SymLike): SymbolicTensor {
  if (target instanceof SymbolicTensor && formatShape(input.shape) !== formatShape(target.shape)) {
    throw new DualgradError(`mseLoss: input ${formatShape(input.shape)} and target ${formatShape(target.shape)} must have the same shape`);
  }
  return input.sub(target).pow(2).mean();
}

/** Softmax cross-entropy over int32 labels `[B]` for logits `[B, C]`, mean reduction. */
export function crossEntropy(logits: SymbolicTensor, labels: SymbolicTensor): SymbolicTensor {
  if (logits.ndim !== 2 || labels.ndim !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new DualgradError(`crossEntropy: expected logits [B,C] and labels [B], got ${formatShape(logits.shape)} and ${formatShape(labels.shape)}`);
  }
  if (labels.dtype !== "int32") throw new DualgradError(`crossEntropy: labels must be int32 class indices, got ${labels.dtype}`);
  const logp = logits.logSoftmax(-1);
  const onehot = labels.oneHot(logits.shape[1], logits.dtype);
  return logp.mul(onehot).sum({ axis: -1 }).mean().neg();
}

/** Options of {@link Linear}. */
export interface LinearOptions {
  bias?: boolean;
  dtype?: DType;
  generator?: Generator;
  /** Prefix for the variables' names. */
  name?: string;
}

/** A dense layer's parameters as variables, initialised like PyTorch's `nn.Linear` (same generator draws as eager). */
export class Linear {
  readonly weight: Variable;
  readonly bias: Variable | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    const dtype = options.dtype ?? "float32";
    const name = options.name ?? "linear";
    this.weight = new Variable([outFeatures, inFeatures], dtype, { name: `${name}.weight` });
    this.bias = options.bias === false ? null : new Variable([outFeatures], dtype, { name: `${name}.bias` });
    fillLinearInit(
      options.generator ?? defaultGenerator,
      this.weight.data as Float32Array | Float64Array,
      this.bias ? (this.bias.data as Float32Array | Float64Array) : null,
      inFeatures,
      outFeatures,
    );
  }

  /** Applies the layer inside a trace. */
  forward(x: SymLike): SymbolicTensor {
    return linear(x, this.weight, this.bias);
  }

  /** The layer's variables. */
  parameters(): Variable[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }
}
