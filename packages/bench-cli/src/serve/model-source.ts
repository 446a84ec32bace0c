import { existsSync, statSync } from "node:fs";
import { FormatError, formatShape, readSafetensors, toDTypeArray } from "@dualgrad/core";
import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import { WORKLOAD_IDS, parameterShapes, type ModelSpec } from "../models.js";
import { seedValue } from "../parse.js";
import { specFromFlags, type ModelFlags } from "../spec-options.js";

/** The flags that say which model to deploy: a spec, and its weights (or a seed). */
export interface ModelSourceFlags extends ModelFlags {
  weights?: string;
  seed: number;
}

/** A model ready to deploy: its spec and the parameters to load (PyTorch names). */
export interface ModelSource {
  spec: ModelSpec;
  /** Parameters by PyTorch name; null when serving the seeded initial parameters. */
  weights: Map<string, Float32Array> | null;
  seed: number;
  /** One line saying where the parameters come from, for the log. */
  origin: string;
}

/** Adds --model/--layers/--activation, --weights and --seed to an export or serve command. */
export function addModelSourceOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--model <id>", `reference workload (${WORKLOAD_IDS.join(", ")})`))
    .option("--layers <list>", "custom model layer widths, e.g. 8,16,1")
    .addOption(new Option("--activation <name>", "hidden activation of a custom model").choices(["relu", "tanh", "sigmoid"]))
    .option("--weights <file>", "safetensors weights (as written by train --save); without it, the seeded initial parameters")
    .option("--seed <n>", "seed of the initial parameters when no --weights is given", seedValue, 0);
}

/**
 * Reads `--weights` for `spec`: every parameter of the spec must be there with its PyTorch
 * shape (any safetensors dtype on disk, converted to float32); a missing or misshapen tensor is
 * named. A malformed file is a FormatError from core's reader.
 */
export function readWeights(spec: ModelSpec, path: string): Map<string, Float32Array> {
  if (!existsSync(path)) throw new UsageError(`--weights: ${path} does not exist`);
  if (statSync(path).isDirectory()) throw new UsageError(`--weights: ${path} is a directory, expected a .safetensors file`);
  const file = readSafetensors(path);
  const out = new Map<string, Float32Array>();
  for (const { name, shape } of parameterShapes(spec)) {
    const t = file.tensors.get(name);
    if (!t) throw new FormatError(`--weights ${path}: no tensor '${name}' (model ${spec.id} needs ${parameterShapes(spec).map((p) => p.name).join(", ")})`);
    if (formatShape(t.shape) !== formatShape(shape)) {
      throw new FormatError(`--weights ${path}: tensor '${name}' has shape ${formatShape(t.shape)}, model ${spec.id} needs ${formatShape(shape)}`);
    }
    out.set(name, toDTypeArray(t, "float32", name));
  }
  return out;
}

/** The model the flags describe (default model: mlp-small). */
export function modelSource(flags: ModelSourceFlags): ModelSource {
  const spec = specFromFlags(flags, "mlp-small");
  // Serving and ONNX export take one row of features per example; a sequence model does not fit that yet.
  if (spec.recurrent) throw new UsageError(`--model ${spec.id}: serve and export take Linear-stack models only; ${spec.id} is recurrent`);
  if (flags.weights) return { spec, weights: readWeights(spec, flags.weights), seed: flags.seed, origin: `weights from ${flags.weights}` };
  return { spec, weights: null, seed: flags.seed, origin: `no --weights: the seeded initial parameters (seed ${flags.seed}), as train would start from` };
}
