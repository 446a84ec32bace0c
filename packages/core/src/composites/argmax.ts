import type { Emitter } from "../ops/prim.js";

/** Index of the maximum along `axis` (int32); over the flattened tensor when no axis is given, as `torch.argmax`. */
export function argmax<T>(e: Emitter<T>, x: T, o: { axis?: number; keepdims?: boolean } = {}): T {
  if (o.axis === undefined) return e.emit("argmax", [e.emit("reshape", [x], { shape: [-1] })], { axis: 0, keepdims: false });
  return e.emit("argmax", [x], { axis: o.axis, keepdims: o.keepdims ?? false });
}
