/**
 * A Keras-style API (as TF.js users know it) over the graph frontend: `layers.dense(...)`,
 * `sequential([...])`, `compile`, `fit`, `evaluate`, `predict`, `summary`, Keras-layout
 * `getWeights`/`setWeights`, and PyTorch-compatible safetensors `save`/`load`.
 * @module
 */
import { defaultGenerator, PhiloxGenerator } from "@dualgrad/core";
import { Conv2D, Dropout, Flatten, Pooling2D, type Conv2DConfig, type Pooling2DConfig } from "./conv-layers.js";
import { dense } from "./dense.js";
import { simpleRNN } from "./simple-rnn.js";

export { Conv2D, Pooling2D, Flatten, Dropout, type Conv2DConfig, type Pooling2DConfig } from "./conv-layers.js";
export type { Layer, CallArgs } from "./layer.js";
export { SimpleRNN, simpleRNN, type SimpleRNNConfig } from "./simple-rnn.js";
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
  /** A 2-D convolution, channels first (weights in PyTorch's layout): see {@link Conv2DConfig}. */
  conv2d: (config: Conv2DConfig): Conv2D => new Conv2D(config),
  /** Max pooling over [C, H, W]: see {@link Pooling2DConfig}. */
  maxPooling2d: (config: Pooling2DConfig = {}): Pooling2D => new Pooling2D("max", config),
  /** Average pooling over [C, H, W], padding counted (PyTorch's default): see {@link Pooling2DConfig}. */
  averagePooling2d: (config: Pooling2DConfig = {}): Pooling2D => new Pooling2D("avg", config),
  /** Flattens each sample to [features]. */
  flatten: (config: { inputShape?: number[]; name?: string } = {}): Flatten => new Flatten(config),
  /** Inverted dropout, active in `fit` (or a call with `training: true`), the identity in `evaluate`/`predict`; `seed` gives it its own Philox stream. */
  dropout: (config: { rate: number; seed?: number; inputShape?: number[]; name?: string }): Dropout =>
    new Dropout(config, config?.seed === undefined ? defaultGenerator : new PhiloxGenerator(config.seed)),
  /** An Elman recurrent layer (batch-first, PyTorch-named weights): see {@link SimpleRNNConfig}. */
  simpleRNN,
};
