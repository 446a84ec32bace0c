import { DualgradError, formatShape, noteStep, shapesEqual, type composites as C } from "@dualgrad/core";
import { noGrad } from "../grad-mode.js";
import { tidy } from "../memory.js";
import { inPlace, mul, subScaledInPlace } from "../ops.js";
import { keep } from "../scope.js";
import type { Tensor } from "../tensor.js";

/** Per-parameter state: named tensors (momentum buffers, moments) and the step count. */
export interface ParamState {
  step: number;
  buffers: Map<string, Tensor>;
}

/** A serialisable optimizer state, like PyTorch's `optimizer.state_dict()`. */
export interface OptimizerStateDict {
  /** Per parameter index: its step and buffers. */
  state: Record<number, { step: number; buffers: Record<string, Tensor> }>;
  /** The hyper-parameters. */
  paramGroups: Record<string, number | boolean>[];
}

/**
 * Base of the optimizers: holds the parameters and per-parameter state. `step()` updates the
 * parameters in place under `noGrad` and frees its temporaries; state tensors are kept.
 */
export abstract class Optimizer<H extends Record<string, number | boolean>> {
  readonly params: Tensor[];
  protected readonly state = new Map<Tensor, ParamState>();

  constructor(params: Iterable<Tensor>, readonly hyper: H) {
    this.params = [...params];
    if (this.params.length === 0) throw new DualgradError(`${this.constructor.name}: got an empty parameter list`);
    for (const [k, v] of Object.entries(hyper)) {
      if (typeof v === "number" && (!Number.isFinite(v) || v < 0)) {
        throw new DualgradError(`${this.constructor.name}: invalid ${k} ${v} (expected a finite number >= 0)`);
      }
    }
  }

  /** Sets every gradient to null (PyTorch's default `set_to_none=True`). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * Applies one update to every parameter that has a gradient. A disposed parameter is an error
   * (it has no gradient, so it would otherwise be skipped in silence). Each call also samples
   * the live buffer count for core's leak warning (`noteStep`).
   */
  step(): void {
    const name = `${this.constructor.name}.step`;
    this.params.forEach((p, i) => p._checkAlive(`${name}: parameter ${i}`));
    noGrad(() => {
      for (const p of this.params) {
        if (!p.grad) continue;
        let st = this.state.get(p);
        if (!st) this.state.set(p, (st = { step: 0, buffers: new Map() }));
        st.step++;
        const s = st;
        tidy(() => this.update(p, p.grad!, s));
      }
    });
    noteStep(name);
  }

  /** The update of one parameter (runs in a tidy scope, grad off). */
  protected abstract update(p: Tensor, grad: Tensor, state: ParamState): void;

  /**
   * Applies the result of one of core's update rules: keeps the new state buffers (named as
   * the rule names them) and updates `p` in place, p = p * decay - direction * scale, which is
   * core's `applyUpdate` done in p's own memory. A fixed scale (SGD's learning rate) goes
   * through the fused subScaledInPlace loop.
   */
  protected applyRule(p: Tensor, grad: Tensor, state: ParamState, result: C.RuleResult<Tensor, Record<string, Tensor | null>>): void {
    for (const [name, t] of Object.entries(result.state)) {
      // A buffer may be the gradient itself (SGD's first momentum step); it needs its own memory.
      if (t) this.setBuffer(state, name, t === grad ? t.clone() : t);
    }
    const { decay, direction, scale } = result.update;
    if (decay !== 1) inPlace(p, "mul", decay);
    if ("fixed" in scale) subScaledInPlace(p, direction, scale.fixed);
    else inPlace(p, "sub", mul(direction, scale.value));
  }

  /** Stores a state buffer, keeping it alive across steps. */
  protected setBuffer(state: ParamState, name: string, t: Tensor): Tensor {
    const old = state.buffers.get(name);
    if (old && old !== t) old.dispose();
    state.buffers.set(name, keep(t));
    return t;
  }

  /** The optimizer state (tensors are the live buffers, not copies). */
  stateDict(): OptimizerStateDict {
    const state: OptimizerStateDict["state"] = {};
    this.params.forEach((p, i) => {
      const st = this.state.get(p);
      if (st) state[i] = { step: st.step, buffers: Object.fromEntries(st.buffers) };
    });
    return { state, paramGroups: [{ ...this.hyper }] };
  }

  /** Restores state saved by {@link stateDict} (buffers are copied). */
  loadStateDict(dict: OptimizerStateDict): void {
    for (const [k, entry] of Object.entries(dict.state)) {
      const p = this.params[Number(k)];
      if (!p) throw new DualgradError(`loadStateDict: state for parameter ${k}, but the optimizer has ${this.params.length}`);
      const st: ParamState = { step: entry.step, buffers: new Map() };
      for (const [name, t] of Object.entries(entry.buffers)) {
        if (!shapesEqual(t.shape, p.shape)) {
          throw new DualgradError(`loadStateDict: buffer ${name} of parameter ${k} has shape ${formatShape(t.shape)}, parameter has ${formatShape(p.shape)}`);
        }
        st.buffers.set(name, keep(t.clone()));
      }
      this.state.get(p)?.buffers.forEach((b) => b.dispose());
      this.state.set(p, st);
    }
    Object.assign(this.hyper, dict.paramGroups[0] ?? {});
  }

  /** Frees the state buffers. */
  dispose(): void {
    for (const st of this.state.values()) for (const b of st.buffers.values()) b.dispose();
    this.state.clear();
  }
}
