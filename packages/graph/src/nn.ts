import { composites as C } from "@dualgrad/core";
import { composite, type SymbolicTensor, type SymLike } from "./symbolic.js";
import { Variable } from "./variable.js";

/**
 * Layers and losses for traced code: thin adapters over core's composites, which the eager
 * frontend runs too, so with fusion off the two frontends compute bitwise identical results.
 */

/** y = x W^T + b with W `[out, in]` (PyTorch's layout); the transpose is a matmul flag. */
export function linear(x: SymLike, weight: Variable | SymbolicTensor, bias: Variable | SymbolicTensor | null = null): SymbolicTensor {
  return bias === null ? composite([x, weight], (b, [xi, w]) => C.linear(b, xi, w)) : composite([x, weight, bias], (b, [xi, w, bi]) => C.linear(b, xi, w, bi));
}

/** mean((input - target)^2); a number target stands for a tensor of input's shape filled with it. */
export function mseLoss(input: SymbolicTensor, target: SymLike): SymbolicTensor {
  return composite([input, target], (b, [x, t]) => {
    const full = typeof target === "number" ? b.emit("broadcast_to", [t], { shape: input.shape }) : t;
    return C.mseLoss(b, x, full);
  });
}

/** Softmax cross-entropy for logits `[B, C]` against int32 labels `[B]` or class probabilities `[B, C]`, mean reduction. */
export function crossEntropy(logits: SymbolicTensor, labels: SymbolicTensor): SymbolicTensor {
  return composite([logits, labels], (b, [l, y]) => C.crossEntropy(b, l, y));
}

/** Binary cross-entropy on logits (TF's `sigmoid_cross_entropy_with_logits`), mean reduction; targets in [0, 1], input's shape. */
export function binaryCrossEntropyWithLogits(logits: SymbolicTensor, target: SymLike): SymbolicTensor {
  return composite([logits, target], (b, [l, t]) => C.bceWithLogits(b, l, t));
}

/** Options of {@link Linear}: `bias`, `dtype`, `generator`, and `name`, the variables' name prefix. */
export type LinearOptions = C.LinearInitOptions & { name?: string };

/** A dense layer's parameters as variables, initialised like PyTorch's `nn.Linear` (same generator draws as eager). */
export class Linear {
  readonly weight: Variable;
  readonly bias: Variable | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    const name = options.name ?? "linear";
    ({ weight: this.weight, bias: this.bias } = C.initLinear(inFeatures, outFeatures, options, (role, shape, dtype) => new Variable(shape, dtype, { name: `${name}.${role}` })));
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
