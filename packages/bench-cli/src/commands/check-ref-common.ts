import { toDTypeArray, type SafeTensor } from "@dualgrad/core";
import type { Batch } from "../datasets/synthetic.js";
import { UsageError } from "../errors.js";
import type { LossKind } from "../models.js";

/** What both reference-file readers (check-ref.ts, check-ref-conv.ts) share. */

/** A malformed reference file: a one-line usage error (exit 2) naming the file and the field. */
export function bad(path: string, why: string): never {
  throw new UsageError(`check-ref: ${path} does not describe a model: ${why}`);
}

/** The loss (metadata `loss` starting with `mse` or `softmax_cross_entropy`) and the SGD learning rate. */
export function lossAndLr(meta: Record<string, string>, path: string): { loss: LossKind; lr: number } {
  const lossText = meta.loss ?? bad(path, "metadata loss is missing");
  const loss = lossText.startsWith("mse") ? "mse" : lossText.startsWith("softmax_cross_entropy") ? "ce" : bad(path, `unknown loss '${lossText}'`);
  const lr = Number(meta.lr);
  if (!(lr > 0)) bad(path, `metadata lr must be a positive number, got '${meta.lr}'`);
  return { loss, lr };
}

/** The file's batch as flat rows of `features` (labels as int32 for cross-entropy). */
export function referenceBatch(input: SafeTensor, target: SafeTensor, dtype: "float32" | "float64", loss: LossKind, features: number): Batch {
  return {
    x: toDTypeArray(input, dtype, "input") as Float32Array | Float64Array,
    xShape: [input.shape[0], features],
    y: toDTypeArray(target, loss === "ce" ? "int32" : dtype, "target"),
    yShape: [...target.shape],
  };
}
