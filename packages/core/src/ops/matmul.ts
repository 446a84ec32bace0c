import { isFloat } from "../dtype.js";
import { DTypeError, ShapeError } from "../errors.js";
import { broadcastShapes, broadcastStrides, contiguousStrides, formatShape, sizeOf, type Shape } from "../shape.js";
import { gemmReference } from "../kernels/gemm.js";
import { matmulKernel, type GemmKernel } from "../kernels/backend.js";
import type { Attrs, Meta, OpTable, View } from "./prim.js";
import { sumTo } from "./vjp-helpers.js";

/** Matrix multiplication. */
export type MatmulPrim = "matmul";

/** The [rows, cols] of op(X) for a stored matrix shape, and its batch dimensions. */
function matrixDims(shape: Shape, trans: boolean): { batch: Shape; rows: number; cols: number } {
  const r = shape[shape.length - 2];
  const c = shape[shape.length - 1];
  return { batch: shape.slice(0, -2), rows: trans ? c : r, cols: trans ? r : c };
}

function inferMatmul([a, b]: readonly Meta[], { transA, transB }: Attrs["matmul"]): Meta {
  const flags = `${transA ? " (A transposed)" : ""}${transB ? " (B transposed)" : ""}`;
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new ShapeError("matmul", `expected matrices of rank >= 2, got ${formatShape(a.shape)} and ${formatShape(b.shape)} (reshape vectors to [1,n] or [n,1])`);
  }
  if (a.dtype !== b.dtype || !isFloat(a.dtype)) {
    // PyTorch's matmul does not promote either ("expected m1 and m2 to have the same dtype").
    throw new DTypeError("matmul", `expected two inputs of the same floating dtype, got ${a.dtype}${formatShape(a.shape)} and ${b.dtype}${formatShape(b.shape)} (cast one operand)`);
  }
  const A = matrixDims(a.shape, transA);
  const B = matrixDims(b.shape, transB);
  if (A.cols !== B.rows) {
    throw new ShapeError(
      "matmul",
      `cannot multiply ${formatShape(a.shape)} by ${formatShape(b.shape)}${flags} (inner dimensions ${A.cols} != ${B.rows})`,
    );
  }
  const batch = broadcastShapes("matmul", A.batch, B.batch);
  return { shape: [...batch, A.rows, B.cols], dtype: a.dtype };
}

type Gemm = GemmKernel;

/** Runs `g` once per (broadcast) batch entry, with matrix offsets from batch strides. */
function batchedGemm(g: Gemm, [a, b]: readonly View[], out: View, { transA, transB }: Attrs["matmul"]): void {
  const A = matrixDims(a.shape, transA);
  const B = matrixDims(b.shape, transB);
  const m = A.rows;
  const k = A.cols;
  const n = B.cols;
  const batch = out.shape.slice(0, -2);
  const batches = sizeOf(batch);
  const sa = broadcastStrides(A.batch, batch);
  const sb = broadcastStrides(B.batch, batch);
  const bs = contiguousStrides(batch);
  const ad = a.data as Float32Array | Float64Array;
  const bd = b.data as Float32Array | Float64Array;
  const cd = out.data as Float32Array | Float64Array;
  for (let t = 0; t < batches; t++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < batch.length; d++) {
      const coord = Math.floor(t / bs[d]) % batch[d];
      ia += coord * sa[d];
      ib += coord * sb[d];
    }
    g(m, n, k, ad, ia * m * k, transA, bd, ib * k * n, transB, cd, t * m * n);
  }
}

/** OpDef of matmul: op(A) @ op(B), where the transpose flags let backward avoid materialising transposes. */
export const matmulOps: OpTable<MatmulPrim> = {
  matmul: {
    kind: "matmul",
    arity: 2,
    infer: inferMatmul,
    kernel: (inputs, out, attrs) => batchedGemm(matmulKernel(out.dtype), inputs, out, attrs),
    reference: (inputs, out, attrs) => batchedGemm(gemmReference, inputs, out, attrs),
    // C = op(A) op(B). dop(A) = G op(B)^T and dop(B) = op(A)^T G; when an input was stored
    // transposed, its gradient is the transpose of that, which flags express without copies.
    vjp: (e, [a, b], _out, g, { transA, transB }, wants = [true, true]) => {
      const da = !wants[0]
        ? null
        : transA
          ? e.emit("matmul", [b, g], { transA: transB, transB: true })
          : e.emit("matmul", [g, b], { transA: false, transB: !transB });
      const db = !wants[1]
        ? null
        : transB
          ? e.emit("matmul", [g, a], { transA: true, transB: transA })
          : e.emit("matmul", [a, g], { transA: !transA, transB: false });
      return [da && sumTo(e, da, e.meta(a).shape), db && sumTo(e, db, e.meta(b).shape)];
    },
  },
};
