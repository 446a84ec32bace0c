import { DualgradError } from "@dualgrad/core";

/**
 * Faithful text keys for JavaScript values, for the caches and tables that must tell values apart
 * exactly: the trace cache of `fn` (static arguments) and common subexpression elimination
 * (attributes). Two values get the same key only when they are interchangeable:
 * - numbers are exact: `-0`, `NaN`, `Infinity` and `-Infinity` stay apart (`JSON.stringify`
 *   writes `0`, `null`, `null`, `null`), and the number 1 is not the string "1";
 * - plain arrays and plain objects are keyed by their contents, recursively (object keys sorted,
 *   so `{a,b}` and `{b,a}` agree; `undefined` members are left out, as JSON does);
 * - functions, symbols and every other object (Map, Set, class instances, typed arrays) are keyed
 *   by identity: what they do or hold cannot be read off their text, so two of them only match
 *   when they are the same one.
 */

/** Identity numbers of the objects keyed by identity (weak: a key never keeps its object alive). */
const objectIds = new WeakMap<object, number>();
/** Symbols cannot be WeakMap keys in Node 20; they are few, so a strong map will do. */
const symbolIds = new Map<symbol, number>();
let nextId = 0;

function identity(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) objectIds.set(o, (id = ++nextId));
  return id;
}

function symbolIdentity(s: symbol): number {
  let id = symbolIds.get(s);
  if (id === undefined) symbolIds.set(s, (id = ++nextId));
  return id;
}

/** A number as text that keeps `-0`, `NaN` and the infinities apart. */
export function numberKey(v: number): string {
  return Object.is(v, -0) ? "-0" : String(v);
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * The key of `v` (see the module comment). Throws a DualgradError for a cyclic array or object,
 * which has no finite key.
 */
export function valueKey(v: unknown, ancestors?: Set<object>): string {
  switch (typeof v) {
    case "number":
      return numberKey(v);
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return String(v);
    case "undefined":
      return "undefined";
    case "bigint":
      return `${v}n`;
    case "symbol":
      return `symbol#${symbolIdentity(v)}`;
    case "function":
      return `function#${identity(v)}`;
  }
  if (v === null) return "null";
  const o = v as object;
  if (!Array.isArray(o) && !isPlainObject(o)) return `object#${identity(o)}`;
  // Most attribute records are `{}` (every unary and binary op): no set, no arrays.
  if (!Array.isArray(o) && Object.keys(o).length === 0) return "{}";
  const seen = ancestors ?? new Set<object>();
  if (seen.has(o)) throw new DualgradError("value key: a cyclic array or object has no key (it contains itself)");
  seen.add(o);
  try {
    if (Array.isArray(o)) return `[${o.map((x) => valueKey(x, seen)).join(",")}]`;
    const entries = Object.entries(o).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${valueKey(x, seen)}`).join(",")}}`;
  } finally {
    seen.delete(o);
  }
}
