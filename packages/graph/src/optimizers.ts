import { DualgradError, composites as C } from "@dualgrad/core";
import { gradients } from "./autodiff.js";
import type { GraphBuilder } from "./builder.js";
import { SymbolicTensor, assign, read } from "./symbolic.js";
import { Variable } from "./variable.js";
import { adamOptions, sgdOptions, type AdamConfig, type SGDConfig } from "./optimizer-config.js";

export type { AdamConfig, SGDConfig };

/** A state of one of core's update rules: named values (null where the rule keeps none). */
type RuleState = Record<string, number | null>;

/**
 * Optimisers as in-graph updates: `minimize(loss, params)` (called while tracing) adds the
 * gradient graph and the update math, and records `assign`s to the parameters and to slot
 * variables (momentum buffers, moments, step count). One call of the compiled step therefore
 * does forward, loss, backward and update. The update rules are core's (PyTorch's math), which
 * the eager frontend runs too, so the two frontends agree.
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

  /**
   * Records updates for explicit (gradient, variable) pairs, as Keras's `apply_gradients`
   * (`opt.applyGradients(zip(grads, model.trainableVariables))`). A pair whose gradient is
   * null (a variable the loss does not depend on) is skipped with a warning, as Keras does;
   * all of them null is an error.
   */
  applyGradients(gradsAndVars: Iterable<readonly [SymbolicTensor | null | undefined, Variable]>): void {
    const all = [...gradsAndVars];
    const pairs = all.filter((p): p is [SymbolicTensor, Variable] => p[0] !== null && p[0] !== undefined);
    const missing = all.filter((p) => p[0] === null || p[0] === undefined).map((p) => p[1].name);
    if (pairs.length === 0) throw new DualgradError(`${this.constructor.name}.applyGradients: no gradients provided for any variable (${missing.join(", ") || "none given"})`);
    if (missing.length > 0) console.warn(`${this.constructor.name}.applyGradients: gradients do not exist for variables [${missing.join(", ")}]; they are not updated`);
    // The step count is float64, like PyTorch's Python-float bias corrections.
    this.stepVar ??= new Variable([], "float64", { name: `${this.constructor.name.toLowerCase()}/step` });
    const t = read(this.stepVar).add(1);
    assign(this.stepVar, t);
    const b = t.builder;
    for (const [g, p] of pairs) {
      const param = b.variable(p);
      const state = Object.fromEntries(Object.entries(this.slotNames).map(([key, name]) => [key, b.variable(this.slot(p, name))]));
      const result = this.rule(b, param, g.id, state, { value: t.id });
      const next = C.applyUpdate(b, param, result.update);
      for (const [key, value] of Object.entries(result.state)) if (value !== null) assign(this.slot(p, this.slotNames[key]), new SymbolicTensor(b, value));
      assign(p, new SymbolicTensor(b, next));
    }
  }

  /** The slot variable's name for each state value of the rule (PyTorch's state names). */
  protected abstract readonly slotNames: Record<string, string>;

  /** Core's update rule for one parameter, given its gradient, its state read from the slots and the (already incremented) step count. */
  protected abstract rule(b: GraphBuilder, param: number, grad: number, state: RuleState, step: C.Step<number>): C.RuleResult<number, RuleState>;

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


/** SGD with momentum, Nesterov and weight decay, PyTorch's update in-graph; `new SGD({ lr })` or Keras's `new SGD({ learningRate })`. */
export class SGD extends GraphOptimizer {
  readonly config: C.SgdConfig;
  constructor(config: SGDConfig) {
    super();
    this.config = C.sgdConfig(sgdOptions(config));
  }

  protected get slotNames(): Record<string, string> {
    return this.config.momentum !== 0 ? { momentumBuffer: "momentum" } : {};
  }

  protected rule(b: GraphBuilder, param: number, grad: number, state: RuleState, step: C.Step<number>): C.RuleResult<number, RuleState> {
    return C.sgd(b, this.config, param, grad, { momentumBuffer: state.momentumBuffer ?? null }, step);
  }

}


/** Adam (and AdamW with `decoupled`), bias corrections computed in-graph from the step count; PyTorch's or Keras's option names (see {@link AdamConfig}). */
export class Adam extends GraphOptimizer {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  constructor(config: AdamConfig = {}, readonly decoupled = false) {
    super();
    ({ lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay } = C.adamConfig(adamOptions(config), decoupled));
  }

  protected readonly slotNames = { expAvg: "exp_avg", expAvgSq: "exp_avg_sq" };

  protected rule(b: GraphBuilder, param: number, grad: number, state: RuleState, step: C.Step<number>): C.RuleResult<number, RuleState> {
    return C.adam(b, this, param, grad, { expAvg: state.expAvg ?? null, expAvgSq: state.expAvgSq ?? null }, step);
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
