import { DualgradError } from "@dualgrad/core";
import type { Tensor } from "../tensor.js";
import { Module, type Parameter } from "./module.js";

/**
 * Sub-modules in a list, like `torch.nn.ModuleList`: each is registered under its index, so a
 * field `layers = new nn.ModuleList([...])` gives the names `layers.0.weight`, `layers.1.bias`.
 * Index it (`layers[0]`), iterate it, or `append`/`extend` it. The modules are stored as the
 * fields `0`, `1`, ... of the list itself, which is what makes {@link Module}'s discovery see them.
 */
export class ModuleList<T extends Module = Module> extends Module implements Iterable<T> {
  readonly [index: number]: T;
  #length = 0;

  constructor(modules: Iterable<T> = []) {
    super();
    this.extend(modules);
  }

  /** Number of modules. */
  get length(): number {
    return this.#length;
  }

  /** Adds `module` at the end; returns this list. */
  append(module: T): this {
    if (!(module instanceof Module)) throw new DualgradError(`nn.ModuleList.append: expected an nn.Module, got ${describe(module)}`);
    (this as unknown as Record<number, T>)[this.#length++] = module;
    return this;
  }

  /** Appends every module of `modules`; returns this list. */
  extend(modules: Iterable<T>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** The module at `index` (negative counts from the end), or an error naming the index. */
  at(index: number): T {
    const i = index < 0 ? this.#length + index : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.#length) {
      throw new DualgradError(`nn.ModuleList: index ${index} is out of range for a list of ${this.#length}`);
    }
    return this[i];
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.#length; i++) yield this[i];
  }

  /** A ModuleList has no forward of its own (as in PyTorch): iterate it in the owner's forward. */
  forward(_x: Tensor): Tensor {
    throw new DualgradError(`nn.ModuleList has no forward; call its modules from the owning module's forward (for (const m of this.layers) ...)`);
  }
}

/**
 * Sub-modules by name, like `torch.nn.ModuleDict`: a field `heads = new nn.ModuleDict({ a, b })`
 * gives `heads.a.weight`, in insertion order. Keys are kept in a Map (not as fields), so any
 * string is a valid key, even one that names a Module method.
 */
export class ModuleDict<T extends Module = Module> extends Module implements Iterable<[string, T]> {
  #modules = new Map<string, T>();

  constructor(modules: Record<string, T> | Iterable<[string, T]> = {}) {
    super();
    this.update(modules);
  }

  /** Number of modules. */
  get size(): number {
    return this.#modules.size;
  }

  /** Adds or replaces the module under `key`; returns this dict. */
  set(key: string, module: T): this {
    if (typeof key !== "string" || key === "" || key.includes(".")) {
      throw new DualgradError(`nn.ModuleDict: key must be a non-empty string without '.', got ${JSON.stringify(key)}`);
    }
    if (!(module instanceof Module)) throw new DualgradError(`nn.ModuleDict: '${key}' must be an nn.Module, got ${describe(module)}`);
    this.#modules.set(key, module);
    return this;
  }

  /** The module under `key`, or an error listing the keys. */
  get(key: string): T {
    const m = this.#modules.get(key);
    if (!m) throw new DualgradError(`nn.ModuleDict: no module '${key}' (keys: ${[...this.#modules.keys()].join(", ") || "none"})`);
    return m;
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return this.#modules.has(key);
  }

  /** Removes the module under `key`; returns whether there was one. */
  delete(key: string): boolean {
    return this.#modules.delete(key);
  }

  /** Adds every entry of `modules`; returns this dict. */
  update(modules: Record<string, T> | Iterable<[string, T]>): this {
    const entries = Symbol.iterator in modules ? (modules as Iterable<[string, T]>) : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
    return this;
  }

  /** The keys, in insertion order. */
  keys(): IterableIterator<string> {
    return this.#modules.keys();
  }

  /** The modules, in insertion order. */
  values(): IterableIterator<T> {
    return this.#modules.values();
  }

  /** `[key, module]` pairs, in insertion order. */
  entries(): IterableIterator<[string, T]> {
    return this.#modules.entries();
  }

  [Symbol.iterator](): Iterator<[string, T]> {
    return this.#modules.entries();
  }

  protected override registeredFields(): [string, Module | Parameter][] {
    return [...super.registeredFields(), ...this.#modules];
  }

  /** A ModuleDict has no forward of its own (as in PyTorch): call its modules from the owner's forward. */
  forward(_x: Tensor): Tensor {
    throw new DualgradError(`nn.ModuleDict has no forward; call its modules from the owning module's forward (this.heads.get("name").forward(x))`);
  }
}

function describe(x: unknown): string {
  return x === null ? "null" : typeof x === "object" ? (x.constructor?.name ?? "an object") : typeof x;
}
