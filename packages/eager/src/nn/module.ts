import { DualgradError, formatShape, listNames, shapesEqual } from "@dualgrad/core";
import { noGrad } from "../grad-mode.js";
import { keep } from "../scope.js";
import { Tensor } from "../tensor.js";

const PARAMETER = Symbol("dualgrad.parameter");

/** Marks a tensor as a module parameter: it requires grad and survives every `tidy` (like `nn.Parameter`). */
export function parameter(t: Tensor): Tensor {
  (t as unknown as Record<symbol, boolean>)[PARAMETER] = true;
  return keep(t.requiresGrad_(true));
}

/** True for tensors made by {@link parameter}. */
export function isParameter(x: unknown): x is Tensor {
  return x instanceof Tensor && (x as unknown as Record<symbol, boolean>)[PARAMETER] === true;
}

/**
 * Base class of layers and models, like `torch.nn.Module`. Parameters and sub-modules are found
 * from the instance's own fields in definition order, which gives PyTorch's names
 * (`0.weight`, `2.bias` in a Sequential; `fc1.weight` for a field `fc1`).
 */
export abstract class Module {
  /** Training mode (affects nothing in the layers here yet, kept for PyTorch parity). */
  training = true;

  /** The computation. */
  abstract forward(x: Tensor, ...rest: Tensor[]): Tensor;

  /** Direct sub-modules with their names. */
  namedChildren(): [string, Module][] {
    return Object.entries(this).filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  /** This module's own parameters (not its children's) with their names. */
  protected ownParameters(): [string, Tensor][] {
    return Object.entries(this).filter((e): e is [string, Tensor] => isParameter(e[1]));
  }

  /** Every parameter, recursively, with dotted PyTorch names. */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = this.ownParameters().map(([n, p]) => [prefix + n, p]);
    for (const [name, child] of this.namedChildren()) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  /** Every parameter, recursively. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Sets training mode on this module and its children. */
  train(mode = true): this {
    this.training = mode;
    for (const [, c] of this.namedChildren()) c.train(mode);
    return this;
  }

  /** Evaluation mode. */
  eval(): this {
    return this.train(false);
  }

  /** Clears (sets to null) every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** The parameters by name (the tensors themselves, not copies), like `state_dict()`. */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Copies tensors into the parameters by name. With `strict` (the default) missing or
   * unexpected names are an error, as in PyTorch; shapes must match exactly; dtypes are converted.
   */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>, options: { strict?: boolean } = {}): void {
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const strict = options.strict ?? true;
    const missing = [...own.keys()].filter((k) => !entries.has(k));
    const unexpected = [...entries.keys()].filter((k) => !own.has(k));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      throw new DualgradError(
        `loadStateDict: error(s) in loading state dict: missing keys [${listNames(missing)}], unexpected keys [${listNames(unexpected)}]`,
      );
    }
    for (const [name, p] of own) {
      const src = entries.get(name);
      if (!src) continue;
      if (!shapesEqual(src.shape, p.shape)) {
        throw new DualgradError(
          `loadStateDict: size mismatch for ${name}: copying a param with shape ${formatShape(src.shape)} from checkpoint, the shape in current model is ${formatShape(p.shape)}`,
        );
      }
    }
    noGrad(() => {
      for (const [name, p] of own) {
        const src = entries.get(name);
        if (src) p.copy_(src);
      }
    });
  }

  /** Releases every parameter (and its gradient). */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}
