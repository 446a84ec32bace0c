import { DualgradError } from "@dualgrad/core";
import { tensor, utils, type Tensor } from "@dualgrad/eager";
import { seekEpoch, shuffleGenerator } from "../datasets/dataset.js";
import type { Batch } from "../datasets/synthetic.js";
import type { ModelSpec } from "../models.js";
import { inputShape } from "./recurrent-input.js";
import type { EpochBatches } from "./trainer.js";

/** A batch drawn by the eager `DataLoader`: the host view of its rows plus the loader's own tensors. */
export interface EagerBatch extends Batch {
  /** [x, y] as the DataLoader made them; the eager trainer steps on these without copying. */
  readonly tensors: readonly [Tensor, Tensor];
}

/** The loader's tensors of `b`, when it came from {@link eagerEpochs} (else undefined). */
export function loaderTensors(b: Batch): readonly [Tensor, Tensor] | undefined {
  return (b as Partial<EagerBatch>).tensors;
}

/**
 * The eager pipeline for `spec` (its batch size and input shape): `TensorDataset(x, y)` built once, iterated per epoch by a `DataLoader`
 * whose generator is `shuffleGenerator(seed)` moved to that epoch ({@link seekEpoch}), so epoch k
 * is `shuffledOrder(n, seed, k)` whichever epochs ran before.
 */
export function eagerEpochs(train: Batch, spec: ModelSpec, seed: number): EpochBatches {
  // Rows in the model's input shape (images [n, C, H, W] for conv models), as the trainer steps on them.
  const x = tensor(train.x, { shape: inputShape(spec, train) });
  const y = tensor(train.y, { shape: train.yShape });
  const generator = shuffleGenerator(seed);
  const loader = new utils.data.DataLoader(new utils.data.TensorDataset(x, y), { batchSize: spec.batch, shuffle: true, generator });
  let iterating = false;
  return {
    *epoch(epoch) {
      // One shared generator: two epochs interleaved would draw each other's permutations.
      if (iterating) throw new DualgradError("eagerEpochs: an epoch is already being iterated; finish it first");
      iterating = true;
      try {
        seekEpoch(generator, train.xShape[0], epoch);
        for (const [xb, yb] of loader) {
          const batch: EagerBatch = { x: xb.data as Float32Array | Float64Array, xShape: [xb.shape[0], train.xShape[1]], y: yb.data as Batch["y"], yShape: [...yb.shape], tensors: [xb, yb] };
          yield batch;
        }
      } finally {
        iterating = false;
      }
    },
    dispose() {
      x.dispose();
      y.dispose();
    },
  };
}
