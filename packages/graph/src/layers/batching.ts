import { DualgradError, arrayConstructor, type DType, type PhiloxGenerator as RandomGenerator, type TypedArray } from "@dualgrad/core";
import { HostTensor, type TensorData } from "../host-tensor.js";

/**
 * Host-side mini-batching for `Sequential.fit/evaluate/predict`. Rows are copied into HostTensors
 * that are reused for every batch of the same size, so an epoch allocates nothing per batch: the
 * compiled graph copies its inputs in anyway, and a fixed batch shape keeps one trace per shape.
 */

/** Sample-weighted means of a compiled step's `[loss]` or `[loss, correct]` over an epoch's batches, as Keras weighs them. */
export class EpochMeans {
  private lossSum = 0;
  private correct = 0;
  /** Samples seen. */
  count = 0;
  constructor(private readonly sparse: boolean) {}

  /** Adds one batch of `count` samples. */
  add(outs: readonly HostTensor[], count: number): void {
    // Keras weighs each batch's mean loss by its size, so a short last batch counts less.
    this.lossSum += outs[0].item() * count;
    if (this.sparse) this.correct += outs[1].item();
    this.count += count;
  }

  /** The mean loss (and accuracy with sparse labels). */
  result(): { loss: number; acc?: number } {
    const n = this.count;
    return this.sparse ? { loss: this.lossSum / n, acc: this.correct / n } : { loss: this.lossSum / n };
  }
}

/** `t` in `dtype`: itself when it has it, else a converted copy. */
export function withDType(t: TensorData, dtype: DType): TensorData {
  return t.dtype === dtype ? t : new HostTensor(t.shape, dtype, (arrayConstructor(dtype) as { from(a: ArrayLike<number>): TypedArray }).from(t.data));
}

/** A permutation of `0..n-1` (Fisher–Yates driven by `gen`, so a seed reproduces the order). */
export function shuffledIndices(n: number, gen: RandomGenerator): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  if (n < 2) return idx;
  // One bulk draw rather than n calls: the generator is counter-based, so this is the same
  // stream, and it avoids per-call overhead.
  const u = gen.uniform(n, 0, 1, "float64");
  for (let i = n - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(u[i] * (i + 1)));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx;
}

/** `start..end-1` in order. */
export function rangeIndices(start: number, end: number): Int32Array {
  const idx = new Int32Array(end - start);
  for (let i = 0; i < idx.length; i++) idx[i] = start + i;
  return idx;
}

/** The `[start, count]` of each batch of `batchSize` over `n` rows (the last one may be short). */
export function* batchRanges(n: number, batchSize: number): IterableIterator<[number, number]> {
  for (let start = 0; start < n; start += batchSize) yield [start, Math.min(batchSize, n - start)];
}

/** Validates a batch size option. */
export function checkBatchSize(api: string, batchSize: unknown): number {
  if (typeof batchSize !== "number" || !Number.isSafeInteger(batchSize) || batchSize <= 0) {
    throw new DualgradError(`${api}: batchSize must be a positive integer, got ${String(batchSize)}`);
  }
  return batchSize;
}

/**
 * Gathers rows of a row-major `[N, width]` source into reusable `[count, width]` (or `[count]`
 * when `vector`) HostTensors of `dtype`, converting element types on the copy.
 */
export class RowGatherer {
  private readonly buffers = new Map<number, HostTensor>();
  constructor(
    private readonly source: TypedArray,
    private readonly width: number,
    private readonly dtype: DType,
    private readonly vector = false,
  ) {}

  /** Rows `indices[start .. start+count)` as a HostTensor; valid until the next call with the same count. */
  gather(indices: Int32Array, start: number, count: number): HostTensor {
    let buf = this.buffers.get(count);
    if (!buf) {
      const shape = this.vector ? [count] : [count, this.width];
      buf = new HostTensor(shape, this.dtype, new (arrayConstructor(this.dtype))(count * this.width));
      this.buffers.set(count, buf);
    }
    const w = this.width;
    const src = this.source;
    const dst = buf.data;
    for (let r = 0; r < count; r++) {
      const row = indices[start + r];
      // TypedArray#set converts between element types (e.g. float64 data into a float32 model).
      if (w === 1) dst[r] = src[row];
      else dst.set(src.subarray(row * w, row * w + w), r * w);
    }
    return buf;
  }
}
