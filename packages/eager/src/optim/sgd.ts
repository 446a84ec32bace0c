import { DualgradError } from "@dualgrad/core";
import { subScaledInPlace } from "../ops.js";
import type { Tensor } from "../tensor.js";
import { Optimizer, type ParamState } from "./optimizer.js";

/** Hyper-parameters of {@link SGD} (PyTorch's names, camelCased). */
export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/**
 * Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay,
 * exactly PyTorch's `torch.optim.SGD` update:
 * g += wd p; b = g (first step) or m b + (1 - dampening) g; g = nesterov ? g + m b : b; p -= lr g.
 */
export class SGD extends Optimizer<{ lr: number; momentum: number; dampening: number; nesterov: boolean; weightDecay: number }> {
  constructor(params: Iterable<Tensor>, options: SGDOptions) {
    super(params, {
      lr: options.lr,
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      nesterov: options.nesterov ?? false,
      weightDecay: options.weightDecay ?? 0,
    });
    if (this.hyper.nesterov && (this.hyper.momentum <= 0 || this.hyper.dampening !== 0)) {
      throw new DualgradError("SGD: Nesterov momentum requires a momentum and zero dampening");
    }
  }

  protected update(p: Tensor, grad: Tensor, state: ParamState): void {
    const { lr, momentum, dampening, nesterov, weightDecay } = this.hyper;
    let g = weightDecay !== 0 ? grad.add(p.mul(weightDecay)) : grad;
    if (momentum !== 0) {
      const prev = state.buffers.get("momentumBuffer");
      const buf = prev ? prev.mul_(momentum).add_(g.mul(1 - dampening)) : this.setBuffer(state, "momentumBuffer", g.clone());
      g = nesterov ? g.add(buf.mul(momentum)) : buf;
    }
    subScaledInPlace(p, g, lr);
  }
}
