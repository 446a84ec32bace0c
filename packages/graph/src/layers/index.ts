/**
 * A Keras-style API (as TF.js users know it) over the graph frontend: `layers.dense(...)`,
 * `sequential([...])`, `compile`, `fit`, `evaluate`, `predict`, `summary`, Keras-layout
 * `getWeights`/`setWeights`, and PyTorch-compatible safetensors `save`/`load`.
 * @module
 */
import { dense } from "./dense.js";

export { Dense, dense, ACTIVATIONS, type Activation, type DenseConfig } from "./dense.js";
export {
  Sequential, sequential,
  type SequentialOptions, type CompileArgs, type FitArgs, type DatasetFitArgs, type FitBatch, type EpochLogs, type History, type HistoryRecord, type EvaluateResult, type BatchArgs,
} from "./sequential.js";
export { LOSS_NAMES, OPTIMIZER_NAMES, resolveLoss, resolveOptimizer, type LossName, type OptimizerName, type OptimizerSpec, type ResolvedLoss } from "./compile-config.js";

/** Layer constructors, as the `tf.layers` namespace. */
export const layers = {
  /** A densely connected layer: see {@link DenseConfig}. */
  dense,
};
