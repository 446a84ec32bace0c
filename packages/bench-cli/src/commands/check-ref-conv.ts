import { convOutSize, type SafetensorsFile } from "@dualgrad/core";
import type { Batch } from "../datasets/synthetic.js";
import { bad, lossAndLr, referenceBatch } from "./check-ref-common.js";
import type { ModelSpec, ModuleSpec } from "../models.js";

/**
 * Reading convolutional reference files (metadata `format_version` "2", `model` "cnn"): the
 * model is the `torch.nn.Sequential` that metadata `layers` lists, one JSON object per module;
 * parameters are named by module index (`params.<k>.weight`), as in its `state_dict`. Every
 * field and shape is checked here, so a malformed file is a one-line usage error (exit 2), never
 * a shape error halfway through a run.
 */

function json(path: string, meta: Record<string, string>, key: string): unknown {
  const text = meta[key] ?? bad(path, `metadata ${key} is missing`);
  try {
    return JSON.parse(text);
  } catch {
    return bad(path, `metadata ${key} is not JSON: ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`);
  }
}

const isInt = (v: unknown, min: number): v is number => Number.isSafeInteger(v) && (v as number) >= min;
const isPair = (v: unknown, min: number): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every((x) => isInt(x, min));

/** Checks one module object and returns it typed; `where` names it in messages (`layers[3] (conv2d)`). */
function moduleSpec(path: string, m: unknown, where: string): ModuleSpec {
  if (typeof m !== "object" || m === null || Array.isArray(m)) bad(path, `${where} must be an object with a "type"`);
  const o = m as Record<string, unknown>;
  const need = (key: string, ok: (v: unknown) => boolean, what: string) => {
    if (!ok(o[key])) bad(path, `${where}: ${key} must be ${what}, got ${JSON.stringify(o[key]) ?? "nothing"}`);
  };
  switch (o.type) {
    case "conv2d":
      need("in_channels", (v) => isInt(v, 1), "a positive integer");
      need("out_channels", (v) => isInt(v, 1), "a positive integer");
      need("kernel_size", (v) => isPair(v, 1), "[kh, kw] of positive integers");
      need("stride", (v) => isPair(v, 1), "[sh, sw] of positive integers");
      need("padding", (v) => isPair(v, 0), "[ph, pw] of non-negative integers");
      break;
    case "max_pool2d":
    case "avg_pool2d":
      need("kernel_size", (v) => isPair(v, 1), "[kh, kw] of positive integers");
      need("stride", (v) => isPair(v, 1), "[sh, sw] of positive integers");
      if (o.padding !== undefined) need("padding", (v) => isPair(v, 0), "[ph, pw] of non-negative integers");
      break;
    case "linear":
      need("in_features", (v) => isInt(v, 1), "a positive integer");
      need("out_features", (v) => isInt(v, 1), "a positive integer");
      break;
    case "flatten":
    case "relu":
    case "tanh":
    case "sigmoid":
      break;
    default:
      bad(path, `${where}: unknown module type ${JSON.stringify(o.type)} (expected conv2d, max_pool2d, avg_pool2d, flatten, linear, relu, tanh or sigmoid)`);
  }
  return o as unknown as ModuleSpec;
}

/** The model, dtype and batch a convolutional reference file describes, plus its parameter names (file name, trainer name). */
export function specFromConvReference(file: SafetensorsFile, path: string): { spec: ModelSpec; dtype: "float32" | "float64"; batch: Batch; names: [string, string][] } {
  const meta = file.metadata;
  const t = (name: string) => file.tensors.get(name);
  if (meta.model !== "cnn") bad(path, `metadata model must be "cnn", "rnn" or "lstm" for format_version 2, got ${JSON.stringify(meta.model ?? null)}`);
  const dtypeText = meta.dtype ?? bad(path, "metadata dtype is missing");
  if (dtypeText !== "float32" && dtypeText !== "float64") bad(path, `metadata dtype must be float32 or float64, got '${dtypeText}'`);
  const dtype = dtypeText;
  const inputShape = json(path, meta, "input_shape");
  if (!Array.isArray(inputShape) || inputShape.length !== 4 || !inputShape.every((v) => isInt(v, 1))) {
    bad(path, `metadata input_shape must be [B,C,H,W] of positive integers, got ${meta.input_shape}`);
  }
  const list = json(path, meta, "layers");
  if (!Array.isArray(list) || list.length === 0) bad(path, "metadata layers must be a non-empty JSON list of modules");
  const modules = list.map((m, k) => moduleSpec(path, m, `layers[${k}] (${String((m as { type?: unknown })?.type)})`));

  // Walk the shapes through the modules, checking each parameter tensor on the way.
  const [n, c0, h0, w0] = inputShape as number[];
  let shape: number[] = [c0, h0, w0];
  const names: [string, string][] = [];
  const param = (k: number, kind: "weight" | "bias", expected: number[]) => {
    const name = `params.${k}.${kind}`;
    const p = t(name) ?? bad(path, `tensor ${name} is missing`);
    if (`${p.shape}` !== `${expected}`) bad(path, `${name} has shape [${p.shape}], expected [${expected}]`);
    if (p.dtype !== (dtype === "float64" ? "F64" : "F32")) bad(path, `${name} is ${p.dtype}, but metadata dtype is ${dtype}`);
    names.push([`${k}.${kind}`, `${k}.${kind}`]);
  };
  modules.forEach((m, k) => {
    const where = `layers[${k}] (${m.type})`;
    if (m.type === "conv2d" || m.type === "max_pool2d" || m.type === "avg_pool2d") {
      if (shape.length !== 3) bad(path, `${where} needs a [C,H,W] input, but the previous module gives [${shape}]`);
      const [c, h, w] = shape;
      const [kh, kw] = m.kernel_size;
      const [sh, sw] = m.stride;
      const [ph, pw] = m.padding ?? [0, 0];
      if (m.type === "conv2d" && m.in_channels !== c) bad(path, `${where} expects ${m.in_channels} input channels, but its input has ${c}`);
      if (m.type !== "conv2d" && (2 * ph > kh || 2 * pw > kw)) bad(path, `${where}: padding [${ph},${pw}] must be at most half the kernel [${kh},${kw}]`);
      const oh = convOutSize(h, kh, sh, ph, 1);
      const ow = convOutSize(w, kw, sw, pw, 1);
      if (oh < 1 || ow < 1) bad(path, `${where}: the ${kh}x${kw} kernel does not fit its ${h}x${w} input`);
      if (m.type === "conv2d") {
        param(k, "weight", [m.out_channels, c, kh, kw]);
        param(k, "bias", [m.out_channels]);
      }
      shape = [m.type === "conv2d" ? m.out_channels : c, oh, ow];
    } else if (m.type === "flatten") {
      shape = [shape.reduce((a, b) => a * b, 1)];
    } else if (m.type === "linear") {
      if (shape.length !== 1 || shape[0] !== m.in_features) bad(path, `${where} expects ${m.in_features} features, but its input is [${shape}] (add a flatten?)`);
      param(k, "weight", [m.out_features, m.in_features]);
      param(k, "bias", [m.out_features]);
      shape = [m.out_features];
    }
  });
  if (shape.length !== 1) bad(path, `the model must end in [features] (flatten, then linear), but it gives [${shape}] per sample`);
  const outputs = shape[0];

  const { loss, lr } = lossAndLr(meta, path);
  const input = t("input") ?? bad(path, "tensor input is missing");
  const target = t("target") ?? bad(path, "tensor target is missing");
  if (`${input.shape}` !== `${inputShape}`) bad(path, `input has shape [${input.shape}], but metadata input_shape is ${meta.input_shape}`);
  const expectTarget = loss === "ce" ? `[${n}]` : `[${n},${outputs}]`;
  if (`[${target.shape}]` !== expectTarget) bad(path, `target must be ${expectTarget}, got [${target.shape}]`);
  const features = c0 * h0 * w0;
  const spec: ModelSpec = {
    id: "check-ref",
    layers: [features, outputs],
    activation: null,
    modules,
    inputShape: [c0, h0, w0],
    loss,
    optimizer: "sgd",
    lr,
    batch: n,
    data: loss === "ce" ? "classification" : "regression",
  };
  const batch = referenceBatch(input, target, dtype, loss, features);
  return { spec, dtype, batch, names };
}
