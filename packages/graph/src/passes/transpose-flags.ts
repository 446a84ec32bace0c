import { matmulFlagsExact } from "@dualgrad/core";
import type { Graph, GraphNode } from "../ir.js";
import { commitRewrite } from "./dce.js";

/**
 * Folds "transpose the last two axes" into matmul's `transA`/`transB` flags, so the gemm reads
 * the operand with swapped strides instead of a transposed copy being materialised first. Core's
 * gemms accumulate every element in the same order whatever the flags (their determinism
 * contract), so the result is bitwise the same; float32 matrix-vector products are the exception
 * (their order follows the layout, see core's `matmulFlagsExact`), so those are left alone, or
 * the graph would differ from eager (which materialises the transpose) in the last bits.
 */

/** True for a transpose node whose perm is `[0, 1, ..., r-3, r-1, r-2]`: only the matrix axes swap. */
function swapsLastTwo(n: GraphNode): boolean {
  if (n.op !== "transpose") return false;
  const perm = n.attrs.perm;
  const r = perm.length;
  return r >= 2 && perm[r - 1] === r - 2 && perm[r - 2] === r - 1 && perm.slice(0, r - 2).every((p, i) => p === i);
}

/**
 * Rewrites `matmul(transpose(a), b)` to `matmul(a, b)` with `transA` flipped when the transpose
 * only swaps the last two axes, and likewise for `b` / `transB`. A transpose left without readers
 * is removed; one still read elsewhere stays.
 */
export function matmulTransposeFlags(g: Graph): Graph {
  const nodes: GraphNode[] = [];
  for (const n of g.nodes) {
    if (n.op !== "matmul") {
      nodes.push(n);
      continue;
    }
    const [a, b] = n.inputs.map((i) => nodes[i]);
    const { transA, transB } = n.attrs;
    const r = n.shape.length;
    const exact = matmulFlagsExact(n.dtype, n.shape[r - 2], n.shape[r - 1]);
    const foldA = exact && swapsLastTwo(a);
    const foldB = exact && swapsLastTwo(b);
    if (!foldA && !foldB) {
      nodes.push(n);
      continue;
    }
    nodes.push({
      ...n,
      inputs: [foldA ? a.inputs[0] : a.id, foldB ? b.inputs[0] : b.id],
      attrs: { ...n.attrs, transA: foldA ? !transA : transA, transB: foldB ? !transB : transB },
    });
  }
  // No node is replaced by another (alias is the identity); commitRewrite drops the orphaned transposes.
  return commitRewrite(g, nodes, g.nodes.map((n) => n.id));
}
