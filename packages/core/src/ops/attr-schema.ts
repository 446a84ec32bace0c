import { isDType } from "../dtype.js";
import type { Attrs, CompareKind, Prim } from "./prim.js";

/**
 * The attribute schema of every primitive, as data: what a reader of untrusted attributes (graph
 * JSON) checks them against. It sits next to the primitive set (./prim.ts) and is a mapped type
 * over it, like the rule tables, so a new primitive or attribute without its schema entry is a
 * compile error here.
 */

/** What an attribute value may be; `ints` allows negatives (reshape's -1, negative axes). */
export type AttrType = "bool" | "number" | "int" | "ints" | "axes" | "dtype" | "compare";

const REDUCE = { axes: "axes", keepdims: "bool" } as const;

/** Attribute types of every primitive: exactly the keys of its `Attrs` entry. */
export const ATTR_SCHEMA: { readonly [P in Prim]: { readonly [K in keyof Attrs[P]]-?: AttrType } } = {
  neg: {},
  exp: {},
  log: {},
  sqrt: {},
  abs: {},
  relu: {},
  tanh: {},
  sigmoid: {},
  pow: { exponent: "number" },
  add: {},
  sub: {},
  mul: {},
  div: {},
  maximum: {},
  minimum: {},
  compare: { kind: "compare" },
  where: {},
  sum: REDUCE,
  mean: REDUCE,
  max: REDUCE,
  logsumexp: REDUCE,
  argmax: { axis: "int", keepdims: "bool" },
  log_softmax: { axis: "int" },
  reshape: { shape: "ints" },
  transpose: { perm: "ints" },
  broadcast_to: { shape: "ints" },
  slice: { begin: "ints", end: "ints" },
  pad: { before: "ints", after: "ints" },
  matmul: { transA: "bool", transB: "bool" },
  one_hot: { depth: "int", dtype: "dtype" },
  cast: { dtype: "dtype" },
};

/** The kinds of `compare`, for checking a value at run time (a record, so a missing kind is a compile error). */
const COMPARE_KIND: { readonly [K in CompareKind]: true } = { gt: true, ge: true, lt: true, le: true, eq: true, ne: true };

/** The compare kinds in order, for messages. */
export const COMPARE_KINDS = Object.keys(COMPARE_KIND) as readonly CompareKind[];

/** Whether `v` is a valid value of an attribute of type `type`. */
export function attrOk(type: AttrType, v: unknown): boolean {
  switch (type) {
    case "bool":
      return typeof v === "boolean";
    case "number":
      return typeof v === "number";
    case "int":
      return Number.isSafeInteger(v);
    case "ints":
      return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x));
    case "axes":
      return v === null || (Array.isArray(v) && v.every((x) => Number.isSafeInteger(x)));
    case "dtype":
      return isDType(v);
    case "compare":
      return typeof v === "string" && Object.hasOwn(COMPARE_KIND, v);
  }
}

/** Each attribute type in words, for error messages (`attribute transB must be a boolean`). */
export const ATTR_TYPE_NAME: { readonly [T in AttrType]: string } = {
  bool: "a boolean",
  number: "a number",
  int: "an integer",
  ints: "an array of integers",
  axes: "null or an array of integers",
  dtype: "a dtype (float32, float64, int32)",
  compare: `one of ${COMPARE_KINDS.join(", ")}`,
};
