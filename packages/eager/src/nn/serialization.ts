import { DualgradError, FormatError, readSafetensors, safeDTypeOf, toDTypeArray, writeSafetensors, type SafeTensor } from "@dualgrad/core";
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
    t._checkAlive(`save: ${name}`);
    out.set(name, { dtype: safeDTypeOf(t.dtype), shape: [...t.shape], data: t.data.slice() });
  }
  writeSafetensors(path, out, metadata);
}

/**
 * `e` with the file named in its message, unless it already names it (readSafetensors' errors
 * do). A FormatError stays one, so callers can still tell a bad file from a bad model.
 */
function naming(path: string, api: string, e: unknown): unknown {
  if (!(e instanceof DualgradError) || e.message.includes(path)) return e;
  const Ctor = e instanceof FormatError ? FormatError : DualgradError;
  return new Ctor(`${api}: '${path}': ${e.message}`, { cause: e });
}

/**
 * Reads every tensor of a safetensors file (I64 becomes int32, range-checked). If any tensor
 * fails to convert, the ones already made are disposed before the error (naming the file) is
 * thrown, so a bad file leaks nothing.
 */
export function loadTensors(path: string): Map<string, Tensor> {
  const file = readSafetensors(path);
  const out = new Map<string, Tensor>();
  try {
    for (const [name, t] of file.tensors) {
      const dtype = t.dtype === "F64" ? "float64" : t.dtype === "F32" ? "float32" : "int32";
      out.set(name, tensor(toDTypeArray(t, dtype, name), { shape: t.shape, dtype }));
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw naming(path, "loadTensors", e);
  }
  return out;
}

/** Saves a module's parameters (its `stateDict`). */
export function save(module: Module, path: string): void {
  saveTensors(path, module.stateDict(), { format: "pt" });
}

/**
 * Loads parameters saved by {@link save} or by PyTorch into `module` (strict names and shapes).
 * Errors name the file; the tensors read are disposed whether or not the load succeeds.
 */
export function load(module: Module, path: string): void {
  const tensors = loadTensors(path);
  try {
    module.loadStateDict(tensors);
  } catch (e) {
    throw naming(path, "load", e);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
