import type { DType, TypedArray } from "../dtype.js";
import type { ElementwiseProgram } from "../ops/elementwise-types.js";
import { sizeOf, type Shape } from "../shape.js";
import { getBackend, matmulKernel } from "./backend.js";
import { WASM_ELEMENTWISE_MIN_SIZE } from "./elementwise-dispatch.js";
import { compileProgram, programSource } from "./elementwise-program.js";
import { MAX_EPILOGUE_OPERANDS, gemmWasm, type EpilogueLayout, type GemmEpilogueCall } from "./wasm/gemm-wasm.js";
import { wasmElementwiseSupported } from "./wasm/elementwise-wasm.js";

/**
 * A matrix product with an elementwise epilogue: `out = program(op(A) @ op(B), operands...)`,
 * the bias-add and activation after a linear layer, or the activation's backward mask after the
 * product that computes a hidden layer's gradient, in one kernel call.
 *
 * On the wasm backend (float32) the gemm applies the program to each strip of C right after its
 * last k-block is stored, while the strip is in L1 (./wasm/gemm-wasm.ts), instead of a second
 * pass over C. Everywhere else (float64, the js backend, a matrix-vector product, an operand
 * outside the heap, an output under {@link WASM_ELEMENTWISE_MIN_SIZE} elements) it runs the gemm,
 * then the program's own kernel over C in place: exactly the two kernels the unfused ops run.
 *
 * ## Bits
 *
 * The result is bitwise the unfused one's: the product is the same gemm, each epilogue op sees the
 * float32 value the gemm stored, and the fused path runs the generated SIMD code of the program's
 * wasm elementwise kernel, used exactly where the separate kernel would use it (the wasm backend,
 * float32, at least {@link WASM_ELEMENTWISE_MIN_SIZE} elements, a program the wasm compiler takes;
 * every broadcast against a matrix is one of its layouts). Lanes are independent and the epilogue
 * runs once per element after the last k-block, so neither the chunking nor the thread count
 * changes a bit.
 */

/** The layout of an operand of shape `shape` against an [m, n] output; null when it does not broadcast to it. */
export function epilogueLayout(shape: Shape, m: number, n: number): EpilogueLayout | null {
  if (shape.length > 2) return null;
  const rows = shape.length === 2 ? shape[0] : 1;
  const cols = shape.length >= 1 ? shape[shape.length - 1] : 1;
  if ((rows !== 1 && rows !== m) || (cols !== 1 && cols !== n)) return null;
  // Same element count as C: the operand's elements line up with C's (an [m,1] column when n = 1, say).
  if (rows * cols === m * n) return "full";
  if (rows * cols === 1) return "scalar";
  return rows === 1 ? "row" : "column";
}

/**
 * Runs one product-with-epilogue: `inputs` are A, B, then the program's operands (program input
 * k >= 1 is `inputs[k + 1]`; input 0 is the product); `out` is [m, n].
 */
export type GemmEpilogueKernel = (inputs: readonly { data: TypedArray; shape: Shape }[], out: { data: TypedArray; shape: Shape }, transA: boolean, transB: boolean) => void;

/**
 * The kernel of `program` as a matmul epilogue, for A [.., ..] and B [.., ..] (rank 2), an output
 * `outShape` [m, n] of `dtype` and operands of `operandShapes` (each broadcasting to [m, n]).
 * Compiles the program (and, on first fused call, the gemm variant for it) once; a call allocates
 * nothing.
 *
 * @throws RangeError when the output is not a matrix or an operand does not broadcast to it.
 */
export function compileGemmEpilogue(program: ElementwiseProgram, outShape: Shape, dtype: DType, operandShapes: readonly Shape[]): GemmEpilogueKernel {
  if (outShape.length !== 2) throw new RangeError(`gemm epilogue: the product must be a matrix, got shape [${outShape.join(",")}]`);
  const [m, n] = outShape;
  const layouts = operandShapes.map((s, k) => {
    const layout = epilogueLayout(s, m, n);
    if (layout === null) throw new RangeError(`gemm epilogue: operand ${k} of shape [${s.join(",")}] does not broadcast to [${m},${n}]`);
    return layout;
  });
  const arity = 1 + operandShapes.length;
  const separate = compileProgram(program, arity);
  const { prelude, expr } = programSource(program);
  const call: GemmEpilogueCall & { operands: Float32Array[] } = {
    key: `${layouts.join(",")}|${program.ops.map((op) => op.dtype ?? "").join(",")}:${prelude}|${expr}`,
    spec: { ops: program.ops, layouts },
    operands: new Array<Float32Array>(operandShapes.length),
  };
  // Whether the separate kernel would run the program's wasm code (see elementwise-dispatch.ts).
  // (An epilogue reading more operands than the gemm has room for runs as the separate kernel.)
  const wasmProgram =
    dtype === "float32" && sizeOf(outShape) >= WASM_ELEMENTWISE_MIN_SIZE && wasmElementwiseSupported(program.ops) && operandShapes.length <= MAX_EPILOGUE_OPERANDS;
  const datas = new Array<TypedArray>(arity);
  const shapes: Shape[] = [outShape, ...operandShapes];
  return (inputs, out, transA, transB) => {
    const [a, b] = inputs;
    const k = transA ? a.shape[0] : a.shape[1];
    const A = a.data as Float32Array | Float64Array, B = b.data as Float32Array | Float64Array, C = out.data as Float32Array | Float64Array;
    let fused = false;
    if (wasmProgram && getBackend() === "wasm" && C instanceof Float32Array && operandsFloat32(inputs, call.operands)) {
      fused = gemmWasm(m, n, k, A, 0, transA, B, 0, transB, C, 0, call);
    } else {
      matmulKernel(dtype)(m, n, k, A, 0, transA, B, 0, transB, C, 0);
    }
    if (fused) return;
    datas[0] = C;
    for (let i = 1; i < arity; i++) datas[i] = inputs[i + 1].data;
    separate(C, outShape, datas, shapes);
  };
}

/** Fills `into` with the operands (inputs 2..) when all are float32; false otherwise. */
function operandsFloat32(inputs: readonly { data: TypedArray }[], into: Float32Array[]): boolean {
  for (let i = 0; i < into.length; i++) {
    const d = inputs[i + 2].data;
    if (!(d instanceof Float32Array)) return false;
    into[i] = d;
  }
  return true;
}
