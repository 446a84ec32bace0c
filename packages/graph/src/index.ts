/**
 * @dualgrad/graph: define-then-run. `fn(f)` (alias `jit`, the `tf.function` analogue) traces
 * `f` on symbolic tensors into an SSA IR, differentiates it as a graph transform with core's VJP
 * rules, optimises it (constant folding, CSE, DCE, simplification, transpose flags, fusion),
 * plans its memory in one arena and runs the flat compiled plan.
 * @packageDocumentation
 */
export * from "./ir.js";
export { GraphBuilder, callSite } from "./builder.js";
export * from "./symbolic.js";
export * from "./symbolic-indexing.js";
export { Variable } from "./variable.js";
export { gradients, vjpIds, gradientIds, backprop, grad, valueAndGrad } from "./autodiff.js";
export { GradientTape, zip, type GradientTapeOptions, type GradientOptions, type Gradients, type Sources } from "./gradient-tape.js";
export { Loss, MeanSquaredError, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, losses, type CrossentropyOptions } from "./losses.js";
export { cond, scan, whileLoop, foriLoop, type ScanOptions } from "./control/api.js";
export { fn, jit, trace, traceGraph, type InputSpec, lowerGraph, type FunctionOptions, type GraphFunction, type Lowered, type StageSwitch } from "./function.js";
export { compile, CompiledGraph, type CompileOptions } from "./compile.js";
export { planMemory, printPlan, type Plan, type PlanStep, type Slot } from "./plan.js";
export { HostTensor, tensor, isTensorData, type TensorData } from "./host-tensor.js";
export { DeviceTensor, put } from "./device-tensor.js";
export { MAX_FUSED_OPS, elementwiseFusion, fusedKernelCount } from "./passes/fusion.js";
export { gemmEpilogueCount, gemmEpilogueFusion } from "./passes/gemm-epilogue.js";
export { scheduleUpdates } from "./passes/schedule.js";
/** A fused node's generated JavaScript: core's programSource under the graph's name for it. */
export { programSource as fusedSource } from "@dualgrad/core";
export * from "./passes/pipeline.js";
export { deadCodeElimination } from "./passes/dce.js";
export { commonSubexpressionElimination } from "./passes/cse.js";
export { constantFolding, type ConstantFoldingOptions } from "./passes/constant-folding.js";
export { algebraicSimplification } from "./passes/simplify.js";
export { matmulTransposeFlags } from "./passes/transpose-flags.js";
export { GraphOptimizer, SGD, Adam, AdamW, optimizers, type SGDConfig, type AdamConfig } from "./optimizers.js";
export { sgdOptions, adamOptions } from "./optimizer-config.js";
export { RNN, LSTM, rnn, type LSTMOptions, type RNNOptions, type RNNCallOptions, type RNNLayerOperands } from "./recurrent.js";
export { Linear, linear, mseLoss, crossEntropy, binaryCrossEntropyWithLogits, type LinearOptions } from "./nn.js";
export { Conv2d, conv2d, maxPool2d, avgPool2d, flatten, type Conv2dLayerOptions } from "./conv.js";
export * from "./export/index.js";
export * from "./layers/index.js";
export { Dataset, data, type ShuffleOptions, type BatchOptions, type TensorSlicesInput, type SlicesOf, type MapArgs } from "./data/dataset.js";
export type { Structure, MapLeaves, Element } from "./structure.js";
