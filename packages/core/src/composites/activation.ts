import type { Emitter } from "../ops/prim.js";

/** Activations by their Keras names; `linear` is the identity. */
export type Activation = "relu" | "tanh" | "sigmoid" | "linear";

/** The valid {@link Activation} names, for validation and error messages. */
export const ACTIVATIONS: readonly Activation[] = ["relu", "tanh", "sigmoid", "linear"];

/** Applies the activation `name` to `x` (`linear` returns `x` itself, emitting nothing). */
export function activation<T>(e: Emitter<T>, name: Activation, x: T): T {
  return name === "linear" ? x : e.emit(name, [x], {});
}
