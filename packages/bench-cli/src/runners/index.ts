import type { ModelSpec } from "../models.js";
import { eagerTrainer } from "./eager-trainer.js";
import { graphTrainer } from "./graph-trainer.js";
import type { Frontend, Trainer, TrainerOptions } from "./trainer.js";

export type { Frontend, Trainer, TrainerOptions } from "./trainer.js";
export { FRONTENDS } from "./trainer.js";

/** Builds `spec` on a frontend. */
export function makeTrainer(frontend: Frontend, spec: ModelSpec, options: TrainerOptions): Trainer {
  return frontend === "eager" ? eagerTrainer(spec, options) : graphTrainer(spec, options);
}
