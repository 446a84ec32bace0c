import { DualgradError, composites as C } from "@dualgrad/core";
import { composite } from "../ops.js";
import type { Tensor } from "../tensor.js";
import { Module } from "./module.js";

/** mean((input - target)^2), like `F.mse_loss` with mean reduction. */
export const mseLoss = (input: Tensor, target: Tensor): Tensor => composite((e) => C.mseLoss(e, input, target));

/**
 * Softmax cross-entropy with mean reduction, like `F.cross_entropy`: logits `[B, C]` and labels
 * int32 `[B]` in [0, C), or class probabilities `[B, C]`.
 */
export const crossEntropy = (logits: Tensor, labels: Tensor): Tensor => composite((e) => C.crossEntropy(e, logits, labels));

/** Binary cross-entropy on logits with mean reduction, like `F.binary_cross_entropy_with_logits`. */
export const binaryCrossEntropyWithLogits = (input: Tensor, target: Tensor): Tensor => composite((e) => C.bceWithLogits(e, input, target));

/** A loss as a module: `forward(input, target)`, failing with `missing` when the target is left out. */
abstract class LossModule extends Module {
  constructor(private readonly loss: (input: Tensor, target: Tensor) => Tensor, private readonly missing: string) {
    super();
  }

  forward(input: Tensor, target?: Tensor): Tensor {
    if (!target) throw new DualgradError(this.missing);
    return this.loss(input, target);
  }
}

/** Mean squared error as a module. */
export class MSELoss extends LossModule {
  constructor() {
    super(mseLoss, "MSELoss: forward(input, target) needs a target");
  }
}

/** Softmax cross-entropy over integer labels as a module. */
export class CrossEntropyLoss extends LossModule {
  constructor() {
    super(crossEntropy, "CrossEntropyLoss: forward(logits, labels) needs labels");
  }
}

/** Binary cross-entropy on logits as a module, like `nn.BCEWithLogitsLoss`. */
export class BCEWithLogitsLoss extends LossModule {
  constructor() {
    super(binaryCrossEntropyWithLogits, "BCEWithLogitsLoss: forward(logits, target) needs a target");
  }
}
