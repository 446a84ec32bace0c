import { DualgradError, PhiloxGenerator, defaultGenerator, randpermInto } from "@dualgrad/core";
import { tidy } from "../../memory.js";
import { Tensor } from "../../tensor.js";
import type { Dataset } from "./dataset.js";
import { stackCopies } from "./gather.js";

/** Options of {@link DataLoader}, named as PyTorch's (`batch_size` -> `batchSize`, ...). */
export interface DataLoaderOptions {
  /** Samples per batch (default 1, as PyTorch). */
  batchSize?: number;
  /** Visit samples in a new random order every epoch (default false: dataset order). */
  shuffle?: boolean;
  /** Drop the last batch when it would be smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /**
   * Where the shuffled orders come from (default: core's global generator, see `manualSeed`),
   * like `generator=torch.Generator().manual_seed(s)`: `new PhiloxGenerator(s)`. Each epoch draws its
   * permutation from it (ceil(n/2) Philox blocks, see core's `randperm`), so the same seed gives
   * the same sequence of epochs and every epoch a different order.
   */
  generator?: PhiloxGenerator;
  /**
   * Free each batch when the loop moves to the next one, or ends or breaks (default true), so a
   * plain `for (const [x, y] of loader)` loop leaks nothing. `clone()` a batch to keep it, or
   * pass false to own (and `dispose()`) every batch yourself.
   */
  disposeBatches?: boolean;
}

/**
 * Batches of a {@link Dataset}, like `torch.utils.data.DataLoader`: iterate it once per epoch.
 *
 * ```ts
 * const loader = new utils.data.DataLoader(new utils.data.TensorDataset(x, y), { batchSize: 32, shuffle: true, generator: new PhiloxGenerator(0) });
 * for (let epoch = 0; epoch < 10; epoch++) for (const [xb, yb] of loader) { ... }
 * ```
 *
 * A batch holds copies of its rows (core's allocator, not recorded by autograd), one tensor per
 * position of the dataset's items, with the batch as the first dimension. Batches are freed as
 * the loop advances (see {@link DataLoaderOptions.disposeBatches}); they are created in the
 * current `tidy` scope, so a loop inside `tidy` is cleaned up by it too. Single process (no
 * `num_workers`): rows are copied synchronously when a batch is drawn.
 */
export class DataLoader<T extends Tensor[] = Tensor[]> implements Iterable<T> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly generator: PhiloxGenerator;
  private readonly disposeBatches: boolean;

  constructor(readonly dataset: Dataset<T>, options: DataLoaderOptions = {}) {
    const api = "DataLoader";
    if (dataset === null || typeof dataset !== "object" || typeof dataset.get !== "function" || !Number.isSafeInteger(dataset.length) || dataset.length < 0) {
      throw new DualgradError(`${api}: dataset must have a non-negative integer length and a get(index) method (e.g. a TensorDataset)`);
    }
    const batchSize = options.batchSize ?? 1;
    if (!Number.isSafeInteger(batchSize) || batchSize <= 0) throw new DualgradError(`${api}: batchSize must be a positive integer, got ${String(batchSize)}`);
    if (options.generator !== undefined && !(options.generator instanceof PhiloxGenerator)) {
      throw new DualgradError(`${api}: generator must be a PhiloxGenerator (new PhiloxGenerator(seed)), got ${String(options.generator)}`);
    }
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.generator = options.generator ?? defaultGenerator;
    this.disposeBatches = options.disposeBatches ?? true;
  }

  /** Batches per epoch, like `len(loader)`. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** One epoch of batches (a new shuffled order each time when `shuffle`). */
  *[Symbol.iterator](): Iterator<T> {
    const n = this.dataset.length;
    const order = new Int32Array(n);
    if (this.shuffle) randpermInto(order, this.generator);
    else for (let i = 0; i < n; i++) order[i] = i;
    let current: T | null = null;
    try {
      for (let b = 0; b < this.length; b++) {
        const indices = order.subarray(b * this.batchSize, Math.min((b + 1) * this.batchSize, n));
        if (this.disposeBatches && current) for (const t of current) t.dispose();
        current = null;
        current = this.batch(indices);
        yield current;
      }
    } finally {
      if (this.disposeBatches && current) for (const t of current) t.dispose();
    }
  }

  /** Samples `indices` stacked: by the dataset's `getBatch` when it has one, else `get` per sample. */
  private batch(indices: Int32Array): T {
    const ds = this.dataset;
    if (ds.getBatch) return ds.getBatch(indices);
    // Tensors get() creates are freed here once copied; ones the dataset keeps are untouched.
    return tidy(() => {
      const items = Array.from(indices, (i) => {
        const item = ds.get(i);
        return item instanceof Tensor ? [item] : item;
      });
      const width = items[0].length;
      for (const [k, item] of items.entries()) {
        if (!Array.isArray(item) || item.length !== width) {
          throw new DualgradError(`DataLoader: dataset item ${indices[k]} is not a tuple of ${width} tensors like item ${indices[0]}`);
        }
      }
      return Array.from({ length: width }, (_, j) => stackCopies("DataLoader", items.map((item) => item[j]), width > 1 ? `[${j}]` : "")) as T;
    });
  }
}
