import { compact, type Graph } from "../ir.js";

/**
 * Update scheduling: moves the computation of each variable update (the optimizer's
 * `p - lr * g`, and the chain of nodes only it needs) to the earliest point where its inputs
 * exist and every read of the old value of that variable has happened. A layer's gradient then
 * dies as soon as its parameter is updated, instead of all gradients staying live until the end
 * of the step, which lowers the plan's peak. Pure: returns a reordered copy; results are unchanged
 * because only the order of independent nodes moves.
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
  const varNode = new Map(g.nodes.filter((x) => x.op === "variable").map((x) => [x.name!, x.id]));
  const after = new Map<number, number[]>();
  for (const u of g.updates) {
    const v = varNode.get(u.variable);
    if (v === undefined || !updateOnly[u.value]) continue;
    after.set(u.value, readers[v].filter((r) => r !== u.value && !updateOnly[r]));
  }
  const order: number[] = [];
  const placed = new Array<boolean>(n).fill(false);
  const ready = (id: number): boolean =>
    g.nodes[id].inputs.every((i) => placed[i]) && (after.get(id) ?? []).every((r) => placed[r]);
  const place = (id: number) => {
    placed[id] = true;
    order.push(id);
  };
  // Emit the fixed nodes in their order; after each, emit every movable node that became ready.
  const movable = g.nodes.filter((x) => updateOnly[x.id]).map((x) => x.id);
  const flush = () => {
    let progress = true;
    while (progress) {
      progress = false;
      for (const id of movable) {
        if (!placed[id] && ready(id)) {
          place(id);
          progress = true;
        }
      }
    }
  };
  for (const node of g.nodes) {
    if (updateOnly[node.id]) continue;
    place(node.id);
    flush();
  }
  flush();
  if (order.length !== n) return g; // something unexpected (a cycle through an update): keep the order
  return compact(g, order);
}
