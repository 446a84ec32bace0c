import type { Graph, GraphNode } from "../ir.js";
import { commitRewrite } from "./dce.js";

/**
 * Common subexpression elimination (value numbering). Two nodes compute the same value when they
 * apply the same op with the same attributes to the same values, so the later one can read the
 * earlier one's result instead. Because nodes are visited in topological order and each node's
 * inputs are first resolved to their representatives, `f(a) + f(a)` collapses in one sweep.
 */

/** A number as text that tells apart what JSON would merge: `-0`, `NaN`, `Infinity` (`JSON.stringify` writes `0`, `null`, `null`). */
function numberKey(v: number): string {
  return Object.is(v, -0) ? "-0" : String(v);
}

/**
 * Canonical text of an attribute value: object keys sorted (so `{a,b}` and `{b,a}` agree) and
 * numbers written exactly (so `-0` and `0`, or `NaN` and `Infinity`, stay different).
 */
export function stableKey(v: unknown): string {
  if (typeof v === "number") return numberKey(v);
  if (Array.isArray(v)) return `[${v.map(stableKey).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableKey(x)}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "undefined";
}

/** The identity of the value a node computes, or null for nodes that must never merge. */
function nodeKey(n: GraphNode): string | null {
  // Inputs and variables are distinct storage even when their shapes agree: never merge them.
  if (n.op === "input" || n.op === "variable") return null;
  if (n.op === "constant") {
    // Bitwise-equal data only: 0.1 and Math.fround(0.1) stay apart, which is merely conservative.
    return `constant ${n.dtype} [${n.shape.join(",")}] ${(n.value ?? []).map(numberKey).join(",")}`;
  }
  return `${n.op} ${n.dtype} (${n.inputs.join(",")}) ${stableKey(n.attrs)}`;
}

/**
 * Merges nodes with the same op, the same (already merged) inputs and the same attributes, and
 * constants with the same dtype, shape and values. Inputs and variables are never merged.
 * The first occurrence survives; later duplicates are removed and their readers, outputs and
 * updates point at it.
 */
export function commonSubexpressionElimination(g: Graph): Graph {
  const alias = g.nodes.map((n) => n.id);
  const nodes: GraphNode[] = [];
  const seen = new Map<string, number>();
  for (const old of g.nodes) {
    const inputs = old.inputs.map((i) => alias[i]);
    const n = inputs.some((v, k) => v !== old.inputs[k]) ? { ...old, inputs } : old;
    nodes.push(n);
    const key = nodeKey(n);
    if (key === null) continue;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, n.id);
    else alias[n.id] = first;
  }
  return commitRewrite(g, nodes, alias);
}
