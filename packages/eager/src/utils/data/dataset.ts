import { DualgradError, formatShape } from "@dualgrad/core";
import { Tensor } from "../../tensor.js";
import { gatherRows } from "./gather.js";

/**
 * A map-style dataset, like `torch.utils.data.Dataset`: `length` items, item `i` from `get(i)`
 * (a tensor or a tuple of tensors, e.g. `[features, label]`). The {@link DataLoader} stacks
 * items into batches; tensors `get` creates are freed once copied into the batch, tensors it
 * merely returns (kept by the dataset) are left alone.
 */
export interface Dataset<T extends Tensor[] = Tensor[]> {
  readonly length: number;
  get(index: number): T;
  /**
   * Optional fast path: items `indices` already stacked, one tensor per position of `T`. The
   * DataLoader uses it when present instead of `get` plus stacking.
   */
  getBatch?(indices: Int32Array): T;
}

/**
 * Tensors that share their first dimension, indexed together, like
 * `torch.utils.data.TensorDataset(x, y)`: item `i` is `[x[i], y[i]]`. The dataset reads the
 * tensors (it neither copies nor frees them): keep them alive while it is in use.
 */
export class TensorDataset<T extends Tensor[] = Tensor[]> implements Dataset<T> {
  readonly tensors: Readonly<T>;

  constructor(...tensors: T) {
    const api = "TensorDataset";
    if (tensors.length === 0) throw new DualgradError(`${api}: needs at least one tensor`);
    for (const [i, t] of tensors.entries()) {
      if (!(t instanceof Tensor)) throw new DualgradError(`${api}: argument ${i} is not a Tensor`);
      t._checkAlive(api);
      if (t.ndim === 0) throw new DualgradError(`${api}: tensor ${i} is a scalar; every tensor needs a first (sample) dimension`);
      if (t.shape[0] !== tensors[0].shape[0]) {
        throw new DualgradError(`${api}: size mismatch between tensors: tensor 0 has ${tensors[0].shape[0]} rows ${formatShape(tensors[0].shape)}, tensor ${i} has ${t.shape[0]} ${formatShape(t.shape)}`);
      }
    }
    this.tensors = tensors;
  }

  /** Number of samples (the shared first dimension). */
  get length(): number {
    return this.tensors[0].shape[0];
  }

  /** Sample `index` of every tensor (new tensors without the first dimension). */
  get(index: number): T {
    return this.tensors.map((t) => gatherRows("TensorDataset.get", t, [index], true)) as T;
  }

  /** Rows `indices` of every tensor, gathered into new tensors `[indices.length, ...]`. */
  getBatch(indices: Int32Array): T {
    const out: Tensor[] = [];
    try {
      for (const t of this.tensors) out.push(gatherRows("TensorDataset", t, indices));
    } catch (err) {
      for (const t of out) t.dispose();
      throw err;
    }
    return out as T;
  }
}
