import { describe, expect, it } from "vitest";
import { ATTR_SCHEMA, PRIMS, execute, inferMeta, ops, releaseValue, valueFrom, type AttrType, type Meta, type Prim } from "../src/index.js";

/** Inputs of the right arity (two for a variadic one); attributes are checked before shapes, so any metas will do. */
const metas = (prim: Prim): Meta[] => {
  const arity = ops[prim].arity;
  return Array.from({ length: arity === "variadic" ? 2 : arity }, () => ({ shape: [2], dtype: "float32" }));
};

/** A value of each attribute type. */
const VALID: Record<AttrType, unknown> = { bool: false, number: 2, int: 0, ints: [0], axes: null, dtype: "float32", compare: "gt" };

/** A value of the wrong type for every attribute type (a string: what untyped JavaScript passes by mistake). */
const WRONG = "1";

describe("attributes are checked where every op enters core", () => {
  it("a string pow exponent is refused, and later pow calls still compute x^2 (no poisoned kernel)", () => {
    const x = valueFrom("float32", [2], [2, 3]);
    expect(() => execute("pow", [x], { exponent: "2" } as never)).toThrow(/^pow: attribute exponent must be a number, got "2"$/);
    const y = execute("pow", [x], { exponent: 2 });
    expect(Array.from(y.data)).toEqual([4, 9]);
    releaseValue(x);
    releaseValue(y);
  });

  it("every attribute of every primitive: a mistyped, missing or unknown one is an error naming the op and the attribute", () => {
    let checked = 0;
    for (const prim of PRIMS) {
      const schema = ATTR_SCHEMA[prim] as Record<string, AttrType>;
      const valid = Object.fromEntries(Object.entries(schema).map(([k, type]) => [k, VALID[type]]));
      for (const key of Object.keys(schema)) {
        expect(() => inferMeta(prim, metas(prim), { ...valid, [key]: WRONG } as never)).toThrow(new RegExp(`^${prim}: attribute ${key} must be .*, got "1"$`));
        const missing = { ...valid };
        delete missing[key];
        expect(() => inferMeta(prim, metas(prim), missing as never)).toThrow(new RegExp(`^${prim}: missing attribute ${key} `));
        checked++;
      }
      expect(() => inferMeta(prim, metas(prim), { ...valid, bogus: 1 } as never)).toThrow(`${prim}: unknown attribute "bogus" for ${prim}`);
      expect(() => inferMeta(prim, metas(prim), null as never)).toThrow(`${prim}: attrs must be an object, got null`);
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  it("reduce axes, matmul flags and compare kinds of the wrong type are refused instead of being coerced", () => {
    const m: Meta = { shape: [2, 2], dtype: "float32" };
    expect(() => inferMeta("sum", [m], { axes: ["0"], keepdims: false } as never)).toThrow(/^sum: attribute axes must be null or an array of integers, got \["0"\]$/);
    expect(() => inferMeta("sum", [m], { axes: null, keepdims: "false" } as never)).toThrow(/^sum: attribute keepdims must be a boolean/);
    expect(() => inferMeta("matmul", [m, m], { transA: 0, transB: false } as never)).toThrow(/^matmul: attribute transA must be a boolean, got 0$/);
    expect(() => inferMeta("compare", [m, m], { kind: "gte" } as never)).toThrow(/^compare: attribute kind must be one of gt, ge, lt, le, eq, ne, got "gte"$/);
    expect(inferMeta("pow", [m], { exponent: Number.NaN })).toEqual({ shape: [2, 2], dtype: "float32" });
  });
});
