import type { DType } from "../dtype.js";
import type { Attrs } from "./prim.js";

/**
 * The types of elementwise primitives and of elementwise programs, with no code: the rule table
 * (./elementwise.ts), the program compilers (../kernels/elementwise-program.ts, the wasm one) and
 * the frontends all name them, and a types-only module keeps those imports from forming cycles.
 */

/** Elementwise primitives: one output element from the same-index element of each (broadcast) input. */
export type ElementwisePrim =
  | "neg" | "exp" | "log" | "sqrt" | "abs" | "relu" | "tanh" | "sigmoid" | "pow"
  | "add" | "sub" | "mul" | "div" | "maximum" | "minimum" | "compare" | "where";

/**
 * Where an op's operand comes from: kernel input `index`, the result of op `index` (an earlier
 * one of the same program), or a scalar constant inlined into the generated code.
 */
export type ElementwiseOperand = { readonly from: "in" | "op"; readonly index: number } | { readonly from: "const"; readonly value: number };

/**
 * One op of an elementwise program: a primitive, its attributes, and its operands in the
 * primitive's order. `dtype` is the op's result type: when given, the generated JavaScript rounds
 * the result to it right where an unfused program would store it (so a fused chain gives the
 * unfused chain's bits); when omitted (a single-op kernel shared by every dtype) the output's
 * store does the rounding, which is only right for the last op. The wasm compilation runs float32
 * only, so it accepts `"float32"` or no dtype.
 */
export interface ElementwiseOp<P extends ElementwisePrim = ElementwisePrim> {
  readonly prim: P;
  readonly attrs: Attrs[P];
  readonly operands: readonly ElementwiseOperand[];
  readonly dtype?: DType;
}

/**
 * An elementwise program: ops over the kernel's inputs, each reading inputs, constants or
 * earlier ops; the last op is the output. One program is compiled once to JavaScript and once
 * to WebAssembly SIMD (see compileProgram). It is the graph's fused-node attributes, a primitive's
 * one-op kernel, and eager's fused SGD update.
 */
export interface ElementwiseProgram {
  readonly ops: readonly ElementwiseOp[];
}
