import { DualgradError, composites as C } from "@dualgrad/core";
import { tensorEmitter } from "../ops.js";
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
    const buffers = { momentumBuffer: state.buffers.get("momentumBuffer") ?? null };
    this.applyRule(p, grad, state, C.sgd(tensorEmitter, this.hyper, p, grad, buffers, { known: state.step }));
  }
}
