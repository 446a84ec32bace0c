import type { Emitter } from "../ops/prim.js";

/** log(softmax(x)) along `axis`: a primitive of its own, stable and with a fused VJP. */
export function logSoftmax<T>(e: Emitter<T>, x: T, axis = -1): T {
  return e.emit("log_softmax", [x], { axis });
}

/** softmax along `axis`, as exp(log_softmax(x)): stable, and its gradient comes from log_softmax's rule. */
export function softmax<T>(e: Emitter<T>, x: T, axis = -1): T {
  return e.emit("exp", [logSoftmax(e, x, axis)], {});
}
