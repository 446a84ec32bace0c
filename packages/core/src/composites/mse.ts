import { DualgradError } from "../errors.js";
import type { Emitter } from "../ops/prim.js";
import { formatShape, shapesEqual } from "../shape.js";
import { meanAll, sub } from "./arith.js";

/** mean((input - target)^2), like PyTorch's `F.mse_loss` with mean reduction; shapes must match exactly. */
export function mseLoss<T>(e: Emitter<T>, input: T, target: T): T {
  const a = e.meta(input).shape;
  const b = e.meta(target).shape;
  if (!shapesEqual(a, b)) throw new DualgradError(`mseLoss: input ${formatShape(a)} and target ${formatShape(b)} must have the same shape`);
  return meanAll(e, e.emit("pow", [sub(e, input, target)], { exponent: 2 }));
}
