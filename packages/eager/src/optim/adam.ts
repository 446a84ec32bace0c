import { composites as C } from "@dualgrad/core";
import { tensorEmitter } from "../ops.js";
import type { Tensor } from "../tensor.js";
import { Optimizer, type ParamState } from "./optimizer.js";

/** Hyper-parameters of {@link Adam} and {@link AdamW}: `lr`, `betas`, `eps`, `weightDecay`. */
export type AdamOptions = C.AdamOptions;

/**
 * Adam, following PyTorch's `torch.optim.Adam` step (bias corrections folded as PyTorch does):
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 * With `decoupled` (AdamW) weight decay shrinks p by lr*wd instead of adding wd*p to g.
 */
export class Adam extends Optimizer<C.AdamConfig> {
  constructor(params: Iterable<Tensor>, options: AdamOptions = {}, decoupled = false) {
    super(params, C.adamConfig(options, decoupled));
  }

  protected update(p: Tensor, grad: Tensor, state: ParamState): void {
    const moments = { expAvg: state.buffers.get("expAvg") ?? null, expAvgSq: state.buffers.get("expAvgSq") ?? null };
    this.applyRule(p, grad, state, C.adam(tensorEmitter, this.hyper, p, grad, moments, { known: state.step }));
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01), like `torch.optim.AdamW`. */
export class AdamW extends Adam {
  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params, options, true);
  }
}
