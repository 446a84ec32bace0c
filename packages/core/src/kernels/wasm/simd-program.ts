/**
 * The SIMD code of an elementwise program (../../ops/elementwise-types.ts), emitted into any
 * function over v128 locals: the loop of ./elementwise-wasm.ts and the gemm epilogue of
 * ./gemm-wasm.ts both run it, so a program fused into a gemm's store gives the elementwise
 * kernel's bits (the numerics are described in ./elementwise-wasm.ts). A file of its own so that
 * neither of those modules imports the other.
 */
import type { ElementwiseOp } from "../../ops/elementwise-types.js";
import type { Attrs, CompareKind } from "../../ops/prim.js";
import { ValType, type FunctionBuilder, type Local } from "./emitter.js";
import { emitSimdMath } from "./simd-math.js";

const V128 = ValType.v128;

/** The f32x4 comparison of each compare kind (the JavaScript `>`, `>=`, `<`, `<=`, `===`, `!==`). */
export const COMPARE = { gt: "f32x4.gt", ge: "f32x4.ge", lt: "f32x4.lt", le: "f32x4.le", eq: "f32x4.eq", ne: "f32x4.ne" } as const satisfies Record<CompareKind, string>;

/**
 * Emits the program over the v128 locals `inputs`, leaving the last op's result on the stack.
 * Intermediate results go to fresh locals.
 */
export function emitProgram(f: FunctionBuilder, ops: readonly ElementwiseOp[], inputs: readonly Local[]): void {
  const results: Local[] = [];
  ops.forEach((op, k) => {
    const arg = op.operands.map((o) => () => {
      if (o.from === "const") f.f32x4Const(o.value);
      else f.get(o.from === "in" ? inputs[o.index] : results[o.index]);
    });
    emitOp(f, op, arg);
    if (k < ops.length - 1) {
      results.push(f.local(V128));
      f.set(results[k]);
    }
  });
}

/** Emits one op; `arg[i]()` pushes operand i (cheap to repeat: a local or a constant). */
function emitOp(f: FunctionBuilder, op: ElementwiseOp, arg: (() => void)[]): void {
  const [a, b] = arg;
  const zero = () => f.v128Zero();
  switch (op.prim) {
    case "add":
    case "sub":
    case "mul":
    case "div":
      a();
      b();
      f.simd(`f32x4.${op.prim}`);
      return;
    case "neg":
    case "abs":
    case "sqrt":
      a();
      f.simd(`f32x4.${op.prim}`);
      return;
    case "exp":
    case "log":
    case "tanh":
    case "sigmoid":
      a();
      emitSimdMath(f, op.prim);
      return;
    case "relu": // x < 0 ? 0 : x  ==  x & ~(x < 0): keeps -0 and NaN as the JavaScript does
      a();
      a();
      zero();
      f.simd("f32x4.lt").simd("v128.andnot");
      return;
    case "maximum": // a > b || a !== a ? a : b
    case "minimum": // a < b || a !== a ? a : b
      a();
      b();
      a();
      b();
      f.simd(op.prim === "maximum" ? "f32x4.gt" : "f32x4.lt");
      a();
      a();
      f.simd("f32x4.ne").simd("v128.or").simd("v128.bitselect");
      return;
    case "compare": // (a OP b ? 1 : 0): the all-ones mask and 1.0's bits
      a();
      b();
      f.simd(COMPARE[(op.attrs as Attrs["compare"]).kind]).f32x4Const(1).simd("v128.and");
      return;
    case "where": {
      // (cond !== 0 ? x : y); f32x4.ne agrees with !== on NaN (true) and -0 (false).
      const [cond, x, y] = arg;
      x();
      y();
      cond();
      zero();
      f.simd("f32x4.ne").simd("v128.bitselect");
      return;
    }
    case "pow": {
      const e = (op.attrs as Attrs["pow"]).exponent;
      if (e === 0) f.f32x4Const(1); // Math.pow(x, 0) is 1 even for NaN
      else if (e === 1) a();
      else {
        a();
        a();
        f.simd("f32x4.mul");
      }
      return;
    }
    default: {
      // A primitive added to ElementwisePrim without a case here is a compile error.
      const unhandled: never = op.prim;
      throw new Error(`wasm elementwise: no code for ${String(unhandled)}`);
    }
  }
}
