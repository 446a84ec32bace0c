import { isDType } from "../dtype.js";
import { ShapeError } from "../errors.js";
import type { Attrs, Prim } from "./prim.js";

/**
 * The attribute schema of every primitive, checked where every op enters core (`inferMeta`, so
 * for eager calls and graph tracing alike) and by the graph JSON reader. Attributes reach
 * generated code and kernel caches (pow's exponent is inlined into a kernel cached by it), so a
 * mistyped one from untyped JavaScript (`pow(t, "2")`) must be refused at the op boundary, not
 * turned into a wrong kernel that later calls would reuse.
 */

/** The kinds of attribute values; `ints` allows negatives (reshape's -1, negative axes). */
export type AttrType = "bool" | "number" | "int" | "ints" | "axes" | "dtype" | "compare";

const REDUCE = { axes: "axes", keepdims: "bool" } as const;
const CONV = { stride: "ints", padding: "ints", dilation: "ints" } as const;
const POOL = { kernel: "ints", stride: "ints", padding: "ints" } as const;

/**
 * Attribute types of every primitive. A mapped type over `Prim`, like the rule tables, so a new
 * primitive (or a new attribute) without a schema entry is a compile error.
 */
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
  softmax_cross_entropy: {},
  softmax_cross_entropy_grad: {},
  reshape: { shape: "ints" },
  transpose: { perm: "ints" },
  broadcast_to: { shape: "ints" },
  slice: { begin: "ints", end: "ints" },
  pad: { before: "ints", after: "ints" },
  matmul: { transA: "bool", transB: "bool" },
  conv2d: CONV,
  conv2d_bias: CONV,
  conv2d_grad_input: { ...CONV, inputShape: "ints" },
  conv2d_grad_weight: { ...CONV, weightShape: "ints" },
  max_pool2d: POOL,
  max_pool2d_grad: POOL,
  max_pool2d_select: POOL,
  avg_pool2d: POOL,
  avg_pool2d_grad: { ...POOL, inputShape: "ints" },
  one_hot: { depth: "int", dtype: "dtype" },
  cast: { dtype: "dtype" },
  gather: { axis: "int" },
  index_add: { axis: "int", size: "int" },
  take_along_axis: { axis: "int" },
  scatter_add: { axis: "int", size: "int" },
  concat: { axis: "int" },
};

const COMPARE_KINDS: readonly string[] = ["gt", "ge", "lt", "le", "eq", "ne"];

/** Whether `v` is a value of attribute type `type`. */
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
      return typeof v === "string" && COMPARE_KINDS.includes(v);
  }
}

/** What each attribute type is, for messages ("must be a boolean"). */
export const ATTR_TYPE_NAME: Readonly<Record<AttrType, string>> = {
  bool: "a boolean",
  number: "a number",
  int: "an integer",
  ints: "an array of integers",
  axes: "null or an array of integers",
  dtype: "a dtype (float32, float64, int32)",
  compare: `one of ${COMPARE_KINDS.join(", ")}`,
};

/** A value as it appears in a message: strings quoted (so "2" is not mistaken for 2), long ones cut. */
export function showValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "symbol" || typeof v === "function") return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * What is wrong with `attrs` as the attributes of `prim` (not an object, or an unknown, missing
 * or mistyped key), or null when nothing is.
 */
export function attrsProblem(prim: Prim, attrs: unknown): string | null {
  if (!isRecord(attrs)) return `attrs must be an object, got ${showValue(attrs)}`;
  const schema = ATTR_SCHEMA[prim] as Readonly<Record<string, AttrType>>;
  for (const k in attrs) {
    if (!Object.prototype.hasOwnProperty.call(schema, k)) return `unknown attribute ${JSON.stringify(k)} for ${prim}`;
  }
  for (const k in schema) {
    const type = schema[k];
    if (!(k in attrs)) return `missing attribute ${k} (${ATTR_TYPE_NAME[type]})`;
    if (!attrOk(type, attrs[k])) return `attribute ${k} must be ${ATTR_TYPE_NAME[type]}, got ${showValue(attrs[k])}`;
  }
  return null;
}

/** Throws a ShapeError naming the op and the attribute when `attrs` are not valid attributes of `prim`. */
export function checkAttrs(prim: Prim, attrs: unknown): void {
  const problem = attrsProblem(prim, attrs);
  if (problem !== null) throw new ShapeError(prim, problem);
}
