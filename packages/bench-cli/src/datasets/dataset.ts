import { DualgradError, PhiloxGenerator, randpermInto } from "@dualgrad/core";
import type { Batch } from "./synthetic.js";

/**
 * What `dualgrad train --dataset ...` trains on: a train split, an optional held-out test split,
 * and enough metadata to check that a model fits it (input and output widths, task kind).
 * Every source (synthetic, mnist, csv) is loaded whole into one `Batch` per split; `batches()`
 * then cuts minibatches out of it.
 */
export interface Dataset {
  /** A short human-readable name, e.g. `mnist`, `synthetic:mlp-small`, `data.csv`. */
  name: string;
  /** Features per row (the model's first layer width must equal it). */
  inputSize: number;
  /** Regression targets per row, or the number of classes for classification. */
  outputSize: number;
  task: "regression" | "classification";
  /** Number of classes (classification only); labels are int32 in [0, classes). */
  classes?: number;
  train: Batch;
  /** Held-out rows, or null when the source has none (e.g. a test fraction of 0). */
  test: Batch | null;
  /** Optional one-line description (row counts, value ranges) for logs and reports. */
  summary?: string;
  /** Optional per-column statistics of the raw values (CSV sources), in file column order. */
  columns?: ColumnStats[];
}

/** Raw (unstandardised) range of one column, as reported for CSV sources. */
export interface ColumnStats {
  name: string;
  role: "feature" | "target";
  min: number;
  max: number;
}

/** Options of {@link batches}. */
export interface BatchOptions {
  /** Visit rows in a seeded random order (a new order each epoch) instead of file order. */
  shuffle: boolean;
  seed: number;
  /** The epoch number (0, 1, ...): with `seed`, it alone determines the shuffled order. */
  epoch: number;
  /**
   * Reuse one pair of output buffers for every shuffled batch (default true). A yielded batch is
   * then only valid until the iterator advances: trainers copy it into tensors at once, so
   * reusing saves one allocation per step. Pass false to get independent batches (e.g. to keep
   * them all, as `Array.from(batches(...))` does).
   */
  reuse?: boolean;
}

// Domain-separation constants: the user's seed also seeds parameter init and synthetic data, so
// the shuffling streams get their own Philox keys and never replay those draws.
const SHUFFLE_KEY = 0x5348_5546_464c_4521n; // "SHUFFLE!"
const SPLIT_KEY = 0x5350_4c49_5454_5354n; // "SPLITTST"

/** A generator for `seed` on its own key: `seed` xor `domain`, wrapped to 64 bits. */
function keyedGenerator(api: string, seed: number, domain: bigint): PhiloxGenerator {
  if (!Number.isSafeInteger(seed)) throw new DualgradError(`${api}: seed must be an integer, got ${String(seed)}`);
  return new PhiloxGenerator(BigInt.asUintN(64, BigInt(seed) ^ domain));
}

/** Philox blocks one {@link randpermInto} call of length n consumes (float64 uniforms: 2 per block). */
function permutationBlocks(n: number): number {
  return Math.ceil(n / 2);
}

/**
 * A seeded uniformly random permutation of 0..n-1 for loaders that pick rows themselves (mnist).
 * `domain` is a 64-bit constant naming the caller, xored into the seed so that different uses of
 * one user seed draw independent streams.
 */
export function seededPermutation(n: number, seed: number, domain: bigint): Int32Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new DualgradError(`seededPermutation: n must be a non-negative integer, got ${String(n)}`);
  const perm = new Int32Array(n);
  randpermInto(perm, keyedGenerator("seededPermutation", seed, domain));
  return perm;
}

/**
 * The generator behind {@link shuffledOrder}: epoch k's order is the k-th `randperm` drawn from
 * it, so an eager `DataLoader` given `generator: shuffleGenerator(seed)` and `shuffle: true`
 * visits the rows in exactly the order of `batches(..., { shuffle: true, seed, epoch })` for
 * epochs 0, 1, 2, ... (tested in data-loader-order.test.ts).
 */
export function shuffleGenerator(seed: number): PhiloxGenerator {
  return keyedGenerator("shuffledOrder", seed, SHUFFLE_KEY);
}

/**
 * Moves a {@link shuffleGenerator} to the start of epoch `epoch`'s draw for `n` rows, so that its
 * next `randperm` of length n is {@link shuffledOrder}(n, seed, epoch): how a loader that draws its
 * own permutations (the eager `DataLoader`) starts at any epoch.
 */
export function seekEpoch(gen: PhiloxGenerator, n: number, epoch: number): void {
  gen.setState({ seed: gen.seed, offset: epoch * permutationBlocks(n) });
}

/**
 * The permutation of 0..n-1 that epoch `epoch` of `seed` uses: deterministic, different per
 * epoch, independent of how many epochs ran before (each epoch jumps straight to its own block
 * of the Philox stream, so resuming at epoch 7 gives the same order as running 0..7).
 */
export function shuffledOrder(n: number, seed: number, epoch: number): Int32Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new DualgradError(`shuffledOrder: n must be a non-negative integer, got ${String(n)}`);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new DualgradError(`shuffledOrder: epoch must be a non-negative integer, got ${String(epoch)}`);
  const gen = shuffleGenerator(seed);
  seekEpoch(gen, n, epoch);
  const perm = new Int32Array(n);
  randpermInto(perm, gen);
  return perm;
}

/** Rows in `b` (its first dimension), checked against the data lengths so a malformed batch fails here, not mid-epoch. */
function rowsOf(api: string, b: Batch): { n: number; xw: number; yw: number } {
  const n = b.xShape[0];
  const xw = b.xShape[1];
  if (b.yShape[0] !== n) throw new DualgradError(`${api}: x has ${n} rows but y has ${b.yShape[0]} (yShape [${b.yShape.join(", ")}])`);
  let yw = 1;
  for (let i = 1; i < b.yShape.length; i++) yw *= b.yShape[i];
  if (b.x.length !== n * xw) throw new DualgradError(`${api}: x has ${b.x.length} values, expected ${n} x ${xw} = ${n * xw}`);
  if (b.y.length !== n * yw) throw new DualgradError(`${api}: y has ${b.y.length} values, expected ${n * yw} for yShape [${b.yShape.join(", ")}]`);
  return { n, xw, yw };
}

/** A new typed array of the same kind as `a`, with `length` elements. */
function like<T extends Float32Array | Float64Array | Int32Array>(a: T, length: number): T {
  return new (a.constructor as new (n: number) => T)(length);
}

/** Copies rows `idx[from..to)` of `b` into `out` (whose x and y hold at least that many rows). */
function gatherInto(b: Batch, idx: Int32Array, from: number, to: number, xw: number, yw: number, out: Batch): void {
  const { x, y } = b;
  for (let r = from; r < to; r++) {
    const src = idx[r];
    const dst = r - from;
    out.x.set(x.subarray(src * xw, (src + 1) * xw), dst * xw);
    if (yw === 1) out.y[dst] = y[src];
    else out.y.set(y.subarray(src * yw, (src + 1) * yw), dst * yw);
  }
}

/** An empty batch with room for `rows` rows shaped like `b`. */
function allocLike(b: Batch, rows: number, xw: number, yw: number): Batch {
  return {
    x: like(b.x, rows * xw),
    xShape: [rows, xw],
    y: like(b.y, rows * yw),
    yShape: [rows, ...b.yShape.slice(1)],
  };
}

/** Rows `idx` of `b` as a new batch. */
function gather(b: Batch, idx: Int32Array, xw: number, yw: number): Batch {
  const out = allocLike(b, idx.length, xw, yw);
  gatherInto(b, idx, 0, idx.length, xw, yw, out);
  return out;
}

/**
 * Minibatches of `data` for one epoch: every row exactly once, in batches of `batchSize` rows,
 * the last one partial when `batchSize` does not divide the row count (dropping it would silently
 * skip rows; trainers average the loss per batch, so a short batch is harmless).
 *
 * Without shuffling, batches are zero-copy views (`subarray`) of `data`. With shuffling the order
 * is {@link shuffledOrder}(n, seed, epoch) and rows are gathered into buffers that are reused for
 * every batch unless `reuse: false` (see {@link BatchOptions.reuse}).
 */
export function* batches(data: Batch, batchSize: number, options: BatchOptions): Generator<Batch, void, undefined> {
  const api = "batches";
  if (!Number.isSafeInteger(batchSize) || batchSize <= 0) throw new DualgradError(`${api}: batch size must be a positive integer, got ${String(batchSize)}`);
  const { n, xw, yw } = rowsOf(api, data);
  if (!options.shuffle) {
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(start + batchSize, n);
      yield {
        x: data.x.subarray(start * xw, end * xw),
        xShape: [end - start, xw],
        y: data.y.subarray(start * yw, end * yw),
        yShape: [end - start, ...data.yShape.slice(1)],
      };
    }
    return;
  }
  const order = shuffledOrder(n, options.seed, options.epoch);
  const reuse = options.reuse ?? true;
  let full: Batch | null = null;
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(start + batchSize, n);
    const rows = end - start;
    let out: Batch;
    if (reuse && rows === batchSize) out = full ??= allocLike(data, batchSize, xw, yw);
    else out = allocLike(data, rows, xw, yw); // the partial last batch, or reuse off
    gatherInto(data, order, start, end, xw, yw, out);
    yield out;
  }
}

/** All rows of `data` in epoch `epoch`'s shuffled order ({@link shuffledOrder}), as one new batch. */
export function shuffledRows(data: Batch, seed: number, epoch: number): Batch {
  const { n, xw, yw } = rowsOf("shuffledRows", data);
  return gather(data, shuffledOrder(n, seed, epoch), xw, yw);
}

/**
 * Splits `b` into a seeded random train/test partition: `round(n * testFraction)` rows (at least
 * one) go to test, the rest to train. Each side keeps its rows in their original relative order,
 * so a split of a file still reads like the file. A fraction of 0 gives `test: null`.
 * Needs at least 2 rows when the fraction is positive (each side non-empty).
 */
export function splitTrainTest(b: Batch, testFraction: number, seed: number): { train: Batch; test: Batch | null } {
  const api = "splitTrainTest";
  if (!(testFraction >= 0 && testFraction < 1)) throw new DualgradError(`${api}: test fraction must be in [0, 1), got ${String(testFraction)}`);
  const { n, xw, yw } = rowsOf(api, b);
  if (testFraction === 0) return { train: b, test: null };
  const nTest = Math.max(1, Math.round(n * testFraction));
  if (n - nTest < 1) throw new DualgradError(`${api}: ${n} row${n === 1 ? "" : "s"} cannot be split into non-empty train and test sets (test fraction ${testFraction})`);
  const perm = new Int32Array(n);
  randpermInto(perm, keyedGenerator(api, seed, SPLIT_KEY));
  const testIdx = perm.slice(0, nTest).sort();
  const trainIdx = perm.slice(nTest).sort();
  return { train: gather(b, trainIdx, xw, yw), test: gather(b, testIdx, xw, yw) };
}

/**
 * Classification accuracy in [0, 1]: the fraction of rows of `logits` ([n, classes] row-major)
 * whose argmax equals the label. Ties go to the lowest class, as `torch.argmax`. A row with a NaN
 * counts as wrong, so a diverged model cannot score by accident of comparison order.
 */
export function accuracy(logits: ArrayLike<number>, labels: Int32Array, classes: number): number {
  const api = "accuracy";
  if (!Number.isSafeInteger(classes) || classes < 1) throw new DualgradError(`${api}: classes must be a positive integer, got ${String(classes)}`);
  const n = labels.length;
  if (n === 0) throw new DualgradError(`${api}: no samples`);
  if (logits.length !== n * classes) {
    throw new DualgradError(`${api}: logits have ${logits.length} values, expected ${n} labels x ${classes} classes = ${n * classes}`);
  }
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const base = i * classes;
    let best = 0;
    let bestV = logits[base];
    let nan = Number.isNaN(bestV);
    for (let k = 1; k < classes; k++) {
      const v = logits[base + k];
      if (Number.isNaN(v)) nan = true;
      else if (v > bestV) {
        bestV = v;
        best = k;
      }
    }
    if (!nan && best === labels[i]) correct++;
  }
  return correct / n;
}
