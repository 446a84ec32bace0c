import { DualgradError } from "@dualgrad/core";
import type { ModelSpec } from "../models.js";
import { loadCsv } from "./csv.js";
import { splitTrainTest, type Dataset } from "./dataset.js";
import { MNIST_CLASSES, MNIST_PIXELS, loadMnist } from "./mnist.js";
import { syntheticBatch } from "./synthetic.js";

export { accuracy, batches, seededPermutation, shuffleGenerator, shuffledOrder, splitTrainTest, type BatchOptions, type ColumnStats, type Dataset } from "./dataset.js";
export { loadCsv, type CsvOptions } from "./csv.js";
export { loadMnist, mnistSize, MNIST_CLASSES, MNIST_PIXELS, type MnistOptions } from "./mnist.js";
export { syntheticBatch, type Batch } from "./synthetic.js";

/** The dataset names `--dataset` accepts, for help texts and errors. */
export const DATASET_NAMES = ["synthetic", "mnist", "csv:PATH"] as const;

/** Options of {@link resolveDataset}. */
export interface ResolveOptions {
  /** The column to predict (`--target`); required for `csv:PATH`, ignored otherwise. */
  target?: string;
  /** Seeds the synthetic data, the mnist selection and every train/test split. */
  seed: number;
  /**
   * Training rows: synthetic generates this many in all (default 10 x the batch size, 20% of them
   * then held out); mnist takes this many training digits (default 8000). Ignored for csv, which
   * always uses the whole file.
   */
  samples?: number;
  dtype?: "float32" | "float64";
}

/** Rows the synthetic dataset generates for `spec`: `samples`, or by default 10 batches. */
export function syntheticRows(spec: ModelSpec, samples?: number): number {
  return samples ?? 10 * spec.batch;
}

/** `model 'mlp' (layers 784,256,256,10, loss ce)`, for errors. */
function describeModel(spec: ModelSpec): string {
  return `model '${spec.id}' (layers ${spec.layers.join(",")}, loss ${spec.loss})`;
}

/**
 * The dataset `--dataset NAME` names, checked against the model that will train on it, so a
 * mismatch fails before any training with a message that says which flags fit:
 * - `synthetic`: the spec's own recipe ({@link syntheticBatch}), `samples` rows, 20% held out;
 * - `mnist`: needs 784 inputs, 10 outputs and cross-entropy (the `mlp` workload);
 * - `csv:PATH`: needs `target`; the model's input width must equal the number of feature columns
 *   and its output width 1, with mse loss.
 */
export function resolveDataset(spec: ModelSpec, name: string, options: ResolveOptions): Dataset {
  const { seed, samples, dtype } = options;
  if (samples !== undefined && (!Number.isSafeInteger(samples) || samples < 1)) {
    throw new DualgradError(`--samples must be a positive integer, got ${String(samples)}`);
  }
  const inF = spec.layers[0];
  const outF = spec.layers[spec.layers.length - 1];
  if (name === "synthetic") {
    const n = syntheticRows(spec, samples);
    // A 20% split needs one row on each side.
    if (n < 2) throw new DualgradError(`dataset synthetic: needs at least 2 samples (one to train, one to test), got ${n}`);
    const all = syntheticBatch(spec, n, seed, dtype);
    const { train, test } = splitTrainTest(all, 0.2, seed);
    const classification = spec.loss === "ce";
    const nTest = test ? test.xShape[0] : 0;
    return {
      name: `synthetic:${spec.data}`,
      inputSize: inF,
      outputSize: outF,
      task: classification ? "classification" : "regression",
      ...(classification ? { classes: outF } : {}),
      train,
      test,
      summary: `synthetic ${spec.data} data for ${describeModel(spec)}: ${n - nTest} train / ${nTest} test rows, seed ${seed}`,
    };
  }
  if (name === "mnist") {
    if (inF !== MNIST_PIXELS || outF !== MNIST_CLASSES || spec.loss !== "ce") {
      throw new DualgradError(
        `dataset mnist needs a model with ${MNIST_PIXELS} inputs, ${MNIST_CLASSES} outputs and --loss ce, but ${describeModel(spec)} does not fit; ` +
          `use --model mlp, or --layers ${MNIST_PIXELS},...,${MNIST_CLASSES} --loss ce`,
      );
    }
    return loadMnist({ trainCount: samples, seed, dtype });
  }
  if (name.startsWith("csv:")) {
    const path = name.slice(4);
    if (path === "") throw new DualgradError(`--dataset csv:PATH needs a file path after 'csv:', e.g. csv:data.csv`);
    if (options.target === undefined || options.target.trim() === "") {
      throw new DualgradError(`--dataset ${name} needs --target COLUMN, the name of the column to predict`);
    }
    const data = loadCsv(path, { target: options.target, seed, dtype });
    const features = (data.columns ?? []).filter((c) => c.role === "feature").map((c) => c.name);
    if (inF !== data.inputSize || outF !== 1 || spec.loss !== "mse") {
      throw new DualgradError(
        `${path} has ${data.inputSize} feature column${data.inputSize === 1 ? "" : "s"} (${features.join(", ")}) and one target (${options.target.trim()}), ` +
          `but ${describeModel(spec)} does not fit; use --layers ${data.inputSize},...,1 with --loss mse (e.g. --layers ${data.inputSize},1 or --layers ${data.inputSize},64,1)`,
      );
    }
    return data;
  }
  throw new DualgradError(`unknown dataset '${name}' (expected one of: ${DATASET_NAMES.join(", ")})`);
}
