import { UsageError } from "./errors.js";
import { parseDecimal } from "./parse.js";
import { WORKLOADS, WORKLOAD_IDS, type Activation, type LossKind, type ModelSpec, type OptimizerKind } from "./models.js";

/** The model flags shared by train, compare and graph. */
export interface ModelFlags {
  model?: string;
  layers?: string;
  activation?: Activation;
  loss?: LossKind;
  optimizer?: OptimizerKind;
  lr?: number;
  batchSize?: number;
}

/** Parses `784,128,10` into layer widths (at least two positive integers). */
export function parseLayers(text: string): number[] {
  const widths = text.split(",").map((s) => parseDecimal(s, true));
  if (widths.length < 2 || widths.some((w) => w === null || w <= 0)) {
    throw new UsageError(`--layers: expected at least two comma-separated positive integers like 784,128,10, got '${text}'`);
  }
  return widths as number[];
}

/**
 * The spec a command runs: a reference workload (`--model`) or a custom stack (`--layers`),
 * with any of activation, loss, optimizer, lr and batch size overridden by flags.
 */
export function specFromFlags(flags: ModelFlags, fallbackModel = "mlp-small"): ModelSpec {
  if (flags.model && flags.layers) throw new UsageError("use either --model or --layers, not both");
  let spec: ModelSpec;
  if (flags.layers) {
    const layers = parseLayers(flags.layers);
    const loss = flags.loss ?? "mse";
    spec = {
      id: `custom-${layers.join("x")}`,
      layers,
      activation: layers.length > 2 ? (flags.activation ?? "relu") : null,
      loss,
      optimizer: "sgd",
      lr: 0.01,
      batch: 32,
      data: loss === "ce" ? "classification" : "regression",
    };
  } else {
    const id = flags.model ?? fallbackModel;
    const w = WORKLOADS[id];
    if (!w) throw new UsageError(`unknown model '${id}' (valid: ${WORKLOAD_IDS.join(", ")}; or give --layers for a custom model)`);
    spec = { ...w };
    if (flags.activation) spec.activation = spec.layers.length > 2 ? flags.activation : null;
    if (flags.loss) spec.loss = flags.loss;
  }
  if (flags.optimizer) spec.optimizer = flags.optimizer;
  if (flags.lr !== undefined) spec.lr = flags.lr;
  if (flags.batchSize !== undefined) spec.batch = flags.batchSize;
  if (spec.loss === "ce" && spec.layers[spec.layers.length - 1] < 2) {
    throw new UsageError(`--loss ce needs at least 2 output classes, but the model has ${spec.layers[spec.layers.length - 1]} output`);
  }
  return spec;
}
