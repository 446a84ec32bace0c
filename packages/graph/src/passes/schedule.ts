import { compact, type Graph } from "../ir.js";
import { MinHeap } from "../min-heap.js";

/**
 * Update scheduling: moves the computation of each variable update (the optimizer's
 * `p - lr * g`, and the chain of nodes only it needs) to the earliest point where its inputs
 * exist and every read of the old value of that variable has happened. A layer's gradient then
 * dies as soon as its parameter is updated, instead of all gradients staying live until the end
 * of the step, which lowers the plan's peak. Pure: returns a reordered copy; results are unchanged
 * because only the order of independent nodes moves. Linear in graph size (times log n for the
 * ready queue): each node is placed once and each edge is counted down once.
 */
export function scheduleUpdates(g: Graph): Graph {
  const n = g.nodes.length;
  const readers: number[][] = g.nodes.map(() => []);
  for (const node of g.nodes) for (const i of node.inputs) readers[i].push(node.id);
  const isOutput = new Set(g.outputs);
  // Nodes used only by updates (transitively): these are free to move.
  const updateOnly = new Array<boolean>(n).fill(false);
  const updateValues = new Set(g.updates.map((u) => u.value));
  for (let id = n - 1; id >= 0; id--) {
    const node = g.nodes[id];
    if (node.op === "input" || node.op === "variable" || node.op === "constant" || isOutput.has(id)) continue;
    const rs = readers[id];
    updateOnly[id] = (updateValues.has(id) || rs.length > 0) && rs.every((r) => updateOnly[r]) && (rs.length > 0 || updateValues.has(id));
  }
  // Each update must come after every reader of the old value of its variable (anti-dependency).
  const varNode = new Map<string, number>();
  for (const x of g.nodes) if (x.op === "variable") varNode.set(x.name!, x.id);
  // A movable node waits for its inputs and its anti-dependencies: `waiting[id]` counts those not
  // placed yet, and `dependents[d]` lists the movable nodes waiting for d.
  const waiting = new Int32Array(n);
  const dependents: number[][] = g.nodes.map(() => []);
  const waitFor = (id: number, d: number) => {
    waiting[id]++;
    dependents[d].push(id);
  };
  for (const node of g.nodes) if (updateOnly[node.id]) for (const i of new Set(node.inputs)) waitFor(node.id, i);
  for (const u of g.updates) {
    const v = varNode.get(u.variable);
    if (v === undefined || !updateOnly[u.value]) continue;
    for (const r of readers[v]) if (r !== u.value && !updateOnly[r]) waitFor(u.value, r);
  }
  const order: number[] = [];
  // The ready movable nodes; the lowest id goes first, so the order is the traced one where it can be.
  const ready = new MinHeap();
  for (let id = 0; id < n; id++) if (updateOnly[id] && waiting[id] === 0) ready.push(id);
  const place = (id: number) => {
    order.push(id);
    for (const d of dependents[id]) if (--waiting[d] === 0) ready.push(d);
  };
  const flush = () => {
    while (ready.size > 0) place(ready.pop()!);
  };
  // Emit the fixed nodes in their order; after each, emit every movable node that became ready.
  for (const node of g.nodes) {
    if (updateOnly[node.id]) continue;
    place(node.id);
    flush();
  }
  flush();
  if (order.length !== n) return g; // something unexpected (a cycle through an update): keep the order
  return compact(g, order);
}
