import type { DType, TypedArray } from "../dtype.js";
import type { Attrs } from "../ops/prim.js";
import type { ElementwiseOp, ElementwiseProgram } from "../ops/elementwise-types.js";
import { sizeOf, type Shape } from "../shape.js";
import { getBackend, matmulKernel } from "./backend.js";
import { conv2dFast, convGeometry, convPath } from "./conv.js";
import { conv2dDirectWasm, type DirectEpilogue } from "./conv-direct.js";
import { WASM_ELEMENTWISE_MIN_SIZE } from "./elementwise-dispatch.js";
import { compileProgram, programSource } from "./elementwise-program.js";
import { MAX_EPILOGUE_OPERANDS, gemmWasm, type EpilogueLayout, type GemmEpilogueCall } from "./wasm/gemm-wasm.js";
import { wasmElementwiseSupported } from "./wasm/elementwise-wasm.js";

/**
 * A matrix product with an elementwise epilogue: `out = program(op(A) @ op(B), operands...)`,
 * the bias-add and activation after a linear layer, or the activation's backward mask after the
 * product that computes a hidden layer's gradient, in one kernel call; and the same after a
 * convolution's product (the per-channel bias).
 *
 * On the wasm backend (float32) the gemm's last k-block applies the program to each tile of C in
 * the micro-kernel, on the accumulators before they are stored (./wasm/gemm-wasm.ts), instead of
 * a second pass over C. Everywhere else (float64, the js backend, a matrix-vector product, an operand
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
 * changes a bit. A convolution's product is laid out [K, B*OH*OW], not as its NCHW output, so
 * there the choice between the wasm and JavaScript code could differ from the separate op's: a
 * convolution takes only {@link exactProgram}s, whose two compilations give the same bits. A
 * convolution on the direct path (./conv-direct.ts) has no product: its kernel applies the
 * program to each output vector as it stores it, with the same generated code.
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
 * The layout, against a convolution's product [K, B*OH*OW], of an operand of shape `shape`
 * broadcast against the NCHW output [B, K, OH, OW]: one value per channel ([K,1,1], [1,K,1,1])
 * is a column, one value a scalar; null for anything else (it would need the NCHW order).
 */
export function convEpilogueLayout(shape: Shape, K: number): EpilogueLayout | null {
  if (shape.length > 4) return null;
  const dims = [...Array<number>(4 - shape.length).fill(1), ...shape];
  if (dims[0] !== 1 || dims[2] !== 1 || dims[3] !== 1 || (dims[1] !== 1 && dims[1] !== K)) return null;
  return dims[1] === 1 ? "scalar" : "column";
}

/** Primitives whose wasm and JavaScript compilations give the same bits (./wasm/elementwise-wasm.ts's numerics). */
const EXACT = new Set(["add", "sub", "mul", "div", "sqrt", "neg", "abs", "relu", "maximum", "minimum", "compare", "where"]);

/** Whether every op of `program` gives the same bits in wasm and JavaScript (no exp/log/tanh/sigmoid, pow only squared or less). */
export function exactProgram(program: ElementwiseProgram): boolean {
  return program.ops.every((op: ElementwiseOp) => EXACT.has(op.prim) || (op.prim === "pow" && [0, 1, 2].includes((op.attrs as Attrs["pow"]).exponent)));
}

/** The shape an operand of `layout` has against an [m, n] product (for the separate kernel). */
function layoutShape(layout: EpilogueLayout, m: number, n: number): Shape {
  return layout === "full" ? [m, n] : layout === "row" ? [n] : layout === "column" ? [m, 1] : [];
}

/** A key naming `program` over operands of `layouts`: what a generated epilogue's code depends on. */
function epilogueKey(program: ElementwiseProgram, layouts: readonly EpilogueLayout[]): string {
  const { prelude, expr } = programSource(program);
  return `${layouts.join(",")}|${program.ops.map((op) => op.dtype ?? "").join(",")}:${prelude}|${expr}`;
}

/** `C [m,n] = program(op(A) @ op(B), operands...)` for fixed m, n, operand layouts and dtype. */
type ProductWithEpilogue = (k: number, A: TypedArray, transA: boolean, B: TypedArray, transB: boolean, C: TypedArray, operands: readonly TypedArray[]) => void;

/** Compiles the product-with-epilogue runner shared by matmul and conv2d; a call allocates nothing. */
function productWithEpilogue(program: ElementwiseProgram, m: number, n: number, dtype: DType, layouts: readonly EpilogueLayout[]): ProductWithEpilogue {
  const arity = 1 + layouts.length;
  const separate = compileProgram(program, arity);
  const call: GemmEpilogueCall & { operands: Float32Array[] } = {
    key: epilogueKey(program, layouts),
    spec: { ops: program.ops, layouts },
    operands: new Array<Float32Array>(layouts.length),
  };
  // Whether the separate kernel would run the program's wasm code (see elementwise-dispatch.ts).
  // (An epilogue reading more operands than the gemm has room for runs as the separate kernel.)
  const wasmProgram = dtype === "float32" && m * n >= WASM_ELEMENTWISE_MIN_SIZE && wasmElementwiseSupported(program.ops) && layouts.length <= MAX_EPILOGUE_OPERANDS;
  const datas = new Array<TypedArray>(arity);
  const shapes: Shape[] = [[m, n], ...layouts.map((l) => layoutShape(l, m, n))];
  return (k, A, transA, B, transB, C, operands) => {
    const a = A as Float32Array | Float64Array, b = B as Float32Array | Float64Array, c = C as Float32Array | Float64Array;
    let fused = false;
    if (wasmProgram && getBackend() === "wasm" && c instanceof Float32Array && allFloat32(operands, call.operands)) {
      fused = gemmWasm(m, n, k, a, 0, transA, b, 0, transB, c, 0, call);
    } else {
      matmulKernel(dtype)(m, n, k, a, 0, transA, b, 0, transB, c, 0);
    }
    if (fused) return;
    datas[0] = c;
    for (let i = 1; i < arity; i++) datas[i] = operands[i - 1];
    separate(c, shapes[0], datas, shapes);
  };
}

/** Fills `into` with `operands` when all are float32; false otherwise. */
function allFloat32(operands: readonly TypedArray[], into: Float32Array[]): boolean {
  for (let i = 0; i < into.length; i++) {
    const d = operands[i];
    if (!(d instanceof Float32Array)) return false;
    into[i] = d;
  }
  return true;
}

/** A tensor as the epilogue kernels read and write it. */
interface Data {
  data: TypedArray;
  shape: Shape;
}

/**
 * Runs one product-with-epilogue: `inputs` are A, B, then the program's operands (program input
 * k >= 1 is `inputs[k + 1]`; input 0 is the product); `out` is [m, n].
 */
export type GemmEpilogueKernel = (inputs: readonly Data[], out: Data, transA: boolean, transB: boolean) => void;

/**
 * The kernel of `program` as a matmul epilogue, for rank-2 A and B, an output `outShape` [m, n]
 * of `dtype` and operands of `operandShapes` (each broadcasting to [m, n]). Compiles the program
 * (and, on first fused call, the gemm variant for it) once; a call allocates nothing.
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
  const run = productWithEpilogue(program, m, n, dtype, layouts);
  const operands = new Array<TypedArray>(operandShapes.length);
  return (inputs, out, transA, transB) => {
    for (let i = 0; i < operands.length; i++) operands[i] = inputs[i + 2].data;
    run(transA ? inputs[0].shape[0] : inputs[0].shape[1], inputs[0].data, transA, inputs[1].data, transB, out.data, operands);
  };
}

/** Runs one convolution-with-epilogue: `inputs` are x, w, then the program's operands; `out` is [B, K, OH, OW]. */
export type ConvEpilogueKernel = (inputs: readonly Data[], out: Data, attrs: Attrs["conv2d"]) => void;

/**
 * The kernel of `program` as the epilogue of `conv2d(x, w)` with output `outShape` [B, K, OH, OW]
 * and operands of `operandShapes` (per channel or scalar: the bias reshaped to [K, 1, 1]): the
 * program runs on the convolution's [K, B*OH*OW] product as the gemm stores it, before the product
 * is reordered into NCHW, or, on the direct path (float32, operands in the heap), on each output
 * vector as the direct kernel stores it. Elementwise ops commute with that reorder, so the result
 * is the unfused one's, bitwise, for an {@link exactProgram}. Anywhere else the program runs
 * separately over the output.
 *
 * @throws RangeError for a program that is not exact or an operand that is not per channel or scalar.
 */
export function compileConvEpilogue(program: ElementwiseProgram, outShape: Shape, dtype: DType, operandShapes: readonly Shape[]): ConvEpilogueKernel {
  if (!exactProgram(program)) throw new RangeError(`conv epilogue: ${program.ops.map((o) => o.prim).join("→")} is not exact in both compilations (exp, log, tanh, sigmoid and pow above 2 are not)`);
  const [B, K, OH, OW] = outShape;
  const layouts = operandShapes.map((s, k) => {
    const layout = convEpilogueLayout(s, K);
    if (layout === null) throw new RangeError(`conv epilogue: operand ${k} of shape [${s.join(",")}] is not one value per channel of [${outShape.join(",")}] or a scalar`);
    return layout;
  });
  const run = productWithEpilogue(program, K, B * OH * OW, dtype, layouts);
  const operands = new Array<TypedArray>(operandShapes.length);
  // The direct kernel's epilogue (float32 only; operands filled in per call).
  const direct: (DirectEpilogue & { operands: Float32Array[] }) | null = dtype === "float32" && layouts.length <= MAX_EPILOGUE_OPERANDS
    ? { key: epilogueKey(program, layouts), spec: { ops: program.ops, layouts }, operands: new Array<Float32Array>(layouts.length) }
    : null;
  let ran = false;
  const product = (_m: number, _n: number, k: number, a: TypedArray, b: TypedArray, c: TypedArray) => {
    ran = true;
    run(k, a, false, b, false, c, operands);
  };
  // The unfused program over the NCHW output: for a convolution path that computes no product.
  const separate = compileProgram(program, 1 + operandShapes.length);
  const datas = new Array<TypedArray>(1 + operandShapes.length);
  const shapes: Shape[] = [outShape, ...operandShapes];
  return (inputs, out, attrs) => {
    const [x, w] = inputs;
    for (let i = 0; i < operands.length; i++) operands[i] = inputs[i + 2].data;
    const g = convGeometry(x.shape, w.shape, attrs);
    if (direct && sizeOf(outShape) > 0 && convPath("forward", g, "float32") === "direct" && x.data instanceof Float32Array && w.data instanceof Float32Array
      && out.data instanceof Float32Array && allFloat32(operands, direct.operands) && conv2dDirectWasm(x.data, w.data, out.data, g, direct)) return;
    ran = false;
    conv2dFast(x.data as Float32Array, w.data as Float32Array, out.data as Float32Array, g, undefined, product);
    if (ran || sizeOf(outShape) === 0) return;
    datas[0] = out.data;
    for (let i = 0; i < operands.length; i++) datas[i + 1] = operands[i];
    separate(out.data, outShape, datas, shapes);
  };
}
