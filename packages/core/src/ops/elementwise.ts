import type { DType } from "../dtype.js";
import { isFloat } from "../dtype.js";
import { ShapeError } from "../errors.js";
import { broadcastShapes, formatShape } from "../shape.js";
import { compileElementwise, referenceElementwise, type ElementwiseKernel } from "../kernels/elementwise.js";
import { dispatchElementwise } from "../kernels/elementwise-dispatch.js";
import type { Attrs, Emitter, Meta, OpDef, OpTable } from "./prim.js";
import { mul, scale, sumTo } from "./vjp-helpers.js";

/** Elementwise primitives: one output element from the same-index element of each (broadcast) input. */
export type ElementwisePrim =
  | "neg" | "exp" | "log" | "sqrt" | "abs" | "relu" | "tanh" | "sigmoid" | "pow"
  | "add" | "sub" | "mul" | "div" | "maximum" | "minimum" | "compare" | "where";

/**
 * What makes an elementwise primitive: its scalar math twice, as a JS expression (inlined into
 * generated loops, and by the graph compiler into fused kernels) and as a function (for the
 * reference kernel), plus which dtypes it accepts and its VJP.
 */
export interface ElementwiseSpec<P extends ElementwisePrim> {
  readonly arity: number;
  /** `"float"`: floating inputs only (exp, log, ...); `"numeric"`: int32 too. */
  readonly accepts: "float" | "numeric";
  /** The expression over input locals (identifiers, never larger expressions). */
  expr(xs: readonly string[], attrs: Attrs[P]): string;
  /** The same math as a function, for the reference kernel. */
  scalar(attrs: Attrs[P]): (...xs: number[]) => number;
  vjp<T>(e: Emitter<T>, inputs: readonly T[], out: T, grad: T, attrs: Attrs[P], wants?: readonly boolean[]): (T | null)[];
}

const COMPARE_OPS = { gt: ">", ge: ">=", lt: "<", le: "<=", eq: "===", ne: "!==" } as const;

/** A JS literal for a number, NaN and infinities included (the global names are valid expressions). */
export function numberLiteral(x: number): string {
  if (Object.is(x, -0)) return "-0";
  return Number.isFinite(x) ? `(${x})` : Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "(-Infinity)";
}

function unary<P extends ElementwisePrim>(
  accepts: "float" | "numeric",
  expr: (x: string, attrs: Attrs[P]) => string,
  scalar: (attrs: Attrs[P]) => (x: number) => number,
  vjp: <T>(e: Emitter<T>, x: T, out: T, g: T, attrs: Attrs[P]) => T,
): ElementwiseSpec<P> {
  return {
    arity: 1,
    accepts,
    expr: (xs, attrs) => expr(xs[0], attrs),
    scalar: (attrs) => scalar(attrs) as (...xs: number[]) => number,
    vjp: (e, [x], out, g, attrs) => [vjp(e, x, out, g, attrs)],
  };
}

function binary<P extends ElementwisePrim>(
  accepts: "float" | "numeric",
  expr: (a: string, b: string, attrs: Attrs[P]) => string,
  scalar: (attrs: Attrs[P]) => (a: number, b: number) => number,
  vjp: <T>(e: Emitter<T>, a: T, b: T, out: T, g: T, attrs: Attrs[P], wants: readonly boolean[]) => (T | null)[],
): ElementwiseSpec<P> {
  return {
    arity: 2,
    accepts,
    expr: (xs, attrs) => expr(xs[0], xs[1], attrs),
    scalar: (attrs) => scalar(attrs) as (...xs: number[]) => number,
    vjp: (e, [a, b], out, g, attrs, wants = ALL) => vjp(e, a, b, out, g, attrs, wants),
  };
}

const ALL: readonly boolean[] = [true, true, true];

/**
 * The gradients of a broadcasting binary op, each summed back to its input's shape. They are
 * thunks so that a gradient nobody wants is never computed.
 */
function reduceBoth<T>(e: Emitter<T>, a: T, b: T, ga: () => T, gb: () => T, wants: readonly boolean[]): (T | null)[] {
  return [wants[0] ? sumTo(e, ga(), e.meta(a).shape) : null, wants[1] ? sumTo(e, gb(), e.meta(b).shape) : null];
}

/** Share of the gradient `a` receives from maximum/minimum: 1 where it wins, 1/2 on ties (as PyTorch). */
function winnerShare<T>(e: Emitter<T>, a: T, b: T, wins: "gt" | "lt"): T {
  const w = e.emit("compare", [a, b], { kind: wins });
  const tie = e.emit("compare", [a, b], { kind: "eq" });
  return e.emit("add", [w, scale(e, tie, 0.5)], {});
}

/** The elementwise rule table: scalar math, dtype rule and VJP of each elementwise primitive. */
export const ELEMENTWISE: { readonly [P in ElementwisePrim]: ElementwiseSpec<P> } = {
  neg: unary("numeric", (x) => `-${x}`, () => (x) => -x, (e, _x, _o, g) => e.emit("neg", [g], {})),
  exp: unary("float", (x) => `Math.exp(${x})`, () => Math.exp, (e, _x, out, g) => mul(e, g, out)),
  log: unary("float", (x) => `Math.log(${x})`, () => Math.log, (e, x, _o, g) => e.emit("div", [g, x], {})),
  sqrt: unary("float", (x) => `Math.sqrt(${x})`, () => Math.sqrt, (e, _x, out, g) => e.emit("div", [g, scale(e, out, 2)], {})),
  abs: unary("numeric", (x) => `Math.abs(${x})`, () => Math.abs, (e, x, _o, g) => {
    const zero = e.constant(0, e.meta(x).dtype);
    const sign = e.emit("sub", [e.emit("compare", [x, zero], { kind: "gt" }), e.emit("compare", [x, zero], { kind: "lt" })], {});
    return mul(e, g, sign);
  }),
  // `x < 0 ? 0 : x` rather than `x > 0 ? x : 0` so that NaN propagates, as in PyTorch.
  relu: unary("numeric", (x) => `(${x} < 0 ? 0 : ${x})`, () => (x) => (x < 0 ? 0 : x), (e, x, _o, g) =>
    mul(e, g, e.emit("compare", [x, e.constant(0, e.meta(x).dtype)], { kind: "gt" }))),
  tanh: unary("float", (x) => `Math.tanh(${x})`, () => Math.tanh, (e, _x, out, g) =>
    mul(e, g, e.emit("sub", [e.constant(1, e.meta(out).dtype), mul(e, out, out)], {}))),
  sigmoid: unary("float", (x) => `(1 / (1 + Math.exp(-${x})))`, () => (x) => 1 / (1 + Math.exp(-x)), (e, _x, out, g) =>
    mul(e, mul(e, g, out), e.emit("sub", [e.constant(1, e.meta(out).dtype), out], {}))),
  pow: unary(
    "float",
    (x, a) => `Math.pow(${x}, ${numberLiteral(a.exponent)})`,
    (a) => (x) => Math.pow(x, a.exponent),
    (e, x, _o, g, a) => {
      if (a.exponent === 1) return g;
      const d = a.exponent === 2 ? x : e.emit("pow", [x], { exponent: a.exponent - 1 });
      return mul(e, g, scale(e, d, a.exponent));
    },
  ),
  add: binary("numeric", (a, b) => `${a} + ${b}`, () => (a, b) => a + b, (e, a, b, _o, g, _at, wants) => reduceBoth(e, a, b, () => g, () => g, wants)),
  sub: binary("numeric", (a, b) => `${a} - ${b}`, () => (a, b) => a - b, (e, a, b, _o, g, _at, wants) =>
    reduceBoth(e, a, b, () => g, () => e.emit("neg", [g], {}), wants)),
  mul: binary("numeric", (a, b) => `${a} * ${b}`, () => (a, b) => a * b, (e, a, b, _o, g, _at, wants) =>
    reduceBoth(e, a, b, () => mul(e, g, b), () => mul(e, g, a), wants)),
  div: binary("float", (a, b) => `${a} / ${b}`, () => (a, b) => a / b, (e, a, b, _o, g, _at, wants) =>
    // PyTorch's form for the divisor: -g * a / (b * b).
    reduceBoth(e, a, b, () => e.emit("div", [g, b], {}), () => e.emit("div", [e.emit("neg", [mul(e, g, a)], {}), mul(e, b, b)], {}), wants)),
  maximum: binary("numeric", (a, b) => `(${a} > ${b} || ${a} !== ${a} ? ${a} : ${b})`, () => (a, b) => (a > b || a !== a ? a : b),
    (e, a, b, _o, g, _at, wants) => {
      const share = winnerShare(e, a, b, "gt");
      return reduceBoth(e, a, b, () => mul(e, g, share), () => mul(e, g, e.emit("sub", [e.constant(1, e.meta(share).dtype), share], {})), wants);
    }),
  minimum: binary("numeric", (a, b) => `(${a} < ${b} || ${a} !== ${a} ? ${a} : ${b})`, () => (a, b) => (a < b || a !== a ? a : b),
    (e, a, b, _o, g, _at, wants) => {
      const share = winnerShare(e, a, b, "lt");
      return reduceBoth(e, a, b, () => mul(e, g, share), () => mul(e, g, e.emit("sub", [e.constant(1, e.meta(share).dtype), share], {})), wants);
    }),
  compare: binary(
    "numeric",
    (a, b, at) => `(${a} ${COMPARE_OPS[at.kind]} ${b} ? 1 : 0)`,
    (at) => {
      const k = at.kind;
      return (a, b) => (k === "gt" ? a > b : k === "ge" ? a >= b : k === "lt" ? a < b : k === "le" ? a <= b : k === "eq" ? a === b : a !== b) ? 1 : 0;
    },
    () => [null, null],
  ),
  where: {
    arity: 3,
    accepts: "numeric",
    expr: ([c, a, b]) => `(${c} !== 0 ? ${a} : ${b})`,
    scalar: () => (c, a, b) => (c !== 0 ? a : b),
    vjp: (e, [c, a, b], _out, g) => {
      const zero = e.constant(0, e.meta(g).dtype);
      return [
        null,
        sumTo(e, e.emit("where", [c, g, zero], {}), e.meta(a).shape),
        sumTo(e, e.emit("where", [c, zero, g], {}), e.meta(b).shape),
      ];
    },
  },
};

/** Output meta of an elementwise primitive: broadcast shape, common dtype (checked). */
function inferElementwise<P extends ElementwisePrim>(prim: P, spec: ElementwiseSpec<P>, inputs: readonly Meta[]): Meta {
  if (inputs.length !== spec.arity) {
    throw new ShapeError(prim, `expected ${spec.arity} input(s), got ${inputs.length}`);
  }
  // `where`'s condition may have any dtype; the values it selects must agree.
  const valued = prim === "where" ? inputs.slice(1) : inputs;
  const dtype: DType = valued[0].dtype;
  for (const m of valued) {
    if (m.dtype !== dtype) {
      throw new ShapeError(prim, `dtype mismatch: ${inputs.map((x) => `${x.dtype}${formatShape(x.shape)}`).join(" vs ")} (cast one input first)`);
    }
  }
  if (spec.accepts === "float" && !isFloat(dtype)) {
    throw new ShapeError(prim, `expected a floating-point input, got ${dtype}${formatShape(inputs[0].shape)}`);
  }
  return { shape: broadcastShapes(prim, ...inputs.map((m) => m.shape)), dtype };
}

/**
 * Kernel cache key: the primitive plus the attributes that change its expression (only pow and
 * compare have any), written exactly as the expression inlines them, so two attribute values
 * share a kernel only when they generate the same code.
 */
function kernelKey(prim: string, attrs: object): string {
  const a = attrs as { exponent?: number; kind?: string };
  if (a.exponent !== undefined) return `${prim}:${numberLiteral(a.exponent)}`;
  if (a.kind !== undefined) return `${prim}:${a.kind}`;
  return prim;
}

function defineElementwise<P extends ElementwisePrim>(prim: P): OpDef<P> {
  const spec = ELEMENTWISE[prim] as ElementwiseSpec<P>;
  const vars = Array.from({ length: spec.arity }, (_, i) => `x${i}`);
  const operands = vars.map((_, index) => ({ from: "in" as const, index }));
  // One kernel per attribute variant, JS and wasm compilations of the same one-op program.
  const kernels = new Map<string, ElementwiseKernel>();
  const kernelFor = (attrs: Attrs[P]): ElementwiseKernel => {
    const key = kernelKey(prim, attrs);
    let k = kernels.get(key);
    if (!k) {
      k = dispatchElementwise(key, spec.arity, [{ prim, attrs, operands }], compileElementwise(key, spec.arity, spec.expr(vars, attrs)));
      kernels.set(key, k);
    }
    return k;
  };
  return {
    kind: "elementwise",
    arity: spec.arity,
    infer: (inputs) => inferElementwise(prim, spec, inputs),
    kernel: (inputs, out, attrs) => {
      kernelFor(attrs)(out.data, out.shape, inputs.map((v) => v.data), inputs.map((v) => v.shape));
    },
    reference: (inputs, out, attrs) =>
      referenceElementwise(out.data, out.shape, inputs.map((v) => v.data), inputs.map((v) => v.shape), spec.scalar(attrs)),
    vjp: (e, inputs, out, grad, attrs, wants) => spec.vjp(e, inputs, out, grad, attrs, wants),
  };
}

/** OpDefs of the elementwise primitives. */
export const elementwiseOps: OpTable<ElementwisePrim> = {
  neg: defineElementwise("neg"),
  exp: defineElementwise("exp"),
  log: defineElementwise("log"),
  sqrt: defineElementwise("sqrt"),
  abs: defineElementwise("abs"),
  relu: defineElementwise("relu"),
  tanh: defineElementwise("tanh"),
  sigmoid: defineElementwise("sigmoid"),
  pow: defineElementwise("pow"),
  add: defineElementwise("add"),
  sub: defineElementwise("sub"),
  mul: defineElementwise("mul"),
  div: defineElementwise("div"),
  maximum: defineElementwise("maximum"),
  minimum: defineElementwise("minimum"),
  compare: defineElementwise("compare"),
  where: defineElementwise("where"),
};
