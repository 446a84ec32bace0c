import { DualgradError, composites as C } from "@dualgrad/core";
import type { GraphBuilder } from "./builder.js";
import { SymbolicTensor, composite, type SymLike } from "./symbolic.js";

/**
 * Keras's loss objects (`tf.keras.losses.*`) for traced code. They take Keras's argument order,
 * `loss.call(yTrue, yPred)` (the opposite of PyTorch's and of {@link mseLoss}'s), and return the
 * mean loss over the batch (Keras's default reduction). The math is core's composites, which the
 * eager frontend runs too; `MeanSquaredError` is exactly `mseLoss(yPred, yTrue)`.
 */

/** Options of the cross-entropy losses. */
export interface CrossentropyOptions {
  /** Whether `yPred` holds logits (true) or probabilities (false, Keras's default). */
  fromLogits?: boolean;
}

/** A Keras-style loss object: {@link Loss.call} gives the scalar mean loss. */
export abstract class Loss {
  /** Keras's name of the loss (`mean_squared_error`, ...). */
  abstract readonly name: string;

  /**
   * The mean loss of predictions `yPred` against targets `yTrue`, inside a traced function:
   * what Keras's `loss_fn(y_true, y_pred)` returns (JavaScript objects cannot be called).
   */
  call(yTrue: SymLike, yPred: SymbolicTensor): SymbolicTensor {
    if (!(yPred instanceof SymbolicTensor)) {
      throw new DualgradError(`${this.constructor.name}.call(yTrue, yPred): yPred must be a symbolic tensor (Keras's order: targets first, predictions second)`);
    }
    return composite([yPred, yTrue], (b, [p, t]) => this.emit(b, p, t));
  }

  /** Emits the loss of predictions `p` against targets `t` (value ids) with core's composites. */
  protected abstract emit(b: GraphBuilder, p: number, t: number): number;
}

/** `tf.keras.losses.MeanSquaredError`: mean((yPred - yTrue)^2); shapes must match. */
export class MeanSquaredError extends Loss {
  readonly name = "mean_squared_error";
  protected emit(b: GraphBuilder, p: number, t: number): number {
    return C.mseLoss(b, p, t);
  }
}

/** The cross-entropies: predictions are logits or probabilities, by `fromLogits`. */
export abstract class Crossentropy extends Loss {
  /** Whether predictions are logits (else probabilities). */
  readonly fromLogits: boolean;
  constructor(options: CrossentropyOptions = {}) {
    super();
    const v = options.fromLogits ?? false;
    if (typeof v !== "boolean") throw new DualgradError(`${this.constructor.name}: fromLogits must be a boolean, got ${String(v)}`);
    this.fromLogits = v;
  }
}

/** `tf.keras.losses.BinaryCrossentropy`: targets in [0, 1] shaped like `yPred`; probabilities (clipped as Keras) or, with `fromLogits`, logits. */
export class BinaryCrossentropy extends Crossentropy {
  readonly name = "binary_crossentropy";
  protected emit(b: GraphBuilder, p: number, t: number): number {
    return this.fromLogits ? C.bceWithLogits(b, p, t) : C.binaryCrossEntropy(b, p, t);
  }
}

/** `tf.keras.losses.CategoricalCrossentropy`: one-hot (or probability) targets `[B, C]` against `yPred` `[B, C]`. */
export class CategoricalCrossentropy extends Crossentropy {
  readonly name = "categorical_crossentropy";
  protected emit(b: GraphBuilder, p: number, t: number): number {
    if (b.meta(t).dtype === "int32") {
      throw new DualgradError("CategoricalCrossentropy: targets must be one-hot probabilities [B, C]; for int32 class labels use SparseCategoricalCrossentropy");
    }
    return this.fromLogits ? C.softmaxCrossEntropy(b, p, t) : C.categoricalCrossEntropy(b, p, t);
  }
}

/** `tf.keras.losses.SparseCategoricalCrossentropy`: int32 class labels `[B]` against `yPred` `[B, C]`. */
export class SparseCategoricalCrossentropy extends Crossentropy {
  readonly name = "sparse_categorical_crossentropy";
  protected emit(b: GraphBuilder, p: number, t: number): number {
    if (b.meta(t).dtype !== "int32") throw new DualgradError(`SparseCategoricalCrossentropy: labels must be int32 class indices [B], got ${b.meta(t).dtype}`);
    return this.fromLogits ? C.sparseSoftmaxCrossEntropy(b, p, t) : C.categoricalCrossEntropy(b, p, t);
  }
}

/** The loss classes, as the `tf.keras.losses` namespace. */
export const losses = { MeanSquaredError, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy };
