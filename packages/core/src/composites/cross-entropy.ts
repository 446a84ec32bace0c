import { DualgradError } from "../errors.js";
import { isFloat } from "../dtype.js";
import type { Emitter } from "../ops/prim.js";
import { formatShape, shapesEqual } from "../shape.js";
import { meanAll, mul } from "./arith.js";
import { logSoftmax } from "./softmax.js";

/** -mean(sum(logp * target, -1)): the cross-entropy of log-probabilities against target probabilities. */
function fromLogProbs<T>(e: Emitter<T>, logp: T, target: T): T {
  const perSample = e.emit("sum", [mul(e, logp, target)], { axes: [-1], keepdims: false });
  return e.emit("neg", [meanAll(e, perSample)], {});
}

/**
 * Softmax cross-entropy against class probabilities with mean reduction, like PyTorch's
 * `F.cross_entropy` with a probability target or TF's `softmax_cross_entropy_with_logits`:
 * logits and target both `[B, C]`.
 */
export function softmaxCrossEntropy<T>(e: Emitter<T>, logits: T, target: T): T {
  const l = e.meta(logits).shape;
  const t = e.meta(target).shape;
  if (l.length !== 2 || !shapesEqual(l, t)) {
    throw new DualgradError(`softmaxCrossEntropy: expected logits [B,C] and target probabilities of the same shape, got ${formatShape(l)} and ${formatShape(t)}`);
  }
  return fromLogProbs(e, logSoftmax(e, logits, -1), target);
}

/**
 * Softmax cross-entropy over integer class labels with mean reduction, like `F.cross_entropy`
 * with class indices (TF's sparse form): logits `[B, C]`, labels int32 `[B]` in [0, C). One
 * fused primitive forward and one backward (../ops/softmax-cross-entropy.ts), so both
 * frontends launch two kernels where the one-hot composite took a dozen.
 */
export function sparseSoftmaxCrossEntropy<T>(e: Emitter<T>, logits: T, labels: T): T {
  const l = e.meta(logits);
  const y = e.meta(labels);
  if (l.shape.length !== 2 || y.shape.length !== 1 || y.shape[0] !== l.shape[0]) {
    throw new DualgradError(`crossEntropy: expected logits [B,C] and labels [B], got ${formatShape(l.shape)} and ${formatShape(y.shape)}`);
  }
  if (y.dtype !== "int32") throw new DualgradError(`crossEntropy: labels must be int32 class indices, got ${y.dtype}`);
  return e.emit("softmax_cross_entropy", [logits, labels], {});
}

/**
 * PyTorch's `F.cross_entropy` (mean reduction) with either kind of target: class probabilities
 * (a float tensor shaped like the logits) or int32 class indices `[B]`.
 */
export function crossEntropy<T>(e: Emitter<T>, logits: T, target: T): T {
  const t = e.meta(target);
  const probabilities = isFloat(t.dtype) && t.shape.length === 2 && shapesEqual(t.shape, e.meta(logits).shape);
  return probabilities ? softmaxCrossEntropy(e, logits, target) : sparseSoftmaxCrossEntropy(e, logits, target);
}
