import { DualgradError, Generator } from "@dualgrad/core";

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
  /** The synthetic data recipe. */
  data: "linreg" | "linreg-wide" | "mlp-small" | "mlp" | "regression" | "classification";
}

/** The reference workloads. */
export const WORKLOADS: Record<string, ModelSpec> = {
  linreg: { id: "linreg", layers: [1, 1], activation: null, loss: "mse", optimizer: "sgd", lr: 0.01, batch: 64, data: "linreg" },
  "linreg-wide": { id: "linreg-wide", layers: [256, 1], activation: null, loss: "mse", optimizer: "sgd", lr: 0.01, batch: 1024, data: "linreg-wide" },
  "mlp-small": { id: "mlp-small", layers: [8, 64, 64, 1], activation: "tanh", loss: "mse", optimizer: "sgd", lr: 0.01, batch: 32, data: "mlp-small" },
  mlp: { id: "mlp", layers: [784, 256, 256, 10], activation: "relu", loss: "ce", optimizer: "sgd", lr: 0.1, batch: 128, data: "mlp" },
};

/** Names of the reference workloads, in WORKLOADS.md order. */
export const WORKLOAD_IDS = Object.keys(WORKLOADS);

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

/** Parameter shapes in PyTorch layout: weight [out, in] then bias [out] per layer. */
export function parameterShapes(spec: ModelSpec): { name: string; shape: number[] }[] {
  const out: { name: string; shape: number[] }[] = [];
  for (let i = 0; i < spec.layers.length - 1; i++) {
    out.push({ name: `${2 * i}.weight`, shape: [spec.layers[i + 1], spec.layers[i]] });
    out.push({ name: `${2 * i}.bias`, shape: [spec.layers[i + 1]] });
  }
  return out;
}

/** The generator both frontends draw initial parameters from, for a seed. */
export function initGenerator(seed: number): Generator {
  return new Generator(seed);
}
