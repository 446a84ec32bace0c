import type { Batch } from "../datasets/synthetic.js";
import type { ModelSpec } from "../models.js";

/** The two frontends. */
export type Frontend = "eager" | "graph";
/** Both, in report order. */
export const FRONTENDS: readonly Frontend[] = ["eager", "graph"];

/** What the workbench needs from a frontend: train, differentiate, read parameters. */
export interface Trainer {
  readonly frontend: Frontend;
  readonly spec: ModelSpec;
  /** One training step on `batch` (forward, loss, backward, update); returns the loss. */
  step(batch: Batch): number;
  /** Loss only, no update (evaluation). */
  loss(batch: Batch): number;
  /** Model outputs for inputs x [n, in] (evaluation). */
  predict(batch: Batch): Float32Array | Float64Array;
  /** Gradients at the current parameters, by PyTorch name (`0.weight`, ...), without updating. */
  gradients(batch: Batch): Map<string, Float64Array>;
  /** Current parameters by PyTorch name, copied. */
  parameters(): Map<string, Float64Array>;
  /** Overwrites parameters by name. */
  setParameters(values: Map<string, ArrayLike<number>>): void;
  /** Releases every buffer the trainer holds. */
  dispose(): void;
}

/** Options shared by both trainers. */
export interface TrainerOptions {
  seed: number;
  dtype?: "float32" | "float64";
  /** Graph only: passes to switch off. */
  disable?: readonly string[];
}

/**
 * A frontend's own input pipeline over a training set, built once (`makeEpochs`): the eager
 * `DataLoader` or the graph `Dataset`. Epoch k visits the rows in `shuffledOrder(n, seed, k)` on
 * both frontends, so their losses compare step for step.
 */
export interface EpochBatches {
  /**
   * Epoch `epoch`'s minibatches (every row once, the last batch partial). One epoch at a time:
   * a batch is valid until the loop advances, as the loader may free it then.
   */
  epoch(epoch: number): Iterable<Batch>;
  /** Releases what the pipeline holds (the eager dataset's tensors). */
  dispose(): void;
}
