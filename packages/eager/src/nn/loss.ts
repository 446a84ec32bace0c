import { DualgradError, formatShape, shapesEqual } from "@dualgrad/core";
import * as F from "../ops.js";
import type { Tensor } from "../tensor.js";
import { Module } from "./module.js";

/** Disposes intermediate handles of a composite op (autograd keeps what it saved). */
function drop(...ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

/** mean((input - target)^2), like `F.mse_loss` with mean reduction. */
export function mseLoss(input: Tensor, target: Tensor): Tensor {
  if (!shapesEqual(input.shape, target.shape)) {
    throw new DualgradError(`mseLoss: input ${formatShape(input.shape)} and target ${formatShape(target.shape)} must have the same shape`);
  }
  const diff = F.sub(input, target);
  const sq = F.pow(diff, 2);
  const loss = F.mean(sq);
  drop(diff, sq);
  return loss;
}

/**
 * Softmax cross-entropy over integer class labels with mean reduction, like `F.cross_entropy`:
 * logits `[B, C]`, labels int32 `[B]` in [0, C).
 */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  if (logits.ndim !== 2 || labels.ndim !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new DualgradError(`crossEntropy: expected logits [B,C] and labels [B], got ${formatShape(logits.shape)} and ${formatShape(labels.shape)}`);
  }
  if (labels.dtype !== "int32") throw new DualgradError(`crossEntropy: labels must be int32 class indices, got ${labels.dtype}`);
  const logp = F.logSoftmax(logits, -1);
  const onehot = F.oneHot(labels, logits.shape[1], logits.dtype);
  const picked = F.mul(logp, onehot);
  const perSample = F.sum(picked, { axis: -1 });
  const meanLogp = F.mean(perSample);
  const loss = F.neg(meanLogp);
  drop(logp, onehot, picked, perSample, meanLogp);
  return loss;
}

/** Mean squared error as a module. */
export class MSELoss extends Module {
  forward(input: Tensor, target?: Tensor): Tensor {
    if (!target) throw new DualgradError("MSELoss: forward(input, target) needs a target");
    return mseLoss(input, target);
  }
}

/** Softmax cross-entropy over integer labels as a module. */
export class CrossEntropyLoss extends Module {
  forward(input: Tensor, target?: Tensor): Tensor {
    if (!target) throw new DualgradError("CrossEntropyLoss: forward(logits, labels) needs labels");
    return crossEntropy(input, target);
  }
}
