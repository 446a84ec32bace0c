/**
 * @dualgrad/core: the kernel core both frontends share. It defines every primitive once
 * (abstract evaluation, kernels, VJP rule), owns all tensor memory through one allocator, and
 * provides seeded randomness, safetensors I/O and gradient checking. It knows no tape and no graph.
 * @packageDocumentation
 */
export * from "./dtype.js";
export * from "./errors.js";
export * from "./shape.js";
export * from "./list-names.js";
export * from "./memory.js";
export * from "./backstop.js";
export * from "./leak-watch.js";
export * from "./ops/prim.js";
export { ops, PRIMS, isPrim, arityError } from "./ops/index.js";
export { ATTR_SCHEMA, ATTR_TYPE_NAME, attrOk, attrsProblem, checkAttrs, showValue, type AttrType } from "./ops/attrs.js";
export { ELEMENTWISE, isElementwisePrim, numberLiteral, type ElementwiseSpec } from "./ops/elementwise.js";
export type { ElementwiseOp, ElementwiseOperand, ElementwisePrim, ElementwiseProgram } from "./ops/elementwise-types.js";
export type { ReducePrim } from "./ops/reduce.js";
export { resolveReshape, invertPerm, type ShapePrim } from "./ops/shape-ops.js";
export type { MatmulPrim } from "./ops/matmul.js";
export type { ConvPrim } from "./ops/conv.js";
export type { PoolPrim } from "./ops/pool.js";
export { convOutSize } from "./kernels/conv.js";
export type { IndexPrim } from "./ops/index-ops.js";
export type { GatherPrim } from "./ops/gather-ops.js";
export type { ConcatPrim } from "./ops/concat.js";
export { sumTo, unreduce } from "./ops/vjp-helpers.js";
export { compileElementwise, type ElementwiseKernel } from "./kernels/elementwise.js";
export { dispatchElementwise, WASM_ELEMENTWISE_MIN_SIZE } from "./kernels/elementwise-dispatch.js";
export { compileProgram, programSource } from "./kernels/elementwise-program.js";
export { compileWasmElementwise, wasmElementwiseSupported, type WasmElementwiseKernel } from "./kernels/wasm/elementwise-wasm.js";
export { gemm, gemmReference } from "./kernels/gemm.js";
export {
  compileConvEpilogue, compileGemmEpilogue, convEpilogueLayout, epilogueLayout, exactProgram, type ConvEpilogueKernel, type GemmEpilogueKernel,
} from "./kernels/gemm-epilogue.js";
export { MAX_EPILOGUE_OPERANDS, relaxedSimdProbe, type EpilogueLayout } from "./kernels/wasm/gemm-wasm.js";
export * from "./execute.js";
export * from "./profiler.js";
export * from "./kernel-flops.js";
export { buildPeakModule, measureSimdPeak, peakFlopsPerCall, peakOpSupported, processSimdPeak, type PeakOp, type PeakOptions, type SimdPeak } from "./kernels/wasm/simd-peak.js";
export * from "./gradcheck.js";
export * from "./random/philox.js";
export * from "./random/init.js";
export * from "./random/permutation.js";
export * from "./io/safetensors.js";
export * from "./io/atomic-write.js";
export * from "./io/read-file.js";
export * from "./kernels/backend.js";
export { heapByteOffset, heapStats } from "./kernels/wasm/heap.js";
export * as composites from "./composites/index.js";
export * from "./conv-options.js";
