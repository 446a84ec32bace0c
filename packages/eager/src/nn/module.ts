import { DualgradError, formatShape, listNames, shapesEqual } from "@dualgrad/core";
import { noGrad } from "../grad-mode.js";
import { keep } from "../scope.js";
import { Tensor } from "../tensor.js";

/**
 * A tensor registered as a module parameter, like `torch.nn.Parameter`: it requires grad, it
 * survives every `tidy`, and a Module field holding one is found by `parameters()`,
 * `namedParameters()` and `stateDict()`.
 *
 * `new nn.Parameter(t)` takes over `t`'s memory (no copy, as PyTorch shares it) and disposes the
 * handle `t`, so that nothing is left for the caller to free: use the parameter, not `t`,
 * afterwards. A `t` produced by an op is cut from the graph (a parameter is always a leaf).
 */
export class Parameter extends Tensor {
  constructor(t: Tensor) {
    t._checkAlive("nn.Parameter");
    // The parameter's own reference; t's goes with t.dispose() below. If t is an int tensor,
    // the constructor throws and gives this reference back itself, leaving t as it was.
    t._storage.retain();
    super(t._storage, true);
    t.dispose();
    keep(this);
  }
}

/** Makes `t` a {@link Parameter} (consuming `t`; see there). Kept for code written before `nn.Parameter`. */
export function parameter(t: Tensor): Parameter {
  return new Parameter(t);
}

/** True for {@link Parameter}s. */
export function isParameter(x: unknown): x is Parameter {
  return x instanceof Parameter;
}

/** What a field holds that the walk in {@link holdsUnregistered} reports. */
function kindOf(x: unknown): string | null {
  if (x instanceof Module) return "a Module";
  if (x instanceof Parameter) return "an nn.Parameter";
  return null;
}

/**
 * The first Module or Parameter inside an Array, Map, Set or plain object (to any depth), or
 * null. Such a container hides them from registration, which is the silent bug PyTorch users hit
 * when porting `self.layers = [...]`: the parameters would never be trained or saved.
 */
function holdsUnregistered(root: unknown): string | null {
  const seen = new Set<unknown>();
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const x = pending.pop();
    if (x === null || typeof x !== "object" || seen.has(x)) continue;
    seen.add(x);
    const kind = x === root ? null : kindOf(x);
    if (kind) return kind;
    // Loops, not spreads: a field may hold a long array of numbers.
    if (Array.isArray(x)) for (let i = 0; i < x.length; i++) pending.push(x[i]);
    else if (x instanceof Map) for (const v of x.values()) pending.push(v);
    else if (x instanceof Set) for (const v of x) pending.push(v);
    else if (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null) for (const v of Object.values(x)) pending.push(v);
  }
  return null;
}

/** `an Array`, `a Map`, `a Set` or `a plain object`, for errors. */
function containerName(x: object): string {
  return Array.isArray(x) ? "an Array" : x instanceof Map ? "a Map" : x instanceof Set ? "a Set" : "a plain object";
}

/**
 * Base class of layers and models, like `torch.nn.Module`.
 *
 * **Registration.** There is no `__setattr__` to hook in JavaScript, so sub-modules and
 * parameters are discovered instead: every own enumerable field of the instance that holds a
 * {@link Module} or a {@link Parameter} is registered under the field's name, in the order the
 * fields were created (declared TypeScript fields are created in declaration order before the
 * constructor body runs; fields only assigned in the constructor, in assignment order; integer
 * names such as `0`, `1` come first, as JavaScript orders them). That gives PyTorch's names:
 * `fc1.weight` for a field `fc1`, `layers.0.weight` for an {@link ModuleList} field `layers`.
 *
 * Modules or parameters kept in an Array, Map, Set or plain object cannot be registered; rather
 * than train without them, `parameters()` (and everything else that walks the module) throws,
 * naming the field and pointing to `nn.ModuleList` / `nn.ModuleDict` (`nn.ParameterList` /
 * `nn.ParameterDict` for parameters). Fields declared
 * `#private` are invisible to any JavaScript code, so modules or parameters there are neither
 * registered nor detectable: use a TypeScript `private` field instead.
 *
 * A module or parameter reachable under two names is listed once, under the first (as PyTorch).
 */
export abstract class Module {
  /** Training mode: `Dropout` is active only in it; set by `train()` / `eval()`. */
  training = true;

  /** The computation. */
  abstract forward(x: Tensor, ...rest: Tensor[]): Tensor;

  /**
   * The registered fields: `[name, value]` for each own enumerable field holding a Module or a
   * Parameter. Throws if a field hides modules or parameters in a container (see the class doc).
   * Containers (`ModuleList`, `ModuleDict`) override it.
   */
  protected registeredFields(): [string, Module | Parameter][] {
    const out: [string, Module | Parameter][] = [];
    for (const [name, value] of Object.entries(this)) {
      if (value instanceof Module || value instanceof Parameter) {
        out.push([name, value]);
        continue;
      }
      if (value === null || typeof value !== "object" || value instanceof Tensor) continue;
      const hidden = holdsUnregistered(value);
      if (hidden) {
        throw new DualgradError(
          `nn.Module: ${this.constructor.name}.${name} is ${containerName(value)} holding ${hidden}, which cannot be registered ` +
            `(it would be neither trained nor saved); use nn.ModuleList (or nn.ModuleDict for named ones) for modules, ` +
            `nn.ParameterList (or nn.ParameterDict) for parameters`,
        );
      }
    }
    return out;
  }

  /** Direct sub-modules with their names. */
  namedChildren(): [string, Module][] {
    return this.registeredFields().filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  /** Direct sub-modules. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and every sub-module, recursively, with dotted names (this one is `""`), each once. */
  namedModules(prefix = "", seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.namedChildren()) out.push(...child.namedModules(prefix === "" ? name : `${prefix}.${name}`, seen));
    return out;
  }

  /** This module and every sub-module, recursively. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Every parameter, recursively, with dotted PyTorch names (`layers.0.weight`), each tensor once. */
  namedParameters(prefix = ""): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    for (const [path, m] of this.namedModules()) {
      for (const [name, p] of m.registeredFields()) {
        if (!(p instanceof Parameter) || seen.has(p)) continue;
        seen.add(p);
        out.push([`${prefix}${path === "" ? "" : `${path}.`}${name}`, p]);
      }
    }
    return out;
  }

  /** Every parameter, recursively. */
  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Sets training mode on this module and its children. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode. */
  eval(): this {
    return this.train(false);
  }

  /** Clears (sets to null) every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
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

  /** The text inside this module's parentheses in {@link toString} (PyTorch's `extra_repr`); layers override it. */
  extraRepr(): string {
    return "";
  }

  /**
   * The module tree as PyTorch prints it (`print(model)`): the class name, `extraRepr()`, and
   * each child as `(name): ...`, indented.
   */
  toString(): string {
    const children = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (children.length === 0) return `${head})`;
    const lines = children.map(([name, m]) => `  (${name}): ${m.toString().split("\n").join("\n  ")}`);
    return `${head}\n${lines.join("\n")}\n)`;
  }

  /** Releases every parameter (and its gradient). */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}
