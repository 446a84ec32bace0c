import { DualgradError } from "@dualgrad/core";
import { isTensorData, type HostTensor, type TensorData } from "./host-tensor.js";
import type { SymbolicTensor } from "./symbolic.js";

/**
 * Nested structures of tensors, as tf.data's elements (TF's "nest"): a tensor, an array (tuple)
 * or a plain object of structures. Datasets slice, batch and map every leaf alike.
 */

/** A tensor, or arrays and plain objects of structures. */
export type Structure<L> = L | readonly Structure<L>[] | { readonly [key: string]: Structure<L> };

/** `T` with each tensor leaf replaced by `L` (HostTensor for dataset elements, SymbolicTensor inside `map`). */
export type MapLeaves<T, L> = T extends TensorData | SymbolicTensor
  ? L
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: MapLeaves<T[K], L> }
    : T extends object
      ? { -readonly [K in keyof T]: MapLeaves<T[K], L> }
      : never;

/** A dataset element whose leaves are HostTensors. */
export type Element = Structure<HostTensor>;

/** The leaves of `s`, depth first (array order, then object key order). */
export function leavesOf<L>(s: Structure<L>, isLeaf: (x: unknown) => x is L, api: string): L[] {
  if (isLeaf(s)) return [s];
  if (Array.isArray(s)) return s.flatMap((x: Structure<L>) => leavesOf(x, isLeaf, api));
  if (typeof s === "object" && s !== null && Object.getPrototypeOf(s) === Object.prototype) {
    return Object.values(s as Record<string, Structure<L>>).flatMap((x) => leavesOf(x, isLeaf, api));
  }
  throw new DualgradError(`${api}: expected tensors in arrays or plain objects, got ${s === null ? "null" : typeof s}`);
}

/** `s`'s structure with its leaves replaced, in {@link leavesOf}'s order, by `leaves`. */
export function withLeaves<L, M>(s: Structure<L>, isLeaf: (x: unknown) => x is L, leaves: readonly M[]): Structure<M> {
  let k = 0;
  const go = (x: Structure<L>): Structure<M> => {
    if (isLeaf(x)) return leaves[k++];
    if (Array.isArray(x)) return x.map(go);
    return Object.fromEntries(Object.entries(x as Record<string, Structure<L>>).map(([key, v]) => [key, go(v)]));
  };
  return go(s);
}

/** Leaf test for structures of concrete tensors. */
export const isTensorLeaf = (x: unknown): x is TensorData => isTensorData(x);
