import type { DType } from "../dtype.js";
import { ELEMENTWISE, isElementwisePrim, numberLiteral } from "../ops/elementwise.js";
import type { ElementwiseOp, ElementwiseOperand, ElementwisePrim, ElementwiseProgram } from "../ops/elementwise-types.js";
import { dispatchElementwise } from "./elementwise-dispatch.js";
import { compileElementwise, inputVar, type ElementwiseKernel } from "./elementwise.js";

/**
 * Compiling an elementwise program (../ops/elementwise-types.ts): the one way a primitive's
 * kernel, a graph's fused kernel and eager's fused SGD update are made. The JavaScript
 * compilation inlines each op's scalar expression from the ELEMENTWISE table into one loop (one
 * store per element, no intermediate buffers); ./wasm/elementwise-wasm.ts compiles the same
 * program to WebAssembly SIMD; ./elementwise-dispatch.ts picks one per call.
 *
 * Every op with a dtype has its result rounded to it (Math.fround for float32, `| 0` for int32)
 * exactly where the unfused program would have stored it to a typed array, so a fused program
 * gives bitwise the same results as the ops it replaces.
 */

function operandExpr(o: ElementwiseOperand): string {
  if (o.from === "const") return numberLiteral(o.value);
  return o.from === "in" ? inputVar(o.index) : `t${o.index}`;
}

function roundedTo(dtype: DType | undefined, expr: string): string {
  if (dtype === "float32") return `Math.fround(${expr})`;
  if (dtype === "int32") return `((${expr}) | 0)`;
  return expr;
}

function opExpr<P extends ElementwisePrim>(op: ElementwiseOp<P>): string {
  // Programs may come from a file (graph JSON): name a primitive the table does not have.
  if (!isElementwisePrim(op.prim)) throw new Error(`elementwise program: ${op.prim} is not elementwise`);
  return roundedTo(op.dtype, ELEMENTWISE[op.prim].expr(op.operands.map(operandExpr), op.attrs));
}

/**
 * The generated JavaScript of a program: `{ prelude, expr }` for compileElementwise's loop, the
 * prelude holding one `const t{k} = ...;` per op but the last, whose expression is `expr`.
 *
 * @throws Error for an op that is not elementwise, or an op before the last without a dtype
 *   (its result could not be rounded where it would have been stored).
 */
export function programSource(program: ElementwiseProgram): { prelude: string; expr: string } {
  const last = program.ops.length - 1;
  if (last < 0) throw new Error("elementwise program: no ops");
  const exprs = program.ops.map((op, k) => {
    if (k < last && op.dtype === undefined) throw new Error(`elementwise program: op ${k} (${op.prim}) needs a dtype (only the last op may leave rounding to the store)`);
    return opExpr(op);
  });
  return { prelude: exprs.slice(0, last).map((e, k) => `const t${k} = ${e};`).join(" "), expr: exprs[last] };
}

/**
 * The kernel of a program over `arity` inputs: its JavaScript compilation wrapped by
 * dispatchElementwise, which runs the WebAssembly SIMD compilation instead for float32 calls
 * that pay for it. Both compilations are cached by the program's source and dtypes, so equal
 * programs (eager's SGD update and the graph's fused one, say) share one kernel.
 */
export function compileProgram(program: ElementwiseProgram, arity: number): ElementwiseKernel {
  const { prelude, expr } = programSource(program);
  // The dtypes are in the key because float64 and "no dtype" generate the same JavaScript but
  // only the latter may run in wasm.
  const key = `program:${arity}:${program.ops.map((op) => op.dtype ?? "").join(",")}:${prelude}|${expr}`;
  return dispatchElementwise(key, arity, program.ops, compileElementwise(key, arity, expr, prelude));
}
