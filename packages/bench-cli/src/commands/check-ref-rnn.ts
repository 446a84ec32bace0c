import { toDTypeArray, type SafetensorsFile } from "@dualgrad/core";
import type { Batch } from "../datasets/synthetic.js";
import { UsageError } from "../errors.js";
import { parameterShapes, type ModelSpec } from "../models.js";

/**
 * The recurrent reference files of check-ref (`format_version` 2, `model` rnn or lstm; layout in
 * the README): `torch.nn.RNN` or `torch.nn.LSTM` (batch_first, zero initial state), then a
 * Linear head on the last step; LSTM weights are `[4H, ·]`.
 * Tensors are `params.rnn.*` and `params.head.*`, which are our trainers' names with a prefix.
 */

function bad(path: string, why: string): never {
  throw new UsageError(`check-ref: ${path} does not describe a model: ${why}`);
}

/** A positive integer metadata field. */
function intField(meta: Record<string, string>, path: string, key: string): number {
  const v = meta[key];
  if (v === undefined) bad(path, `metadata ${key} is missing`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0 || String(n) !== v.trim()) bad(path, `metadata ${key} must be a positive integer, got '${v}'`);
  return n;
}

/** Reads the recurrent model a reference file describes; every shape is checked against its metadata. */
export function rnnSpecFromReference(file: SafetensorsFile, path: string): { spec: ModelSpec; dtype: "float32" | "float64"; batch: Batch; names: [string, string][] } {
  const meta = file.metadata;
  const cell = meta.model === "lstm" ? "lstm" : "rnn";
  if (meta.format_version !== "2") bad(path, `model ${cell} needs metadata format_version '2', got '${meta.format_version ?? ""}'`);
  const dtypeText = meta.dtype;
  if (dtypeText !== "F32" && dtypeText !== "F64") bad(path, `metadata dtype must be F32 or F64, got '${dtypeText ?? ""}'`);
  const dtype = dtypeText === "F64" ? "float64" : "float32";
  const [f, h, o, t, n] = ["input_size", "hidden_size", "output_size", "seq_len", "batch"].map((k) => intField(meta, path, k));
  // An LSTM's gates fix its nonlinearities; the field is read for RNNs only.
  const nonlinearity = cell === "lstm" ? "tanh" : meta.nonlinearity;
  if (nonlinearity !== "tanh" && nonlinearity !== "relu") bad(path, `metadata nonlinearity must be tanh or relu, got '${nonlinearity ?? ""}'`);
  if (meta.num_layers !== "1") bad(path, `metadata num_layers must be '1', got '${meta.num_layers ?? ""}'`);
  if (meta.batch_first !== "true") bad(path, `metadata batch_first must be 'true', got '${meta.batch_first ?? ""}'`);
  const lossText = meta.loss ?? bad(path, "metadata loss is missing");
  const loss = lossText.startsWith("mse") ? "mse" : lossText.startsWith("softmax_cross_entropy") ? "ce" : bad(path, `unknown loss '${lossText}'`);
  const lr = Number(meta.lr);
  if (!(lr > 0) || !Number.isFinite(lr)) bad(path, `metadata lr must be a positive number, got '${meta.lr}'`);
  const spec: ModelSpec = {
    id: "check-ref", layers: [f, h, o], activation: null, loss, optimizer: "sgd", lr, batch: n,
    data: "rnn", recurrent: { cell, nonlinearity, seqLen: t },
  };
  const names: [string, string][] = [];
  for (const { name, shape } of parameterShapes(spec)) {
    const p = file.tensors.get(`params.${name}`) ?? bad(path, `tensor params.${name} is missing`);
    if (`${p.shape}` !== `${shape}` || p.shape.length !== shape.length) bad(path, `params.${name} must have shape [${shape}], got [${p.shape}]`);
    if (p.dtype !== dtypeText) bad(path, `params.${name} is ${p.dtype}, metadata dtype says ${dtypeText}`);
    names.push([name, name]);
  }
  const input = file.tensors.get("input") ?? bad(path, "tensor input is missing");
  const target = file.tensors.get("target") ?? bad(path, "tensor target is missing");
  if (`${input.shape}` !== `${[n, t, f]}` || input.shape.length !== 3) bad(path, `input must be [${n},${t},${f}] (batch, seq_len, input_size), got [${input.shape}]`);
  const expectTarget = loss === "ce" ? [n] : [n, o];
  if (`${target.shape}` !== `${expectTarget}` || target.shape.length !== expectTarget.length) bad(path, `target must be [${expectTarget}], got [${target.shape}]`);
  const batch: Batch = {
    x: toDTypeArray(input, dtype, "input") as Float32Array | Float64Array,
    xShape: [n, t * f],
    y: toDTypeArray(target, loss === "ce" ? "int32" : dtype, "target"),
    yShape: [...target.shape],
  };
  return { spec, dtype, batch, names };
}
