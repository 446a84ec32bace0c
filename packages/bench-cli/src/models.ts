import { DualgradError, PhiloxGenerator } from "@dualgrad/core";

/**
 * Models are data: a `ModelSpec` says what to build, and the same spec builds the same model,
 * with the same initial parameters (same seed, same draws), on either frontend. The four
 * reference workloads are those of docs/WORKLOADS.md.
 */

/** Hidden-layer activations. */
export type Activation = "relu" | "tanh" | "sigmoid";
/** Losses: mean squared error, or softmax cross-entropy over integer labels. */
export type LossKind = "mse" | "ce";
/** Optimisers the CLI offers. */
export type OptimizerKind = "sgd" | "momentum" | "adam";

/**
 * One module of a `torch.nn.Sequential`, as the convolutional reference files describe it
 * (snake_case fields, [height, width] pairs). Its index in the list is its parameter prefix.
 */
export type ModuleSpec =
  | { type: "conv2d"; in_channels: number; out_channels: number; kernel_size: [number, number]; stride: [number, number]; padding: [number, number] }
  | { type: "max_pool2d" | "avg_pool2d"; kernel_size: [number, number]; stride: [number, number]; padding?: [number, number] }
  | { type: "linear"; in_features: number; out_features: number }
  | { type: "flatten" | "relu" | "tanh" | "sigmoid" };

/**
 * A recurrent model: `nn.RNN(layers[0] -> layers[1])` (batch-first, h0 = 0) then
 * `Linear(layers[1] -> layers[2])` on the last step's hidden state. Batches hold x as
 * `[n, T * features]` rows (a sequence per row); T is the row width over `layers[0]`.
 */
export interface RecurrentSpec {
  /** The recurrent layer: an Elman RNN (default) or an LSTM (whose weights stack 4 gates). */
  cell?: "rnn" | "lstm";
  nonlinearity: "tanh" | "relu";
  /** Sequence length of the synthetic data (the longest, for variable lengths). */
  seqLen: number;
  /** Variable lengths: each batch draws its T uniformly from minLen..seqLen (seeded). */
  minLen?: number;
  /** How the graph frontend runs variable lengths: a trace per length, or padding to seqLen with a mask. */
  graphStrategy?: "retrace" | "pad";
}

/** A model, its loss, its optimiser and its batch size. */
export interface ModelSpec {
  id: string;
  /** Layer widths from input to output, e.g. [784, 256, 256, 10]. */
  layers: number[];
  /** Activation between layers (none for a single Linear). */
  activation: Activation | null;
  /** Per hidden layer activations, overriding `activation` (PyTorch reference files may mix them). */
  activations?: Activation[];
  loss: LossKind;
  optimizer: OptimizerKind;
  lr: number;
  /** Momentum for "momentum" (default 0.9). */
  momentum?: number;
  batch: number;
  /**
   * An explicit module list (a Sequential), used instead of `layers`/`activation` to build the
   * model; `layers` then only gives the flat input size and the number of outputs.
   */
  modules?: ModuleSpec[];
  /** Per-sample input shape the flat rows are viewed as (e.g. [1, 28, 28]); default [layers[0]]. */
  inputShape?: number[];
  /** The synthetic data recipe. */
  data: "linreg" | "linreg-wide" | "mlp-small" | "mlp" | "regression" | "classification" | "rnn";
  /** Set for recurrent models (then `layers` is [features, hidden, outputs]). */
  recurrent?: RecurrentSpec;
}

/** The `cnn` workload's Sequential: two 3x3 conv + ReLU + 2x2 max-pool stages, then a linear classifier. */
const CNN_MODULES: ModuleSpec[] = [
  { type: "conv2d", in_channels: 1, out_channels: 8, kernel_size: [3, 3], stride: [1, 1], padding: [1, 1] },
  { type: "relu" },
  { type: "max_pool2d", kernel_size: [2, 2], stride: [2, 2] },
  { type: "conv2d", in_channels: 8, out_channels: 16, kernel_size: [3, 3], stride: [1, 1], padding: [1, 1] },
  { type: "relu" },
  { type: "max_pool2d", kernel_size: [2, 2], stride: [2, 2] },
  { type: "flatten" },
  { type: "linear", in_features: 784, out_features: 10 },
];

/** The reference workloads. */
export const WORKLOADS: Record<string, ModelSpec> = {
  linreg: { id: "linreg", layers: [1, 1], activation: null, loss: "mse", optimizer: "sgd", lr: 0.01, batch: 64, data: "linreg" },
  "linreg-wide": { id: "linreg-wide", layers: [256, 1], activation: null, loss: "mse", optimizer: "sgd", lr: 0.01, batch: 1024, data: "linreg-wide" },
  "mlp-small": { id: "mlp-small", layers: [8, 64, 64, 1], activation: "tanh", loss: "mse", optimizer: "sgd", lr: 0.01, batch: 32, data: "mlp-small" },
  mlp: { id: "mlp", layers: [784, 256, 256, 10], activation: "relu", loss: "ce", optimizer: "sgd", lr: 0.1, batch: 128, data: "mlp" },
  cnn: {
    id: "cnn", layers: [784, 10], activation: "relu", loss: "ce", optimizer: "momentum", lr: 0.05, momentum: 0.9, batch: 64, data: "mlp",
    modules: CNN_MODULES, inputShape: [1, 28, 28],
  },
  rnn: { id: "rnn", layers: [4, 32, 1], activation: null, loss: "mse", optimizer: "sgd", lr: 0.05, batch: 32, data: "rnn", recurrent: { nonlinearity: "tanh", seqLen: 16 } },
  "rnn-varlen": {
    id: "rnn-varlen", layers: [4, 32, 1], activation: null, loss: "mse", optimizer: "sgd", lr: 0.05, batch: 32, data: "rnn",
    recurrent: { nonlinearity: "tanh", seqLen: 32, minLen: 4, graphStrategy: "retrace" },
  },
  "rnn-varlen-pad": {
    id: "rnn-varlen-pad", layers: [4, 32, 1], activation: null, loss: "mse", optimizer: "sgd", lr: 0.05, batch: 32, data: "rnn",
    recurrent: { nonlinearity: "tanh", seqLen: 32, minLen: 4, graphStrategy: "pad" },
  },
};

/** The two measured ways the graph frontend runs variable-length sequences, by workload id. */
export const VARLEN_STRATEGIES = { retrace: "rnn-varlen", pad: "rnn-varlen-pad" } as const;

/** Names of the reference workloads, in WORKLOADS.md order, then `cnn`. */
export const WORKLOAD_IDS = Object.keys(WORKLOADS);

/** The workloads `bench` runs by default: the four of WORKLOADS.md (`cnn` on request, it takes longer). */
export const DEFAULT_WORKLOAD_IDS = WORKLOAD_IDS.filter((id) => id !== "cnn");

/** Looks up a workload by id, with an error listing the valid ones. */
export function workload(id: string): ModelSpec {
  const spec = WORKLOADS[id];
  if (!spec) throw new DualgradError(`unknown model '${id}' (expected one of: ${WORKLOAD_IDS.join(", ")}, or custom --layers)`);
  return spec;
}

/** The activation after hidden layer `i` (0-based), or null after the last layer. */
export function hiddenActivation(spec: ModelSpec, i: number): Activation | null {
  if (i >= spec.layers.length - 2) return null;
  return spec.activations?.[i] ?? spec.activation;
}

/** Parameter shapes in PyTorch layout: weight [out, in] (conv: [out, in, kh, kw]) then bias [out] per layer (recurrent: `rnn.*` then `head.*`). */
export function parameterShapes(spec: ModelSpec): { name: string; shape: number[] }[] {
  if (spec.recurrent) {
    const [f, h, o] = spec.layers;
    const g = spec.recurrent.cell === "lstm" ? 4 * h : h;
    return [
      { name: "rnn.weight_ih_l0", shape: [g, f] }, { name: "rnn.weight_hh_l0", shape: [g, h] }, { name: "rnn.bias_ih_l0", shape: [g] }, { name: "rnn.bias_hh_l0", shape: [g] },
      { name: "head.weight", shape: [o, h] }, { name: "head.bias", shape: [o] },
    ];
  }
  const out: { name: string; shape: number[] }[] = [];
  if (spec.modules) {
    spec.modules.forEach((m, k) => {
      const w = m.type === "conv2d" ? [m.out_channels, m.in_channels, ...m.kernel_size] : m.type === "linear" ? [m.out_features, m.in_features] : null;
      if (w) out.push({ name: `${k}.weight`, shape: w }, { name: `${k}.bias`, shape: [w[0]] });
    });
    return out;
  }
  for (let i = 0; i < spec.layers.length - 1; i++) {
    out.push({ name: `${2 * i}.weight`, shape: [spec.layers[i + 1], spec.layers[i]] });
    out.push({ name: `${2 * i}.bias`, shape: [spec.layers[i + 1]] });
  }
  return out;
}

/** The shape a batch of `n` flat rows is viewed as for this model: [n, ...inputShape]. */
export function batchInputShape(spec: ModelSpec, n: number): number[] {
  return spec.inputShape ? [n, ...spec.inputShape] : [n, spec.layers[0]];
}

/** The generator both frontends draw initial parameters from, for a seed. */
export function initGenerator(seed: number): PhiloxGenerator {
  return new PhiloxGenerator(seed);
}
