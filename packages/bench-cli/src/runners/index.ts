import type { Batch } from "../datasets/synthetic.js";
import type { ModelSpec } from "../models.js";
import { eagerEpochs } from "./eager-data.js";
import { eagerTrainer } from "./eager-trainer.js";
import { graphEpochs } from "./graph-data.js";
import { graphTrainer } from "./graph-trainer.js";
import type { EpochBatches, Frontend, Trainer, TrainerOptions } from "./trainer.js";

export type { EpochBatches, Frontend, Trainer, TrainerOptions } from "./trainer.js";
export { FRONTENDS } from "./trainer.js";

/** Builds `spec` on a frontend. */
export function makeTrainer(frontend: Frontend, spec: ModelSpec, options: TrainerOptions): Trainer {
  return frontend === "eager" ? eagerTrainer(spec, options) : graphTrainer(spec, options);
}

/** Builds `frontend`'s own input pipeline over `train` once, in batches of `spec.batch` rows (see {@link EpochBatches}). */
export function makeEpochs(frontend: Frontend, train: Batch, spec: ModelSpec, seed: number): EpochBatches {
  return frontend === "eager" ? eagerEpochs(train, spec, seed) : graphEpochs(train, spec.batch, seed);
}
