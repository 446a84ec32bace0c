import { isElementwisePrim, shapesEqual, type ElementwisePrim } from "@dualgrad/core";
import { compact, consumers, isPrimNode, type FusedOp, type Graph, type GraphNode, type PrimNodes } from "../ir.js";

/**
 * Most ops one fused kernel computes. A longer chain is split into several kernels of at most
 * this many ops: each generated kernel is one JavaScript function (and one wasm function) whose
 * size grows with its ops, and a 100k-op chain in one function overflows the engine's stack when
 * compiled or run. Splitting costs one store and one load per cut, and never changes a result
 * bit, since a fused kernel already rounds every intermediate to its dtype exactly where the
 * unfused op would store it. 64 ops keep a kernel's source to a few kilobytes while covering
 * every chain of the reference workloads (the Adam update, the longest, is about 15).
 */
export const MAX_FUSED_OPS = 64;

/**
 * Elementwise fusion: a chain of elementwise ops (bias-add + relu, the relu mask times the
 * gradient, the SGD/Adam update, the MSE residual) becomes one `fused` node whose kernel is
 * generated as a single loop. A producer joins its consumer's kernel when it is elementwise,
 * has exactly that one consumer, is not a graph output, and has the consumer's shape (so
 * nothing is recomputed per element), as long as the kernel has fewer than
 * {@link MAX_FUSED_OPS} ops. Scalar constants are inlined as literals. Linear in graph size:
 * groups are collected with one index array, never by searching the node list.
 */
export function elementwiseFusion(g: Graph): Graph {
  const n = g.nodes.length;
  const users = consumers(g);
  const isElementwise = (node: GraphNode): node is PrimNodes<ElementwisePrim> => isPrimNode(node) && isElementwisePrim(node.op);
  // root[id] = id of the node whose kernel computes `id` (-1 when not absorbed); size[r] = ops in r's kernel.
  const root = new Int32Array(n).fill(-1);
  const size = new Int32Array(n).fill(1);
  for (let id = n - 1; id >= 0; id--) {
    const node = g.nodes[id];
    if (!isElementwise(node)) continue;
    const r = root[id] >= 0 ? root[id] : id;
    for (const i of node.inputs) {
      const p = g.nodes[i];
      if (size[r] < MAX_FUSED_OPS && isElementwise(p) && users[i].length === 1 && users[i][0] === id && shapesEqual(p.shape, node.shape)) {
        root[i] = r;
        size[r]++;
      }
    }
  }
  // Each kernel's members in topological order (ascending ids), the root last.
  const members = new Map<number, number[]>();
  for (let id = 0; id < n; id++) {
    const r = root[id];
    if (r < 0) continue;
    const list = members.get(r);
    if (list) list.push(id);
    else members.set(r, [id]);
  }
  const isScalarConst = (node: GraphNode) => node.op === "constant" && node.value !== undefined && node.value.length === 1;
  const nodes = g.nodes.map((node) => {
    const list = members.get(node.id);
    if (!list) return node;
    list.push(node.id);
    const inputs: number[] = [];
    const inputIndex = new Map<number, number>();
    const opIndex = new Map<number, number>();
    const fusedOps: FusedOp[] = list.map((mid, k) => {
      const m = g.nodes[mid];
      if (!isElementwise(m)) throw new Error(`fusion: node ${mid} (${m.op}) is not elementwise`);
      opIndex.set(mid, k);
      return {
        prim: m.op,
        attrs: m.attrs,
        dtype: m.dtype,
        operands: m.inputs.map((i) => {
          const op = opIndex.get(i);
          if (op !== undefined) return { from: "op" as const, index: op };
          const src = g.nodes[i];
          // `where`'s condition may be an integer mask; only same-dtype scalars are safe literals.
          if (isScalarConst(src)) return { from: "const" as const, value: src.value![0] };
          let at = inputIndex.get(i);
          if (at === undefined) {
            at = inputs.push(i) - 1;
            inputIndex.set(i, at);
          }
          return { from: "in" as const, index: at };
        }),
      };
    });
    const fused: GraphNode = { id: node.id, op: "fused", inputs, attrs: { ops: fusedOps }, shape: node.shape, dtype: node.dtype };
    return fused;
  });
  const keep: number[] = [];
  for (let id = 0; id < n; id++) if (root[id] < 0) keep.push(id);
  return compact({ ...g, nodes }, keep);
}

/** Number of fused kernels in a graph. */
export function fusedKernelCount(g: Graph): number {
  return g.nodes.filter((n) => n.op === "fused").length;
}
