import type { Emitter } from "../ops/prim.js";
import { add, cast, div, mul, scale, shift } from "./arith.js";
import { stepValue, type RuleResult, type Step } from "./update.js";

/** Hyper-parameters of {@link adam}; `decoupled` makes it AdamW. */
export type AdamConfig = {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;
};

/** {@link AdamConfig} as users write it (PyTorch's names, camelCased), every field optional. */
export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** The full configuration with PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0 (Adam) or 0.01 (AdamW). */
export function adamConfig(o: AdamOptions, decoupled: boolean): AdamConfig {
  const [beta1, beta2] = o.betas ?? [0.9, 0.999];
  return { lr: o.lr ?? 1e-3, beta1, beta2, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? (decoupled ? 1e-2 : 0), decoupled };
}

/** Adam's per-parameter state: the two moments (null before the first step means zero). */
export type AdamState<T> = { readonly expAvg: T | null; readonly expAvgSq: T | null };

/** 1 - beta^t = 1 - exp(t ln beta), in float64 like PyTorch's Python-float bias corrections. */
function biasCorrection<T>(e: Emitter<T>, t: T, beta: number): T {
  return shift(e, e.emit("neg", [e.emit("exp", [scale(e, t, Math.log(beta))], {})], {}), 1);
}

/**
 * PyTorch's `torch.optim.Adam` step (and `AdamW` with `decoupled`), bias corrections folded as
 * PyTorch does: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps). Weight decay adds wd p to g, or
 * with `decoupled` shrinks p by lr wd first. The bias corrections are computed from the step as
 * values, so the traced graph needs no retrace per step and eager computes the same bits.
 */
export function adam<T>(e: Emitter<T>, c: AdamConfig, param: T, grad: T, state: AdamState<T>, step: Step<T>): RuleResult<T, AdamState<T>> {
  const dtype = e.meta(param).dtype;
  let g = grad;
  let decay = 1;
  if (c.weightDecay !== 0) {
    if (c.decoupled) decay = 1 - c.lr * c.weightDecay;
    else g = add(e, g, scale(e, param, c.weightDecay));
  }
  // Missing moments start at zero; g * 0 is how the eager frontend has always made them.
  const m = add(e, scale(e, state.expAvg ?? scale(e, g, 0), c.beta1), scale(e, g, 1 - c.beta1));
  const v = add(e, scale(e, state.expAvgSq ?? scale(e, g, 0), c.beta2), scale(e, mul(e, g, g), 1 - c.beta2));
  const t = stepValue(e, step);
  const bc1 = biasCorrection(e, t, c.beta1);
  const bc2 = biasCorrection(e, t, c.beta2);
  const denom = shift(e, div(e, e.emit("sqrt", [v], {}), cast(e, e.emit("sqrt", [bc2], {}), dtype)), c.eps);
  const direction = div(e, m, denom);
  const lrOverBc1 = cast(e, div(e, e.constant(c.lr, "float64"), bc1), dtype);
  return { update: { decay, direction, scale: { value: lrOverBc1 } }, state: { expAvg: m, expAvgSq: v } };
}
