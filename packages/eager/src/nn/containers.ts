import { DualgradError } from "@dualgrad/core";
import { Tensor } from "../tensor.js";
import { Module, Parameter } from "./module.js";

/**
 * What a list or dict container holds and how an entry is checked on the way in (`Parameter`
 * containers also accept a plain tensor and make it a parameter, as PyTorch's do).
 */
interface EntryKind<T> {
  /** The entry to store, or a thrown error naming `where`. */
  admit(x: unknown, where: string): T;
}

const MODULE_ENTRY: EntryKind<Module> = {
  admit(x, where) {
    if (!(x instanceof Module)) throw new DualgradError(`${where} must be an nn.Module, got ${describe(x)}`);
    return x;
  },
};

const PARAMETER_ENTRY: EntryKind<Parameter> = {
  admit(x, where) {
    if (x instanceof Parameter) return x;
    if (x instanceof Tensor) return new Parameter(x);
    throw new DualgradError(`${where} must be an nn.Parameter or a Tensor, got ${describe(x)}`);
  },
};

/**
 * The list containers' shared part: entries are stored as the fields `0`, `1`, ... of the list
 * itself, which is what makes {@link Module}'s discovery register them under their index (so a
 * field `layers` holding one gives `layers.0.weight`), and what makes `list[i]` work.
 */
abstract class ListContainer<T extends Module | Parameter> extends Module implements Iterable<T> {
  readonly [index: number]: T;
  #length = 0;
  // Private (#) so that neither registration nor tidy walks it.
  readonly #kind: EntryKind<T>;

  protected constructor(kind: EntryKind<T>, entries: Iterable<unknown>) {
    super();
    this.#kind = kind;
    this.extend(entries as Iterable<T>);
  }

  /** Number of entries. */
  get length(): number {
    return this.#length;
  }

  /** Adds `entry` at the end; returns this list. */
  append(entry: T): this {
    (this as unknown as Record<number, T>)[this.#length] = this.#kind.admit(entry, `${this.constructor.name}: entry ${this.#length}`);
    this.#length++;
    return this;
  }

  /** Appends every entry of `entries`; returns this list. */
  extend(entries: Iterable<T>): this {
    for (const e of entries) this.append(e);
    return this;
  }

  /** The entry at `index` (negative counts from the end), or an error naming the index. */
  at(index: number): T {
    const i = index < 0 ? this.#length + index : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.#length) {
      throw new DualgradError(`${this.constructor.name}: index ${index} is out of range for a list of ${this.#length}`);
    }
    return this[i];
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.#length; i++) yield this[i];
  }

  /** A container has no forward of its own (as in PyTorch): use its entries in the owner's forward. */
  forward(_x: Tensor): Tensor {
    throw new DualgradError(`${this.constructor.name} has no forward; use its entries from the owning module's forward (for (const m of this.layers) ...)`);
  }
}

/**
 * The dict containers' shared part: entries live in a Map (not as fields), so any string is a
 * valid key, even one that names a Module method; they are registered under their keys in
 * insertion order.
 */
abstract class DictContainer<T extends Module | Parameter> extends Module implements Iterable<[string, T]> {
  #entries = new Map<string, T>();
  readonly #kind: EntryKind<T>;

  protected constructor(kind: EntryKind<T>, entries: Record<string, unknown> | Iterable<[string, unknown]>) {
    super();
    this.#kind = kind;
    this.update(entries as Record<string, T>);
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** Adds or replaces the entry under `key`; returns this dict. */
  set(key: string, entry: T): this {
    const api = this.constructor.name;
    if (typeof key !== "string" || key === "" || key.includes(".")) {
      throw new DualgradError(`${api}: key must be a non-empty string without '.', got ${JSON.stringify(key)}`);
    }
    this.#entries.set(key, this.#kind.admit(entry, `${api}: '${key}'`));
    return this;
  }

  /** The entry under `key`, or an error listing the keys. */
  get(key: string): T {
    const e = this.#entries.get(key);
    if (!e) throw new DualgradError(`${this.constructor.name}: no entry '${key}' (keys: ${[...this.#entries.keys()].join(", ") || "none"})`);
    return e;
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Removes the entry under `key` (without disposing it); returns whether there was one. */
  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  /** Adds every entry of `entries`; returns this dict. */
  update(entries: Record<string, T> | Iterable<[string, T]>): this {
    const pairs = Symbol.iterator in entries ? (entries as Iterable<[string, T]>) : Object.entries(entries);
    for (const [k, e] of pairs) this.set(k, e);
    return this;
  }

  /** The keys, in insertion order. */
  keys(): IterableIterator<string> {
    return this.#entries.keys();
  }

  /** The entries, in insertion order. */
  values(): IterableIterator<T> {
    return this.#entries.values();
  }

  /** `[key, entry]` pairs, in insertion order. */
  entries(): IterableIterator<[string, T]> {
    return this.#entries.entries();
  }

  [Symbol.iterator](): Iterator<[string, T]> {
    return this.#entries.entries();
  }

  protected override registeredFields(): [string, Module | Parameter][] {
    return [...super.registeredFields(), ...this.#entries];
  }

  /** A container has no forward of its own (as in PyTorch): use its entries in the owner's forward. */
  forward(_x: Tensor): Tensor {
    throw new DualgradError(`${this.constructor.name} has no forward; use its entries from the owning module's forward (this.heads.get("name"))`);
  }
}

/**
 * Sub-modules in a list, like `torch.nn.ModuleList`: registered under their index, so a field
 * `layers = new nn.ModuleList([...])` gives `layers.0.weight`, `layers.1.bias`. Index it
 * (`layers[0]`), iterate it, or `append`/`extend` it.
 */
export class ModuleList<T extends Module = Module> extends ListContainer<T> {
  constructor(modules: Iterable<T> = []) {
    super(MODULE_ENTRY as EntryKind<T>, modules);
  }
}

/** Sub-modules by name, like `torch.nn.ModuleDict`: a field `heads = new nn.ModuleDict({ a, b })` gives `heads.a.weight`. */
export class ModuleDict<T extends Module = Module> extends DictContainer<T> {
  constructor(modules: Record<string, T> | Iterable<[string, T]> = {}) {
    super(MODULE_ENTRY as EntryKind<T>, modules);
  }
}

/**
 * Parameters in a list, like `torch.nn.ParameterList`: a field `ws = new nn.ParameterList([...])`
 * gives `ws.0`, `ws.1`. A plain tensor put in becomes an {@link Parameter} (consumed, see there).
 */
export class ParameterList extends ListContainer<Parameter> {
  constructor(parameters: Iterable<Tensor> = []) {
    super(PARAMETER_ENTRY, parameters);
  }

  /** Adds `t` (made a Parameter if it is a plain tensor) at the end; returns this list. */
  override append(t: Tensor): this {
    return super.append(t as Parameter);
  }
}

/** Parameters by name, like `torch.nn.ParameterDict`: a field `scales = new nn.ParameterDict({ a })` gives `scales.a`. */
export class ParameterDict extends DictContainer<Parameter> {
  constructor(parameters: Record<string, Tensor> | Iterable<[string, Tensor]> = {}) {
    super(PARAMETER_ENTRY, parameters);
  }

  /** Adds or replaces `t` (made a Parameter if it is a plain tensor) under `key`; returns this dict. */
  override set(key: string, t: Tensor): this {
    return super.set(key, t as Parameter);
  }
}

function describe(x: unknown): string {
  return x === null ? "null" : typeof x === "object" ? (x.constructor?.name ?? "an object") : typeof x;
}
