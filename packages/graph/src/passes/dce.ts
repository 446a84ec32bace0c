import { compact, type Graph, type GraphNode } from "../ir.js";

/**
 * Dead code elimination, plus the helper every rewriting pass finishes with.
 *
 * Liveness is one backward sweep: nodes are in topological order, so when we reach a node every
 * reader of it has already been seen, and a node is live exactly when a live node (or a root)
 * reads it.
 */

/**
 * The values a graph must keep whatever reads them: outputs, update values, every input
 * (placeholders are the function's signature, so an unused argument stays an argument) and the
 * variable node of every assigned variable (the builder guarantees an assigned variable has a
 * node; passes keep that true).
 */
export function rootIds(g: Graph, nodes: readonly GraphNode[] = g.nodes): number[] {
  const assigned = new Set(g.updates.map((u) => u.variable));
  const vars = nodes.filter((n) => n.op === "variable" && assigned.has(n.name!)).map((n) => n.id);
  return [...g.outputs, ...g.updates.map((u) => u.value), ...g.inputs, ...vars];
}

/** `live[id]` is true when value `id` is a root or is read, transitively, by one. */
export function liveness(nodes: readonly GraphNode[], roots: readonly number[]): boolean[] {
  const live = nodes.map(() => false);
  for (const r of roots) live[r] = true;
  for (let i = nodes.length - 1; i >= 0; i--) {
    if (live[i]) for (const j of nodes[i].inputs) live[j] = true;
  }
  return live;
}

/**
 * Removes every node whose value cannot reach an output or an update. Inputs are kept even when
 * unused (they define the signature), and so are the variable nodes of assigned variables.
 */
export function deadCodeElimination(g: Graph): Graph {
  const live = liveness(g.nodes, rootIds(g));
  const keep: number[] = [];
  for (let id = 0; id < live.length; id++) if (live[id]) keep.push(id);
  return compact(g, keep);
}

/**
 * Finishes a rewrite. `nodes` is the rewritten node list in the ids of `g` (each node's inputs
 * already resolved through `alias`), and `alias[id]` is the id whose value now stands for `id`
 * (`alias[id] === id` for nodes that stay). Drops the replaced nodes and the nodes the rewrite
 * orphaned (live in `g`, dead now, like the inner `neg` of `neg(neg x)` or the operands of a
 * folded constant), then renumbers densely. Code that was *already* dead in `g` is left alone:
 * removing that is {@link deadCodeElimination}'s job, which can be switched off on its own, so
 * each pass's printed output shows exactly what that pass did.
 */
export function commitRewrite(g: Graph, nodes: readonly GraphNode[], alias: readonly number[]): Graph {
  // Nothing rewritten, nothing replaced: nothing orphaned either.
  if (nodes.every((n, i) => n === g.nodes[i] && alias[i] === i)) return g;
  const wasLive = liveness(g.nodes, rootIds(g));
  const rewritten: Graph = {
    nodes: [...nodes],
    inputs: g.inputs,
    outputs: g.outputs.map((o) => alias[o]),
    updates: g.updates.map((u) => ({ variable: u.variable, value: alias[u.value] })),
  };
  // Already-dead nodes that survive the rewrite are roots too, so whatever they read survives.
  const alreadyDead = nodes.filter((n) => !wasLive[n.id] && alias[n.id] === n.id).map((n) => n.id);
  const live = liveness(nodes, [...rootIds(rewritten), ...alreadyDead]);
  const keep = nodes.filter((n) => alias[n.id] === n.id && live[n.id]).map((n) => n.id);
  return compact(rewritten, keep, (id) => alias[id]);
}
