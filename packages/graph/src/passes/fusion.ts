import { isElementwisePrim, shapesEqual, type ElementwisePrim } from "@dualgrad/core";
import { compact, consumers, isPrimNode, type FusedOp, type Graph, type GraphNode, type PrimNodes } from "../ir.js";

/**
 * Elementwise fusion: a chain of elementwise ops (bias-add + relu, the relu mask times the
 * gradient, the SGD/Adam update, the MSE residual) becomes one `fused` node whose kernel is
 * generated as a single loop. A producer joins its consumer's kernel when it is elementwise,
 * has exactly that one consumer, is not a graph output, and has the consumer's shape (so
 * nothing is recomputed per element). Scalar constants are inlined as literals.
 */
export function elementwiseFusion(g: Graph): Graph {
  const users = consumers(g);
  const isElementwise = (n: GraphNode): n is PrimNodes<ElementwisePrim> => isPrimNode(n) && isElementwisePrim(n.op);
  // group[id] = id of the node whose kernel computes `id` (itself when not absorbed).
  const absorbedInto = new Map<number, number>();
  for (let id = g.nodes.length - 1; id >= 0; id--) {
    const n = g.nodes[id];
    if (!isElementwise(n)) continue;
    const root = absorbedInto.get(id) ?? id;
    for (const i of n.inputs) {
      const p = g.nodes[i];
      if (isElementwise(p) && users[i].length === 1 && users[i][0] === id && shapesEqual(p.shape, n.shape)) {
        absorbedInto.set(i, root);
      }
    }
  }
  const isScalarConst = (n: GraphNode) => n.op === "constant" && n.value !== undefined && n.value.length === 1;
  const fusedOf = new Map<number, GraphNode>();
  for (const n of g.nodes) {
    if (!isElementwise(n) || absorbedInto.has(n.id)) continue;
    const members = g.nodes.filter((m) => absorbedInto.get(m.id) === n.id).map((m) => m.id);
    if (members.length === 0) continue;
    members.push(n.id);
    const inputs: number[] = [];
    const opIndex = new Map<number, number>();
    const fusedOps: FusedOp[] = members.map((mid, k) => {
      const m = g.nodes[mid];
      if (!isElementwise(m)) throw new Error(`fusion: node ${mid} (${m.op}) is not elementwise`);
      opIndex.set(mid, k);
      return {
        prim: m.op,
        attrs: m.attrs,
        dtype: m.dtype,
        operands: m.inputs.map((i) => {
          if (opIndex.has(i)) return { from: "op" as const, index: opIndex.get(i)! };
          const src = g.nodes[i];
          // `where`'s condition may be an integer mask; only same-dtype scalars are safe literals.
          if (isScalarConst(src)) return { from: "const" as const, value: src.value![0] };
          let at = inputs.indexOf(i);
          if (at < 0) at = inputs.push(i) - 1;
          return { from: "in" as const, index: at };
        }),
      };
    });
    fusedOf.set(n.id, { id: n.id, op: "fused", inputs, attrs: { ops: fusedOps }, shape: n.shape, dtype: n.dtype });
  }
  const replaced: Graph = { ...g, nodes: g.nodes.map((n) => fusedOf.get(n.id) ?? n) };
  const keep = replaced.nodes.filter((n) => !absorbedInto.has(n.id)).map((n) => n.id);
  return compact(replaced, keep);
}

/** Number of fused kernels in a graph. */
export function fusedKernelCount(g: Graph): number {
  return g.nodes.filter((n) => n.op === "fused").length;
}
