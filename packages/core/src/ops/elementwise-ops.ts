import type { DType } from "../dtype.js";
import { isFloat } from "../dtype.js";
import { DTypeError, ShapeError } from "../errors.js";
import { referenceElementwise, type ElementwiseKernel } from "../kernels/elementwise.js";
import { compileProgram } from "../kernels/elementwise-program.js";
import { broadcastShapes, formatShape } from "../shape.js";
import { ELEMENTWISE, numberLiteral, type ElementwiseSpec } from "./elementwise.js";
import type { ElementwiseOp, ElementwisePrim } from "./elementwise-types.js";
import type { Attrs, Meta, OpDef, OpTable } from "./prim.js";

/**
 * The elementwise primitives' definitions, built from the ELEMENTWISE rule table: shape and
 * dtype inference, the fast kernel (a one-op program, compiled like any fused one), the
 * reference kernel, and the VJP.
 */

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
      throw new DTypeError(prim, `dtype mismatch: ${inputs.map((x) => `${x.dtype}${formatShape(x.shape)}`).join(" vs ")} (cast one input first)`);
    }
  }
  if (spec.accepts === "float" && !isFloat(dtype)) {
    throw new DTypeError(prim, `expected a floating-point input, got ${dtype}${formatShape(inputs[0].shape)}`);
  }
  return { shape: broadcastShapes(prim, ...inputs.map((m) => m.shape)), dtype };
}

/** Kernel cache key: the primitive plus the attributes that change its expression (only pow and compare have any). */
function kernelKey(prim: string, attrs: object): string {
  const a = attrs as { exponent?: number; kind?: string };
  if (a.exponent !== undefined) return `${prim}:${numberLiteral(a.exponent)}`;
  if (a.kind !== undefined) return `${prim}:${a.kind}`;
  return prim;
}

function defineElementwise<P extends ElementwisePrim>(prim: P): OpDef<P> {
  const spec: ElementwiseSpec<P> = ELEMENTWISE[prim];
  const operands = Array.from({ length: spec.arity }, (_, index) => ({ from: "in" as const, index }));
  // One kernel per attribute variant: a one-op program with no dtype, so one JavaScript loop
  // serves every dtype (the output's typed array rounds the result).
  const kernels = new Map<string, ElementwiseKernel>();
  const kernelFor = (attrs: Attrs[P]): ElementwiseKernel => {
    const key = kernelKey(prim, attrs);
    let k = kernels.get(key);
    if (!k) {
      const op: ElementwiseOp<P> = { prim, attrs, operands };
      k = compileProgram({ ops: [op] }, spec.arity);
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
