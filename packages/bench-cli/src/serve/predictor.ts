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
  /** For the graph frontend, the buckets each row count runs on (see {@link bucketPlans}); empty for eager. */
  readonly plans: readonly (readonly number[])[];
  /** Outputs `[rows, outputSize]` for inputs `[rows, inputSize]`; `rows` must not exceed the largest bucket. */
  predict(x: Float32Array, rows: number): Float32Array;
  dispose(): void;
}

/**
 * The graph frontend compiles one plan per input shape, so a server that ran every batch size as
 * it came would trace up to --max-batch times. Batches run on buckets instead: powers of 4 below
 * `maxBatch`, then `maxBatch` itself (1, 4, 16, 64 for 64). That bounds the traces to about
 * log4(maxBatch) + 1 (under `fn`'s retrace warning for any max batch up to 256); a batch is split
 * over buckets and its last part zero-padded (padded rows' outputs dropped), see {@link bucketPlans}.
 */
export function graphBuckets(maxBatch: number): number[] {
  const out: number[] = [];
  for (let b = 1; b < maxBatch; b *= 4) out.push(b);
  out.push(maxBatch);
  return out;
}

/**
 * How to run each batch size on compiled buckets at the least cost: `plan[rows]` lists the
 * buckets to run, in order, each taking the next rows (the last one zero-padded). A batch need
 * not be padded up to one bucket: 22 rows cost 64 rows of compute padded to 64, but 16 + 4 + 4
 * cost 24 rows and two more calls. `cost[i]` is the measured time of one call of `buckets[i]`
 * (positive); from it a small dynamic program picks, for every row count up to the largest
 * bucket, the cheapest set of calls (ties: fewer calls).
 */
export function bucketPlans(buckets: readonly number[], cost: readonly number[]): number[][] {
  const max = buckets[buckets.length - 1];
  const best = [0];
  const plans: number[][] = [[]];
  for (let r = 1; r <= max; r++) {
    let choice = -1;
    for (let i = 0; i < buckets.length; i++) {
      const rest = Math.max(0, r - buckets[i]);
      const c = cost[i] + best[rest];
      if (choice < 0 || c < best[r] || (c === best[r] && plans[rest].length + 1 < plans[r].length)) {
        choice = i;
        best[r] = c;
        plans[r] = [buckets[i], ...plans[rest]];
      }
    }
  }
  // Largest first, so only the last call is padded (a cheapest plan has no call to spare, so
  // all the others together hold fewer rows than asked).
  return plans.map((p) => p.sort((a, b) => b - a));
}

/** Calls of each bucket timed at start-up (the fastest counts: the others met a busy machine). */
const COST_SAMPLES = 7;

/**
 * A deployed model: the same trainer the workbench trains and benchmarks (so a prediction is
 * the library's own), loaded with the source's weights. For the graph frontend every bucket is
 * traced, compiled and timed here, before the first request.
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
  const exact = (x: Float32Array, rows: number) => trainer.predict(batchOf(x.subarray(0, rows * inputSize), rows)).subarray(0, rows * outputSize);
  const padded = new Float32Array(maxBatch * inputSize);
  /** Runs `rows` rows of `x` from row `at` on `bucket` (zero-padded when fewer) into `out`. */
  const runBucket = (x: Float32Array, at: number, rows: number, bucket: number, out: Float32Array) => {
    let input = x.subarray(at * inputSize, (at + rows) * inputSize);
    if (rows < bucket) {
      padded.set(input);
      padded.fill(0, rows * inputSize, bucket * inputSize);
      input = padded.subarray(0, bucket * inputSize);
    }
    out.set(trainer.predict(batchOf(input, bucket)).subarray(0, rows * outputSize), at * outputSize);
  };
  for (const b of buckets) exact(new Float32Array(b * inputSize), b);
  const cost = buckets.map((b) => {
    const x = new Float32Array(b * inputSize);
    let fastest = Infinity;
    for (let k = 0; k < COST_SAMPLES; k++) {
      const t0 = performance.now();
      exact(x, b);
      fastest = Math.min(fastest, performance.now() - t0);
    }
    return fastest;
  });
  const plans = bucketPlans(buckets, cost);
  const run = (x: Float32Array, rows: number): Float32Array => {
    if (buckets.length === 0) return Float32Array.from(exact(x, rows));
    const plan = plans[rows];
    if (plan === undefined) throw new RangeError(`${rows} rows: the model was compiled for at most ${buckets[buckets.length - 1]}`);
    const out = new Float32Array(rows * outputSize);
    let at = 0;
    for (const bucket of plan) {
      const n = Math.min(bucket, rows - at);
      runBucket(x, at, n, bucket, out);
      at += n;
    }
    return out;
  };
  return { frontend, inputSize, outputSize, buckets, plans, predict: run, dispose: () => trainer.dispose() };
}
