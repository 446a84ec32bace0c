import { DualgradError } from "@dualgrad/core";
import { gradients } from "./autodiff.js";
import { SymbolicTensor, assign, div, read, where } from "./symbolic.js";
import { Variable } from "./variable.js";

/**
 * Optimisers as in-graph updates: `minimize(loss, params)` (called while tracing) adds the
 * gradient graph and the update math, and records `assign`s to the parameters and to slot
 * variables (momentum buffers, moments, step count). One call of the compiled step therefore
 * does forward, loss, backward and update. The update formulas are PyTorch's, op for op, so the
 * graph and eager frontends agree.
 */
export abstract class GraphOptimizer {
  /** Slot variables by parameter name, created at the first trace. */
  protected readonly slots = new Map<string, Map<string, Variable>>();
  private stepVar: Variable | null = null;

  /** Adds the gradients of scalar `loss` w.r.t. `params` and the updates to the current trace. */
  minimize(loss: SymbolicTensor, params: readonly Variable[]): void {
    if (params.length === 0) throw new DualgradError(`${this.constructor.name}.minimize: no parameters`);
    const grads = gradients(loss, params);
    this.applyGradients(params.map((p, i) => [grads[i], p]));
  }

  /** Records updates for explicit (gradient, variable) pairs (as `tf.keras` `apply_gradients`). */
  applyGradients(pairs: readonly [SymbolicTensor, Variable][]): void {
    // The step count is float64, like PyTorch's Python-float bias corrections.
    this.stepVar ??= new Variable([], "float64", { name: `${this.constructor.name.toLowerCase()}/step` });
    const t = read(this.stepVar).add(1);
    assign(this.stepVar, t);
    for (const [g, p] of pairs) assign(p, this.update(p, g, t));
  }

  /** The new value of `p` given its gradient and the (already incremented) step count. */
  protected abstract update(p: Variable, g: SymbolicTensor, step: SymbolicTensor): SymbolicTensor;

  /** A zero-initialised slot variable shaped like `p`. */
  protected slot(p: Variable, name: string): Variable {
    let m = this.slots.get(p.name);
    if (!m) this.slots.set(p.name, (m = new Map()));
    let v = m.get(name);
    if (!v) m.set(name, (v = new Variable(p.shape, p.dtype, { name: `${p.name}/${name}` })));
    return v;
  }

  /** Every slot variable (and the step counter). */
  variables(): Variable[] {
    const all = [...this.slots.values()].flatMap((m) => [...m.values()]);
    return this.stepVar ? [this.stepVar, ...all] : all;
  }

  /** Releases the slot variables. */
  dispose(): void {
    for (const v of this.variables()) v.dispose();
    this.slots.clear();
    this.stepVar = null;
  }
}

/** Hyper-parameters of {@link SGD}. */
export interface SGDConfig {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** SGD with momentum, Nesterov and weight decay, PyTorch's update in-graph. */
export class SGD extends GraphOptimizer {
  readonly config: Required<SGDConfig>;
  constructor(config: SGDConfig) {
    super();
    this.config = { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...config };
    if (!(this.config.lr >= 0)) throw new DualgradError(`SGD: invalid lr ${config.lr}`);
    if (this.config.nesterov && (this.config.momentum <= 0 || this.config.dampening !== 0)) {
      throw new DualgradError("SGD: Nesterov momentum requires a momentum and zero dampening");
    }
  }

  protected update(p: Variable, grad: SymbolicTensor, step: SymbolicTensor): SymbolicTensor {
    const { lr, momentum, dampening, nesterov, weightDecay } = this.config;
    let g = weightDecay !== 0 ? grad.add(read(p).mul(weightDecay)) : grad;
    if (momentum !== 0) {
      const bufVar = this.slot(p, "momentum");
      // PyTorch starts the buffer at g itself on the first step.
      const first = step.eq(1).to(p.dtype);
      const buf = where(first, g, read(bufVar).mul(momentum).add(g.mul(1 - dampening)));
      assign(bufVar, buf);
      g = nesterov ? g.add(buf.mul(momentum)) : buf;
    }
    return read(p).sub(g.mul(lr));
  }
}

/** Hyper-parameters of {@link Adam}. */
export interface AdamConfig {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Adam (and AdamW with `decoupled`), bias corrections computed in-graph from the step count. */
export class Adam extends GraphOptimizer {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  constructor(config: AdamConfig = {}, readonly decoupled = false) {
    super();
    this.lr = config.lr ?? 1e-3;
    [this.beta1, this.beta2] = config.betas ?? [0.9, 0.999];
    this.eps = config.eps ?? 1e-8;
    this.weightDecay = config.weightDecay ?? (decoupled ? 1e-2 : 0);
  }

  protected update(p: Variable, grad: SymbolicTensor, step: SymbolicTensor): SymbolicTensor {
    const { lr, beta1, beta2, eps, weightDecay, decoupled } = this;
    let param = read(p);
    let g = grad;
    if (weightDecay !== 0) {
      if (decoupled) param = param.mul(1 - lr * weightDecay);
      else g = g.add(param.mul(weightDecay));
    }
    const mVar = this.slot(p, "exp_avg");
    const vVar = this.slot(p, "exp_avg_sq");
    const m = read(mVar).mul(beta1).add(g.mul(1 - beta1));
    const v = read(vVar).mul(beta2).add(g.mul(g).mul(1 - beta2));
    assign(mVar, m);
    assign(vVar, v);
    // 1 - beta^t = 1 - exp(t ln beta), in float64 like PyTorch's Python scalars.
    const bc1 = step.mul(Math.log(beta1)).exp().neg().add(1);
    const bc2 = step.mul(Math.log(beta2)).exp().neg().add(1);
    const denom = v.sqrt().div(bc2.sqrt().to(p.dtype)).add(eps);
    return param.sub(m.div(denom).mul(div(lr, bc1).to(p.dtype)));
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01). */
export class AdamW extends Adam {
  constructor(config: AdamConfig = {}) {
    super(config, true);
  }
}

/** Keras-style constructors. */
export const optimizers = {
  /** Plain SGD. */
  sgd: (lr: number) => new SGD({ lr }),
  /** SGD with momentum. */
  momentum: (lr: number, momentum: number, nesterov = false) => new SGD({ lr, momentum, nesterov }),
  /** Adam. */
  adam: (lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8) => new Adam({ lr, betas: [beta1, beta2], eps }),
  /** AdamW. */
  adamw: (lr = 1e-3, weightDecay = 1e-2) => new AdamW({ lr, weightDecay }),
};
