import type { Graph, GraphNode } from "../ir.js";
import { numberKey, valueKey } from "../value-key.js";
import { commitRewrite } from "./dce.js";

/**
 * Common subexpression elimination (value numbering). Two nodes compute the same value when they
 * apply the same op with the same attributes to the same values, so the later one can read the
 * earlier one's result instead. Because nodes are visited in topological order and each node's
 * inputs are first resolved to their representatives, `f(a) + f(a)` collapses in one sweep.
 */

/**
 * Keys of attribute records, by record. Graphs are never mutated and passes share the nodes (and
 * so the attribute records) they leave alone, so each record's key is computed once, not once per
 * node per optimisation round.
 */
const attrsKeys = new WeakMap<object, string>();

function attrsKey(attrs: object): string {
  let key = attrsKeys.get(attrs);
  if (key === undefined) attrsKeys.set(attrs, (key = valueKey(attrs)));
  return key;
}

/** The identity of the value a node computes, or null for nodes that must never merge. */
function nodeKey(n: GraphNode): string | null {
  // Inputs and variables are distinct storage even when their shapes agree: never merge them.
  if (n.op === "input" || n.op === "variable") return null;
  if (n.op === "constant") {
    // Bitwise-equal data only: 0.1 and Math.fround(0.1) stay apart, which is merely conservative.
    return `constant ${n.dtype} [${n.shape.join(",")}] ${(n.value ?? []).map(numberKey).join(",")}`;
  }
  return `${n.op} ${n.dtype} (${n.inputs.join(",")}) ${attrsKey(n.attrs)}`;
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
