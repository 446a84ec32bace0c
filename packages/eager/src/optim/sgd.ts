import { composites as C } from "@dualgrad/core";
import { tensorEmitter } from "../ops.js";
import type { Tensor } from "../tensor.js";
import { Optimizer, type ParamState } from "./optimizer.js";

/** Hyper-parameters of {@link SGD} (PyTorch's names, camelCased): `lr`, `momentum`, `dampening`, `nesterov`, `weightDecay`. */
export type SGDOptions = C.SgdOptions;

/**
 * Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay,
 * exactly PyTorch's `torch.optim.SGD` update:
 * g += wd p; b = g (first step) or m b + (1 - dampening) g; g = nesterov ? g + m b : b; p -= lr g.
 */
export class SGD extends Optimizer<C.SgdConfig> {
  constructor(params: Iterable<Tensor>, options: SGDOptions) {
    super(params, C.sgdConfig(options));
  }

  protected update(p: Tensor, grad: Tensor, state: ParamState): void {
    const buffers = { momentumBuffer: state.buffers.get("momentumBuffer") ?? null };
    this.applyRule(p, grad, state, C.sgd(tensorEmitter, this.hyper, p, grad, buffers, { known: state.step }));
  }
}
