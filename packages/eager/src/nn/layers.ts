import { composites as C } from "@dualgrad/core";
import { zeros } from "../factories.js";
import * as F from "../ops.js";
import type { Tensor } from "../tensor.js";
import { ModuleList } from "./containers.js";
import { Module, parameter, type Parameter } from "./module.js";

/** Options of {@link Linear}: `bias`, `dtype`, `generator` (default: the global one, see `manualSeed`). */
export type LinearOptions = C.LinearInitOptions;

/**
 * y = x W^T + b, with W `[out, in]` as in PyTorch and PyTorch's default init
 * (U(-1/sqrt(in), 1/sqrt(in)) for weight then bias, drawn from core's Philox generator).
 */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    ({ weight: this.weight, bias: this.bias } = C.initLinear(inFeatures, outFeatures, options, (_, shape, dtype) => parameter(zeros(shape, { dtype }))));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? "True" : "False"}`;
  }
}

/** Functional linear layer: x W^T + b. The transpose is a matmul flag, never a copy. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return F.composite((e) => C.linear(e, x, weight, bias));
}

/** max(x, 0) as a module. */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}

/** tanh as a module. */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return F.tanh(x);
  }
}

/** sigmoid as a module. */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return F.sigmoid(x);
  }
}

/**
 * Modules applied in order, like `torch.nn.Sequential`: a {@link ModuleList} with a forward, so
 * children are named `0`, `1`, ... as in PyTorch and can be indexed (`model[0]`).
 */
export class Sequential extends ModuleList {
  constructor(...layers: Module[]) {
    super(layers);
  }

  /** The modules, in order (a new array). */
  get layers(): Module[] {
    return [...this];
  }

  override forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this) {
      const next = layer.forward(h);
      // Intermediate handles are ours; autograd keeps what backward needs.
      if (h !== x) h.dispose();
      h = next;
    }
    return h;
  }
}
