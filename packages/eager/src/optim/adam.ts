import type { Tensor } from "../tensor.js";
import { Optimizer, type ParamState } from "./optimizer.js";

/** Hyper-parameters of {@link Adam} and {@link AdamW}. */
export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

type AdamHyper = { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean };

/**
 * Adam, following PyTorch's `torch.optim.Adam` step (bias corrections folded as PyTorch does):
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 * With `decoupled` (AdamW) weight decay shrinks p by lr*wd instead of adding wd*p to g.
 */
export class Adam extends Optimizer<AdamHyper> {
  constructor(params: Iterable<Tensor>, options: AdamOptions = {}, decoupled = false) {
    const [beta1, beta2] = options.betas ?? [0.9, 0.999];
    super(params, {
      lr: options.lr ?? 1e-3,
      beta1,
      beta2,
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? (decoupled ? 1e-2 : 0),
      decoupled,
    });
  }

  protected update(p: Tensor, grad: Tensor, state: ParamState): void {
    const { lr, beta1, beta2, eps, weightDecay, decoupled } = this.hyper;
    let g = grad;
    if (weightDecay !== 0) {
      if (decoupled) p.mul_(1 - lr * weightDecay);
      else g = g.add(p.mul(weightDecay));
    }
    const m = state.buffers.get("expAvg") ?? this.setBuffer(state, "expAvg", g.mul(0));
    const v = state.buffers.get("expAvgSq") ?? this.setBuffer(state, "expAvgSq", g.mul(0));
    m.mul_(beta1).add_(g.mul(1 - beta1));
    v.mul_(beta2).add_(g.mul(g).mul(1 - beta2));
    const bc1 = 1 - beta1 ** state.step;
    const bc2 = 1 - beta2 ** state.step;
    const denom = v.sqrt().div(Math.sqrt(bc2)).add(eps);
    p.sub_(m.div(denom).mul(lr / bc1));
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01), like `torch.optim.AdamW`. */
export class AdamW extends Adam {
  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params, options, true);
  }
}
