import { DualgradError } from "../errors.js";
import type { Emitter } from "../ops/prim.js";
import { add, cast, scale } from "./arith.js";
import type { RuleResult, Step } from "./update.js";

/** Hyper-parameters of {@link sgd} (PyTorch's, camelCased). */
export type SgdConfig = {
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
};

/** {@link SgdConfig} as users write it: only the learning rate is required. */
export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** The full configuration with PyTorch's defaults (none of momentum, dampening, weight decay); Nesterov needs a momentum and zero dampening, as in PyTorch. */
export function sgdConfig(o: SgdOptions): SgdConfig {
  const c = { lr: o.lr, momentum: o.momentum ?? 0, dampening: o.dampening ?? 0, nesterov: o.nesterov ?? false, weightDecay: o.weightDecay ?? 0 };
  if (c.nesterov && (c.momentum <= 0 || c.dampening !== 0)) throw new DualgradError("SGD: Nesterov momentum requires a momentum and zero dampening");
  return c;
}

/**
 * SGD's per-parameter state: the momentum buffer, or null where none exists yet (eager creates
 * it on the first step; graph's slot always exists, zero until the first step sets it).
 */
export type SgdState<T> = { readonly momentumBuffer: T | null };

/**
 * The new momentum buffer, m b + (1 - dampening) g, except on the first step where PyTorch
 * starts it at g itself. Whether this is the first step is static where the buffer is missing
 * (eager's first step) or the step is known (eager's later steps), and a traced `step == 1`
 * selected by `where` otherwise (graph).
 */
function momentumBuffer<T>(e: Emitter<T>, c: SgdConfig, g: T, buf: T | null, step: Step<T>): T {
  if (buf === null) return g;
  const first = "known" in step ? null : cast(e, e.emit("compare", [step.value, e.constant(1, e.meta(step.value).dtype)], { kind: "eq" }), e.meta(g).dtype);
  const next = add(e, scale(e, buf, c.momentum), scale(e, g, 1 - c.dampening));
  return first === null ? next : e.emit("where", [first, g, next], {});
}

/**
 * PyTorch's `torch.optim.SGD` step: g += wd p; b = g (first step) or m b + (1 - dampening) g;
 * g = nesterov ? g + m b : b; then p -= lr g. Returns the update and the new buffer (null
 * without momentum).
 */
export function sgd<T>(e: Emitter<T>, c: SgdConfig, param: T, grad: T, state: SgdState<T>, step: Step<T>): RuleResult<T, SgdState<T>> {
  let g = c.weightDecay !== 0 ? add(e, grad, scale(e, param, c.weightDecay)) : grad;
  let buf: T | null = null;
  if (c.momentum !== 0) {
    buf = momentumBuffer(e, c, g, state.momentumBuffer, step);
    g = c.nesterov ? add(e, g, scale(e, buf, c.momentum)) : buf;
  }
  return { update: { decay: 1, direction: g, scale: { fixed: c.lr } }, state: { momentumBuffer: buf } };
}
