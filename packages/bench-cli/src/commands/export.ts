import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PhiloxGenerator, writeFileAtomic } from "@dualgrad/core";
import { toOnnx } from "@dualgrad/graph";
import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import { note } from "../output.js";
import { graphModel } from "../runners/graph-model.js";
import { addModelSourceOptions, modelSource, type ModelSource, type ModelSourceFlags } from "../serve/model-source.js";

/**
 * The ONNX bytes of a model: the graph frontend's forward pass (logits, no loss) traced and
 * exported with a dynamic batch dimension, weights as initializers.
 */
export function exportModelOnnx(source: ModelSource): Uint8Array {
  const { spec, weights } = source;
  const model = graphModel(spec, "float32", new PhiloxGenerator(source.seed));
  try {
    if (weights) model.params.forEach((p, i) => p.assign(weights.get(model.names[i])!));
    return toOnnx(model.forward, [{ shape: [1, spec.layers[0]] }], { name: spec.id, inputNames: ["input"], outputNames: ["output"] });
  } finally {
    model.params.forEach((p) => p.dispose());
  }
}

/** `dualgrad export`: writes a model's inference graph as ONNX. */
export function registerExport(program: Command): void {
  const cmd = program.command("export").description("export a model's forward pass (graph frontend) as an ONNX file with a dynamic batch dimension");
  addModelSourceOptions(cmd)
    .addOption(new Option("--format <format>", "export format").choices(["onnx"]).default("onnx"))
    .requiredOption("--out <file>", "output file, e.g. model.onnx")
    .option("--force", "overwrite an existing output file")
    .action((flags: ModelSourceFlags & { out: string; force?: boolean }) => {
      const out = resolve(flags.out);
      if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out: ${flags.out} is a directory`);
      if (existsSync(out) && !flags.force) throw new UsageError(`--out: ${flags.out} already exists; pass --force to overwrite it`);
      if (!existsSync(dirname(out))) throw new UsageError(`--out: directory ${dirname(out)} does not exist`);
      const source = modelSource(flags);
      const bytes = exportModelOnnx(source);
      writeFileAtomic(out, bytes);
      note(`wrote ${flags.out} (${bytes.length} bytes): ${source.spec.id} [${source.spec.layers.join(", ")}], ${source.origin}`);
    });
}
