import { readSafetensors, safeDTypeOf, toDTypeArray, writeSafetensors, type SafeTensor } from "@dualgrad/core";
import { tensor } from "../factories.js";
import type { Tensor } from "../tensor.js";
import type { Module } from "./module.js";

/**
 * Weights as safetensors in PyTorch's layout and names (`0.weight` `[out,in]`, `0.bias`), so a
 * `state_dict` saved from PyTorch with `safetensors.torch.save_file` loads here and back.
 */

/** Writes tensors to `path` atomically. */
export function saveTensors(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): void {
  const out = new Map<string, SafeTensor>();
  for (const [name, t] of tensors) {
    out.set(name, { dtype: safeDTypeOf(t.dtype), shape: [...t.shape], data: t.data.slice() });
  }
  writeSafetensors(path, out, metadata);
}

/** Reads every tensor of a safetensors file (I64 becomes int32, range-checked). */
export function loadTensors(path: string): Map<string, Tensor> {
  const file = readSafetensors(path);
  const out = new Map<string, Tensor>();
  for (const [name, t] of file.tensors) {
    const dtype = t.dtype === "F64" ? "float64" : t.dtype === "F32" ? "float32" : "int32";
    out.set(name, tensor(toDTypeArray(t, dtype, name), { shape: t.shape, dtype }));
  }
  return out;
}

/** Saves a module's parameters (its `stateDict`). */
export function save(module: Module, path: string): void {
  saveTensors(path, module.stateDict(), { format: "pt" });
}

/** Loads parameters saved by {@link save} or by PyTorch into `module` (strict names and shapes). */
export function load(module: Module, path: string): void {
  const tensors = loadTensors(path);
  try {
    module.loadStateDict(tensors);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
