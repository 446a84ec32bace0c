import type { Batch } from "../datasets/synthetic.js";
import { makeTrainer, type Frontend } from "../runners/index.js";
import type { ModelSource } from "./model-source.js";

/** Runs a model's forward pass on row-major float32 instances, as the server needs it. */
export interface Predictor {
  readonly frontend: Frontend;
  readonly inputSize: number;
  readonly outputSize: number;
  /** Batch sizes the graph frontend was compiled for (empty for eager, which never compiles). */
  readonly buckets: readonly number[];
  /** Outputs `[rows, outputSize]` for inputs `[rows, inputSize]`; `rows` must not exceed the largest bucket. */
  predict(x: Float32Array, rows: number): Float32Array;
  dispose(): void;
}

/**
 * The graph frontend compiles one plan per input shape, so a server that ran every batch size as
 * it came would trace up to --max-batch times. Batches are padded up to the next bucket instead:
 * powers of 4 below `maxBatch`, then `maxBatch` itself (1, 4, 16, 64 for 64). That bounds the
 * traces to about log4(maxBatch) + 1 (under `fn`'s retrace warning for any max batch up to 256),
 * at the price of computing at most 4x the rows; padded rows are zeros and their outputs dropped.
 */
export function graphBuckets(maxBatch: number): number[] {
  const out: number[] = [];
  for (let b = 1; b < maxBatch; b *= 4) out.push(b);
  out.push(maxBatch);
  return out;
}

/**
 * A deployed model: the same trainer the workbench trains and benchmarks (so a prediction is
 * the library's own), loaded with the source's weights. For the graph frontend every bucket is
 * traced and compiled here, before the first request.
 */
export function makePredictor(source: ModelSource, frontend: Frontend, maxBatch: number): Predictor {
  const { spec } = source;
  const trainer = makeTrainer(frontend, spec, { seed: source.seed, dtype: "float32" });
  if (source.weights) trainer.setParameters(source.weights);
  const inputSize = spec.layers[0];
  const outputSize = spec.layers[spec.layers.length - 1];
  const buckets = frontend === "graph" ? graphBuckets(maxBatch) : [];
  const batchOf = (x: Float32Array, rows: number): Batch => ({
    x,
    xShape: [rows, inputSize],
    // The trainer's batches carry targets; prediction ignores them, so zeros of the right shape.
    y: spec.loss === "ce" ? new Int32Array(rows) : new Float32Array(rows * outputSize),
    yShape: spec.loss === "ce" ? [rows] : [rows, outputSize],
  });
  const run = (x: Float32Array, rows: number): Float32Array => {
    const bucket = buckets.find((b) => b >= rows);
    if (bucket === undefined || bucket === rows) return Float32Array.from(trainer.predict(batchOf(x, rows)));
    const padded = new Float32Array(bucket * inputSize);
    padded.set(x);
    return Float32Array.from(trainer.predict(batchOf(padded, bucket)).subarray(0, rows * outputSize));
  };
  for (const b of buckets) run(new Float32Array(b * inputSize), b);
  return { frontend, inputSize, outputSize, buckets, predict: run, dispose: () => trainer.dispose() };
}
