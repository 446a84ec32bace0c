import {
  ELEMENTWISE, compileElementwise, dispatchElementwise, numberLiteral, type ElementwiseKernel, type ElementwisePrim, type WasmElementwiseOp,
} from "@dualgrad/core";
import type { FusedAttrs, FusedOp } from "./ir.js";

/**
 * Code generation for fused elementwise kernels: the chain's scalar expressions (taken from
 * core's ELEMENTWISE table, the same ones the single-op kernels inline) become one loop with
 * one store per element and no intermediate buffers. Every float32 intermediate is rounded with
 * Math.fround exactly where the unfused program would have stored it to a Float32Array, so a
 * fused kernel gives bitwise the same results as the ops it replaces.
 */

function operand(o: FusedOp["operands"][number]): string {
  if (o.from === "const") return numberLiteral(o.value);
  return o.from === "in" ? `x${o.index}` : `t${o.index}`;
}

function rounded(op: FusedOp, expr: string): string {
  if (op.dtype === "float32") return `Math.fround(${expr})`;
  if (op.dtype === "int32") return `((${expr}) | 0)`;
  return expr;
}

/** The generated source: `{ prelude, expr }` for core's elementwise loop generator. */
export function fusedSource(attrs: FusedAttrs): { prelude: string; expr: string } {
  const exprs = attrs.ops.map((op) => {
    const spec = ELEMENTWISE[op.prim as ElementwisePrim];
    if (!spec) throw new Error(`fused kernel: ${op.prim} is not elementwise`);
    return rounded(op, spec.expr(op.operands.map(operand), op.attrs as never));
  });
  const last = exprs.length - 1;
  return { prelude: exprs.slice(0, last).map((e, k) => `const t${k} = ${e};`).join(" "), expr: exprs[last] };
}

/**
 * The compiled kernel for a fused node with `arity` inputs (cached by its source): generated
 * WebAssembly SIMD for float32 programs big enough to pay for the call on the wasm backend,
 * generated JavaScript otherwise (core's dispatchElementwise chooses per call).
 */
export function fusedKernel(attrs: FusedAttrs, arity: number): ElementwiseKernel {
  const { prelude, expr } = fusedSource(attrs);
  const key = `fused:${arity}:${prelude}|${expr}`;
  return dispatchElementwise(key, arity, attrs.ops as readonly WasmElementwiseOp[], compileElementwise(key, arity, expr, prelude));
}
