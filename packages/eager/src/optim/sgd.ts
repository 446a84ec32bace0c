import { composites as C, type Emitter } from "@dualgrad/core";
import { tensorEmitter } from "../ops.js";
import type { Tensor } from "../tensor.js";
import { fusedBufferUpdate } from "./fused-update.js";
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
    const buffer = state.buffers.get("momentumBuffer") ?? null;
    const step = { known: state.step };
    // Once the buffer exists, plain momentum is two kernels: the buffer in place, then p -= lr * buffer.
    const rule = <T>(e: Emitter<T>, param: T, g: T, b: T) => C.sgd(e, this.hyper, param, g, { momentumBuffer: b }, step);
    if (buffer !== null && fusedBufferUpdate(rule, p, grad, "momentumBuffer", buffer)) return;
    this.applyRule(p, grad, state, C.sgd(tensorEmitter, this.hyper, p, grad, { momentumBuffer: buffer }, step));
  }
}
