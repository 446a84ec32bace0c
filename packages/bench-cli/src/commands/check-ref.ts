import { existsSync, statSync } from "node:fs";
import { FormatError, readSafetensors, toDTypeArray, type SafetensorsFile } from "@dualgrad/core";
import type { Command } from "commander";
import { Option } from "commander";
import type { Batch } from "../datasets/synthetic.js";
import { UsageError } from "../errors.js";
import { bad, lossAndLr, referenceBatch } from "./check-ref-common.js";
import type { Activation, ModelSpec } from "../models.js";
import { color, newTable } from "../output.js";
import { positiveNumber } from "../parse.js";
import { formatSci } from "../report/format.js";
import { tensorDifference } from "../runners/agreement.js";
import { rnnSpecFromReference } from "./check-ref-rnn.js";
import { makeTrainer, type Frontend } from "../runners/index.js";
import { specFromConvReference } from "./check-ref-conv.js";

/** One compared tensor. */
export interface RefRow {
  tensor: string;
  frontend: Frontend;
  maxAbs: number;
  /** max |ours - torch| / max |torch|: relative to the tensor's magnitude. */
  maxRel: number;
  ok: boolean;
}

const ACTIVATIONS: readonly Activation[] = ["relu", "tanh", "sigmoid"];

/** The result tensors a reference file may hold, as the no-result error lists them. */
const RESULT_TENSORS = "output, loss, grad.<param>, after1.*, after5.*, losses, loss_after5";

/**
 * Reads the model a reference file describes (see the file layout in the README): a
 * Linear/activation stack, or with metadata format_version "2" a convolutional Sequential
 * (check-ref-conv.ts). `names` pairs each parameter's name in the file (after `params.`,
 * `grad.`, ...) with the trainer's.
 */
export function specFromReference(file: SafetensorsFile, path: string): { spec: ModelSpec; dtype: "float32" | "float64"; batch: Batch; names: [string, string][] } {
  const version = file.metadata.format_version;
  if (version === "2") return specFromConvReference(file, path);
  if (version !== undefined && version !== "1") bad(path, `unknown metadata format_version '${version}' (this version reads 1 and 2)`);
  const t = (name: string) => file.tensors.get(name);
  const layers: number[] = [];
  for (let i = 0; t(`params.${i}.weight`); i++) {
    const w = t(`params.${i}.weight`)!;
    const b = t(`params.${i}.bias`);
    if (w.shape.length !== 2) bad(path, `params.${i}.weight has shape [${w.shape}], expected [out,in]`);
    if (!b || b.shape.length !== 1 || b.shape[0] !== w.shape[0]) bad(path, `params.${i}.bias must have shape [${w.shape[0]}]`);
    if (i === 0) layers.push(w.shape[1]);
    else if (w.shape[1] !== layers[i]) bad(path, `params.${i}.weight takes ${w.shape[1]} inputs but layer ${i - 1} gives ${layers[i]}`);
    layers.push(w.shape[0]);
  }
  if (layers.length < 2) bad(path, "no params.0.weight");
  const w0 = t("params.0.weight")!;
  if (w0.dtype !== "F32" && w0.dtype !== "F64") bad(path, `parameters must be F32 or F64, got ${w0.dtype}`);
  const dtype = w0.dtype === "F64" ? "float64" : "float32";
  const meta = file.metadata;
  const actText = meta.hidden_activations;
  if (actText === undefined) bad(path, "metadata hidden_activations is missing");
  const acts = actText === "none" || actText === "" ? [] : actText.split(",").map((s) => s.trim());
  if (acts.length !== layers.length - 2) bad(path, `hidden_activations lists ${acts.length} activations for ${layers.length - 2} hidden layers`);
  for (const a of acts) if (!ACTIVATIONS.includes(a as Activation)) bad(path, `unknown activation '${a}' (expected relu, tanh or sigmoid)`);
  const { loss, lr } = lossAndLr(meta, path);
  const input = t("input") ?? bad(path, "tensor input is missing");
  const target = t("target") ?? bad(path, "tensor target is missing");
  if (input.shape.length !== 2 || input.shape[1] !== layers[0]) bad(path, `input must be [B,${layers[0]}], got [${input.shape}]`);
  const n = input.shape[0];
  const expectTarget = loss === "ce" ? `[${n}]` : `[${n},${layers[layers.length - 1]}]`;
  if (`[${target.shape}]` !== expectTarget) bad(path, `target must be ${expectTarget}, got [${target.shape}]`);
  const spec: ModelSpec = {
    id: `check-ref`,
    layers,
    activation: (acts[0] as Activation) ?? null,
    activations: acts as Activation[],
    loss,
    optimizer: "sgd",
    lr,
    batch: n,
    data: loss === "ce" ? "classification" : "regression",
  };
  const batch = referenceBatch(input, target, dtype, loss, layers[0]);
  const names: [string, string][] = [];
  for (let i = 0; i < layers.length - 1; i++) for (const k of ["weight", "bias"]) names.push([`${i}.${k}`, `${2 * i}.${k}`]);
  return { spec, dtype, batch, names };
}

/** The model of a reference file: recurrent files (model rnn or lstm) here, the others by {@link specFromReference}. */
function referenceModel(file: SafetensorsFile, path: string): { spec: ModelSpec; dtype: "float32" | "float64"; batch: Batch; names: [string, string][] } {
  const model = file.metadata.model;
  return model === "rnn" || model === "lstm" ? rnnSpecFromReference(file, path) : specFromReference(file, path);
}

/** Runs the model of a reference file on one frontend and compares every result tensor present. */
export function checkReference(file: SafetensorsFile, path: string, frontend: Frontend, rtol?: number): RefRow[] {
  const { spec, dtype, batch, names } = referenceModel(file, path);
  const tol = rtol ?? (dtype === "float64" ? 1e-10 : 1e-5);
  const trainer = makeTrainer(frontend, spec, { seed: 0, dtype });
  const rows: RefRow[] = [];
  const compare = (name: string, ours: ArrayLike<number>) => {
    const ref = file.tensors.get(name);
    if (!ref) return;
    const theirs = toDTypeArray(ref, "float64", name);
    if (theirs.length !== ours.length) bad(path, `${name} has ${theirs.length} elements, the model gives ${ours.length}`);
    const { maxAbs, maxRel } = tensorDifference(ours, theirs);
    rows.push({ tensor: name, frontend, maxAbs, maxRel, ok: maxRel <= tol });
  };
  try {
    trainer.setParameters(new Map(names.map(([ref, ours]) => [ours, toDTypeArray(file.tensors.get(`params.${ref}`)!, dtype)])));
    compare("output", trainer.predict(batch));
    compare("loss", [trainer.loss(batch)]);
    const grads = trainer.gradients(batch);
    for (const [ref, ours] of names) compare(`grad.${ref}`, grads.get(ours)!);
    const losses: number[] = [];
    for (let s = 0; s < 5; s++) {
      losses.push(trainer.step(batch));
      if (s === 0 || s === 4) {
        const p = trainer.parameters();
        for (const [ref, ours] of names) compare(`${s === 0 ? "after1" : "after5"}.${ref}`, p.get(ours)!);
      }
    }
    compare("losses", losses);
    compare("loss_after5", [trainer.loss(batch)]);
  } finally {
    trainer.dispose();
  }
  // A file with a model but no result tensor would otherwise "pass" with nothing checked.
  if (rows.length === 0) {
    throw new UsageError(`check-ref: ${path} holds no result tensor to compare (expected at least one of ${RESULT_TENSORS})`);
  }
  return rows;
}

/** `dualgrad check-ref FILE`: the bridge to PyTorch. */
export function registerCheckRef(program: Command): void {
  program
    .command("check-ref")
    .description("rebuild a PyTorch reference model from a safetensors file and compare outputs, gradients and SGD steps")
    .argument("<file>", "reference .safetensors file (see README for its layout)")
    .addOption(new Option("--frontend <name>", "frontend(s) to check").choices(["eager", "graph", "both"]).default("both"))
    .option("--rtol <x>", "tolerance relative to each tensor's max magnitude (default 1e-10 for F64, 1e-5 for F32)", positiveNumber)
    .option("--json", "print the comparison as JSON on stdout")
    .action((path: string, flags: { frontend: "eager" | "graph" | "both"; rtol?: number; json?: boolean }) => {
      if (!existsSync(path)) throw new UsageError(`check-ref: no such file: ${path}`);
      if (statSync(path).isDirectory()) throw new UsageError(`check-ref: ${path} is a directory, expected a .safetensors file`);
      let file: SafetensorsFile;
      try {
        file = readSafetensors(path);
      } catch (err) {
        if (err instanceof FormatError) throw new UsageError(`check-ref: ${err.message}`);
        throw err;
      }
      const frontends: Frontend[] = flags.frontend === "both" ? ["eager", "graph"] : [flags.frontend];
      const rows = frontends.flatMap((f) => checkReference(file, path, f, flags.rtol));
      const ok = rows.every((r) => r.ok);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ file: path, ok, rows }, null, 2)}\n`);
      } else {
        const table = newTable(["tensor", ...frontends.flatMap((f) => [`${f} max abs`, `${f} max rel`])]);
        const tensors = [...new Set(rows.map((r) => r.tensor))];
        for (const name of tensors) {
          const cells = frontends.flatMap((f) => {
            const r = rows.find((x) => x.tensor === name && x.frontend === f)!;
            const paint = r.ok ? color.green : color.red;
            return [formatSci(r.maxAbs), paint(formatSci(r.maxRel))];
          });
          table.push([name, ...cells]);
        }
        process.stdout.write(`${table.toString()}\n${ok ? color.green("all within tolerance") : color.red(`${rows.filter((r) => !r.ok).length} tensor(s) out of tolerance`)}\n`);
      }
      if (!ok) process.exitCode = 1;
    });
}
