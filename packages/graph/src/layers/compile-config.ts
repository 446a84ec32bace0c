import { DualgradError } from "@dualgrad/core";
import { crossEntropy, mseLoss } from "../nn.js";
import { Loss, SparseCategoricalCrossentropy } from "../losses.js";
import { Adam, AdamW, GraphOptimizer, SGD } from "../optimizers.js";
import type { AdamConfig, SGDConfig } from "../optimizer-config.js";
import type { SymbolicTensor } from "../symbolic.js";

/**
 * What `model.compile` accepts, resolved to the graph frontend's pieces. Strings follow TF.js's
 * names; anything else is rejected with the valid choices listed, since a typo in a loss name
 * would otherwise surface much later as a confusing trace-time shape error.
 */

/** Loss names accepted by `compile`, as in TF.js. */
export type LossName = "mse" | "meanSquaredError" | "sparseCategoricalCrossentropy";

/** Optimizer names accepted by `compile` (created with Keras's default learning rates). */
export type OptimizerName = "sgd" | "adam";

/** The valid {@link LossName}s. */
export const LOSS_NAMES: readonly LossName[] = ["mse", "meanSquaredError", "sparseCategoricalCrossentropy"];

/** The valid {@link OptimizerName}s. */
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ["sgd", "adam"];

/**
 * An optimizer by Keras's serialised form, `{ className: "SGD", config: { learningRate: 0.1 } }`
 * (`keras.optimizers.get`'s dict), the config in either library's names.
 */
export type OptimizerSpec =
  | { className: "SGD"; config: SGDConfig }
  | { className: "Adam" | "AdamW"; config?: AdamConfig };

/** A resolved loss: the traced loss function and whether targets are int32 class labels. */
export interface ResolvedLoss {
  /** Canonical name (Keras's, for a loss object). */
  name: string;
  /** Scalar loss of model outputs `[B, out]` against targets (`[B, out]` or int32 `[B]`). */
  fn: (output: SymbolicTensor, target: SymbolicTensor) => SymbolicTensor;
  /** True when targets are class indices (and accuracy is reported). */
  sparseLabels: boolean;
}

const choices = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(", ");

/** Shows a user-supplied value in an error message without throwing on odd values. */
function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "object" && v !== null) return v.constructor?.name ?? "object";
  return String(v);
}

/**
 * Resolves a loss: a loss object (`new losses.MeanSquaredError()`, ...) is called as
 * `loss.call(y, output)`; a name as below. Unknown names are a {@link DualgradError} listing the valid ones.
 */
export function resolveLoss(loss: unknown): ResolvedLoss {
  if (loss instanceof Loss) {
    return { name: loss.name, fn: (output, target) => loss.call(target, output), sparseLabels: loss instanceof SparseCategoricalCrossentropy };
  }
  switch (loss) {
    case "mse":
    case "meanSquaredError":
      return { name: "meanSquaredError", fn: mseLoss, sparseLabels: false };
    case "sparseCategoricalCrossentropy":
      // The last layer's outputs are taken as logits (from_logits=True): crossEntropy applies
      // log_softmax itself, which is stabler than a softmax layer followed by log.
      return { name: "sparseCategoricalCrossentropy", fn: crossEntropy, sparseLabels: true };
    default:
      throw new DualgradError(`compile: unknown loss ${describe(loss)}; valid choices: ${choices(LOSS_NAMES)}`);
  }
}

/**
 * Resolves an optimizer: an instance is used as is; an {@link OptimizerSpec} is constructed; `'sgd'` is SGD(lr 0.01) and `'adam'` is
 * Adam(lr 0.001), Keras's defaults. Anything else is a {@link DualgradError} listing the choices.
 */
export function resolveOptimizer(optimizer: unknown): GraphOptimizer {
  if (optimizer instanceof GraphOptimizer) return optimizer;
  if (typeof optimizer === "object" && optimizer !== null && "className" in optimizer) {
    const spec = optimizer as OptimizerSpec;
    if (spec.className === "SGD") return new SGD(spec.config);
    if (spec.className === "Adam") return new Adam(spec.config);
    if (spec.className === "AdamW") return new AdamW(spec.config);
    throw new DualgradError(`compile: unknown optimizer className ${describe((spec as { className: unknown }).className)}; valid choices: 'SGD', 'Adam', 'AdamW'`);
  }
  switch (optimizer) {
    case "sgd":
      return new SGD({ lr: 0.01 });
    case "adam":
      return new Adam({ lr: 0.001 });
    default:
      throw new DualgradError(
        `compile: unknown optimizer ${describe(optimizer)}; valid choices: ${choices(OPTIMIZER_NAMES)} or a GraphOptimizer instance (SGD, Adam, AdamW, optimizers.sgd(lr), ...), or Keras's { className, config }`,
      );
  }
}
