/**
 * @dualgrad/eager: PyTorch-style define-by-run tensors. Ops run immediately on core's kernels
 * and are recorded on a tape; `loss.backward()` runs core's VJP rules in reverse.
 * @packageDocumentation
 */
import "./tensor-methods.js";
export { Tensor, isTensor, type TensorLike, type NestedArray } from "./tensor.js";
export * from "./factories.js";
export * from "./ops.js";
export * from "./ops-indexing.js";
export { backward, type BackwardOptions } from "./autograd.js";
export { Node } from "./node.js";
export { noGrad, enableGrad, isGradEnabled, detectAnomaly, isAnomalyDetectionEnabled } from "./grad-mode.js";
export { tidy, keep, dispose, memory } from "./memory.js";
export { manualSeed, PhiloxGenerator } from "@dualgrad/core";
export * as nn from "./nn/index.js";
export * as optim from "./optim/index.js";
export * as utils from "./utils/index.js";
