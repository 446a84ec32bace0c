import { DualgradError } from "../errors.js";
import { isFloat } from "../dtype.js";
import type { Emitter } from "../ops/prim.js";
import { formatShape, shapesEqual } from "../shape.js";
import { add, meanAll, mul, shift, sub } from "./arith.js";

/**
 * Binary cross-entropy on logits with mean reduction, like PyTorch's
 * `F.binary_cross_entropy_with_logits`: mean(-(z log σ(x) + (1 - z) log(1 - σ(x)))) for logits x
 * and targets z in [0, 1] of the same shape. Computed in TensorFlow's stable form
 * max(x, 0) - x z + log(1 + e^-|x|), which never takes the exponential of a large positive number.
 */
export function bceWithLogits<T>(e: Emitter<T>, logits: T, target: T): T {
  const x = e.meta(logits);
  const z = e.meta(target);
  if (!shapesEqual(x.shape, z.shape)) {
    throw new DualgradError(`bceWithLogits: logits ${formatShape(x.shape)} and target ${formatShape(z.shape)} must have the same shape`);
  }
  if (!isFloat(x.dtype) || !isFloat(z.dtype)) throw new DualgradError(`bceWithLogits: logits and target must be floating point, got ${x.dtype} and ${z.dtype}`);
  const linear = sub(e, e.emit("relu", [logits], {}), mul(e, logits, target));
  const negAbs = e.emit("neg", [e.emit("abs", [logits], {})], {});
  const softplus = e.emit("log", [shift(e, e.emit("exp", [negAbs], {}), 1)], {});
  return meanAll(e, add(e, linear, softplus));
}
