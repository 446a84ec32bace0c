import { dtypeOfArray } from "@dualgrad/core";
import { Dataset, HostTensor } from "@dualgrad/graph";
import { shuffledRows } from "../datasets/dataset.js";
import type { Batch } from "../datasets/synthetic.js";
import type { EpochBatches } from "./trainer.js";

/**
 * The graph pipeline: `Dataset.fromTensorSlices([x, y]).batch(batchSize)` over the rows in epoch
 * k's order. The order is `shuffledOrder(n, seed, k)`, not `Dataset.shuffle`: TF's buffered
 * shuffle draws a different permutation than the eager `DataLoader`'s `randperm`, and eager and
 * graph must see the same batches to agree bit for bit.
 */
export function graphEpochs(train: Batch, batchSize: number, seed: number): EpochBatches {
  return {
    *epoch(epoch) {
      const rows = shuffledRows(train, seed, epoch);
      // The permuted copy is fresh, so the tensors can own it.
      const x = new HostTensor(rows.xShape, dtypeOfArray(rows.x), rows.x);
      const y = new HostTensor(rows.yShape, dtypeOfArray(rows.y), rows.y);
      const dataset = Dataset.fromTensorSlices([x, y]).batch(batchSize);
      for (const [xb, yb] of dataset) {
        yield { x: xb.data as Float32Array | Float64Array, xShape: [xb.shape[0], train.xShape[1]], y: yb.data as Batch["y"], yShape: [...yb.shape] };
      }
    },
    dispose() {},
  };
}
