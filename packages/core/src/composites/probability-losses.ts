import { DualgradError } from "../errors.js";
import { isFloat } from "../dtype.js";
import type { Emitter } from "../ops/prim.js";
import { formatShape, shapesEqual } from "../shape.js";
import { add, div, meanAll, mul, shift } from "./arith.js";

/**
 * Cross-entropies of probabilities (Keras's losses with `from_logits=False`, its default): the
 * model's last layer already applied a sigmoid or softmax. As in Keras, the probabilities are
 * clipped to [eps, 1 - eps] with Keras's backend epsilon 1e-7, so a saturated output gives a
 * large finite loss rather than Infinity. From logits, use `bceWithLogits` and the softmax
 * cross-entropies instead, which are stabler.
 */

/** Keras's `backend.epsilon()`. */
export const KERAS_EPSILON = 1e-7;

/** p clipped to [eps, 1 - eps], in p's dtype. */
function clipProbabilities<T>(e: Emitter<T>, p: T): T {
  const dtype = e.meta(p).dtype;
  const upper = e.emit("minimum", [p, e.constant(1 - KERAS_EPSILON, dtype)], {});
  return e.emit("maximum", [upper, e.constant(KERAS_EPSILON, dtype)], {});
}

/**
 * Keras's `binary_crossentropy` on probabilities, mean over every element (the mean over the
 * last axis, then over the batch, as Keras's default reduction):
 * -mean(z log p + (1 - z) log(1 - p)) with p clipped. `probs` and `target` have the same shape.
 */
export function binaryCrossEntropy<T>(e: Emitter<T>, probs: T, target: T): T {
  const p = e.meta(probs);
  const z = e.meta(target);
  if (!shapesEqual(p.shape, z.shape)) {
    throw new DualgradError(`binaryCrossEntropy: probabilities ${formatShape(p.shape)} and target ${formatShape(z.shape)} must have the same shape`);
  }
  if (!isFloat(p.dtype) || !isFloat(z.dtype)) throw new DualgradError(`binaryCrossEntropy: probabilities and target must be floating point, got ${p.dtype} and ${z.dtype}`);
  const clipped = clipProbabilities(e, probs);
  const logP = e.emit("log", [clipped], {});
  const logQ = e.emit("log", [shift(e, e.emit("neg", [clipped], {}), 1)], {});
  const notZ = shift(e, e.emit("neg", [target], {}), 1);
  return e.emit("neg", [meanAll(e, add(e, mul(e, target, logP), mul(e, notZ, logQ)))], {});
}

/**
 * Keras's `categorical_crossentropy` (and sparse form) on probabilities `[B, C]`: each row is
 * normalised to sum to 1, clipped, and -sum(target log p) averaged over the batch. `target` is
 * class probabilities `[B, C]` or int32 class indices `[B]` (one-hot encoded here).
 */
export function categoricalCrossEntropy<T>(e: Emitter<T>, probs: T, target: T): T {
  const p = e.meta(probs);
  const t = e.meta(target);
  const labels = t.dtype === "int32";
  const ok = p.shape.length === 2 && (labels ? t.shape.length === 1 && t.shape[0] === p.shape[0] : shapesEqual(p.shape, t.shape));
  if (!ok) {
    throw new DualgradError(
      `categoricalCrossEntropy: expected probabilities [B,C] with target probabilities [B,C] or int32 labels [B], got ${formatShape(p.shape)} and ${t.dtype}${formatShape(t.shape)}`,
    );
  }
  if (!isFloat(p.dtype)) throw new DualgradError(`categoricalCrossEntropy: probabilities must be floating point, got ${p.dtype}`);
  const onehot = labels ? e.emit("one_hot", [target], { depth: p.shape[1], dtype: p.dtype }) : target;
  const normalised = div(e, probs, e.emit("sum", [probs], { axes: [-1], keepdims: true }));
  const logp = e.emit("log", [clipProbabilities(e, normalised)], {});
  const perSample = e.emit("sum", [mul(e, onehot, logp)], { axes: [-1], keepdims: false });
  return e.emit("neg", [meanAll(e, perSample)], {});
}
