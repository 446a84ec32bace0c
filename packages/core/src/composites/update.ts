import type { Emitter } from "../ops/prim.js";
import { mul, scale, sub } from "./arith.js";

/**
 * Optimizer updates as pure functions, the way optax writes them: a rule maps (parameter,
 * gradient, state, step) to a {@link ParamUpdate} and the new state, and never writes anything.
 * Each frontend then applies the update its own way: eager in place in the parameter's memory,
 * graph as an `assign` in the compiled step. Both compute {@link applyUpdate}'s expression, with
 * the same operations in the same order, so their parameters agree bit for bit.
 */

/**
 * The optimizer step count, 1 on the first update: `known` where the host knows it (eager), a
 * float64 rank-0 `value` where it is traced (graph, whose one compiled step serves every step).
 * Tagged rather than `number | T`, because a graph's T (a value id) is a number too.
 */
export type Step<T> = { readonly known: number } | { readonly value: T };

/** The step size of a {@link ParamUpdate}: a `fixed` number, or a rank-0 `value` in the parameter's dtype. */
export type StepSize<T> = { readonly fixed: number } | { readonly value: T };

/** The update of one parameter: new p = p * decay - direction * scale. */
export interface ParamUpdate<T> {
  /** Multiplies the parameter first (decoupled weight decay); 1 for none. */
  readonly decay: number;
  /** The direction subtracted after scaling. */
  readonly direction: T;
  /** The step size: SGD's fixed learning rate, or Adam's bias-corrected rate as a value. */
  readonly scale: StepSize<T>;
}

/** What an update rule returns: the parameter's update and its new state. */
export interface RuleResult<T, S> {
  readonly update: ParamUpdate<T>;
  readonly state: S;
}

/**
 * The new parameter value, p * decay - direction * scale, as the graph frontend records it.
 * The eager frontend performs the same operations in place (its fused subScaledInPlace rounds
 * the product exactly where this `mul` stores it).
 */
export function applyUpdate<T>(e: Emitter<T>, param: T, u: ParamUpdate<T>): T {
  const base = u.decay === 1 ? param : scale(e, param, u.decay);
  const step = "fixed" in u.scale ? scale(e, u.direction, u.scale.fixed) : mul(e, u.direction, u.scale.value);
  return sub(e, base, step);
}

/** The step count as a float64 rank-0 value. */
export function stepValue<T>(e: Emitter<T>, step: Step<T>): T {
  return "known" in step ? e.constant(step.known, "float64") : step.value;
}
