import { MAX_EPILOGUE_OPERANDS, epilogueLayout, isElementwisePrim, shapesEqual, type ElementwiseOp } from "@dualgrad/core";
import { compact, consumers, type FusedOperand, type Graph, type GraphNode } from "../ir.js";

/**
 * Gemm epilogues: a 2-D matmul whose only reader is an elementwise op or fused kernel of the same
 * shape and dtype (the bias-add after a linear layer, `add→relu` in inference, the relu mask
 * `compare→mul` times the product that computes a hidden layer's gradient) becomes one fused
 * node with a `gemm` attribute: inputs A, B, then the kernel's other inputs; its program reads
 * the product as `in0`. Core's gemm applies the program to C right after each strip's last
 * k-block, instead of storing the product and reading it back in a second kernel; the result is
 * bitwise the unfused one (see core's kernels/gemm-epilogue.ts). Runs after elementwise fusion,
 * so the whole chain rides on the gemm. Linear in graph size.
 *
 * Not fused: a product that is also a graph output, an update or read by anything else (it must
 * be stored); a consumer that is an update (see below); batched (rank > 2) products; a consumer of another shape or dtype (it would not
 * write C's buffer element for element); an operand that does not broadcast to [m, n] as a row,
 * column, scalar or full matrix, or more than {@link MAX_EPILOGUE_OPERANDS} of them.
 */
export function gemmEpilogueFusion(g: Graph): Graph {
  const users = consumers(g);
  // An update (the optimizer's `p - lr * grad`) is planned straight into its variable's buffer;
  // a gemm cannot write there (its partial sums would overwrite `p` before the epilogue reads it),
  // so fusing it would cost an arena slot and a copy: left to the elementwise kernel.
  const updates = new Set(g.updates.map((u) => u.value));
  /** The matmul each consumer absorbs (by consumer id). */
  const absorbs = new Map<number, GraphNode>();
  for (const m of g.nodes) {
    if (m.op !== "matmul" || m.shape.length !== 2 || m.inputs.some((i) => g.nodes[i].shape.length !== 2)) continue;
    const us = users[m.id];
    if (us.length === 0 || us.some((u) => u !== us[0]) || us[0] < 0) continue;
    const e = g.nodes[us[0]];
    const elementwise = (e.op === "fused" && e.attrs.gemm === undefined) || (e.op !== "fused" && isElementwisePrim(e.op));
    if (!elementwise || updates.has(e.id) || !shapesEqual(e.shape, m.shape) || e.dtype !== m.dtype) continue;
    const operands = new Set(e.inputs.filter((i) => i !== m.id));
    if (operands.size > MAX_EPILOGUE_OPERANDS) continue;
    if ([...operands].some((i) => epilogueLayout(g.nodes[i].shape, m.shape[0], m.shape[1]) === null)) continue;
    absorbs.set(e.id, m);
  }
  if (absorbs.size === 0) return g;
  const absorbed = new Set([...absorbs.values()].map((m) => m.id));
  const nodes = g.nodes.map((e): GraphNode => {
    const m = absorbs.get(e.id);
    if (m === undefined || m.op !== "matmul") return e;
    // New inputs: A, B, then the consumer's other inputs once each; in0 is the product.
    const inputs = [m.inputs[0], m.inputs[1]];
    const index = new Map<number, number>([[m.id, 0]]);
    for (const i of e.inputs) if (!index.has(i)) index.set(i, inputs.push(i) - 2);
    const remap = (o: FusedOperand): FusedOperand => (o.from === "in" ? { from: "in", index: index.get(e.inputs[o.index])! } : o);
    const ops: ElementwiseOp[] =
      e.op === "fused"
        ? e.attrs.ops.map((op) => ({ ...op, operands: op.operands.map(remap) }))
        : [{ prim: e.op as ElementwiseOp["prim"], attrs: e.attrs as ElementwiseOp["attrs"], dtype: e.dtype, operands: e.inputs.map((_, k) => remap({ from: "in", index: k })) }];
    return { id: e.id, op: "fused", inputs, attrs: { ops, gemm: m.attrs }, shape: e.shape, dtype: e.dtype };
  });
  const keep: number[] = [];
  for (let id = 0; id < g.nodes.length; id++) if (!absorbed.has(id)) keep.push(id);
  return compact({ ...g, nodes }, keep);
}

/** Number of gemm epilogues in a graph. */
export function gemmEpilogueCount(g: Graph): number {
  return g.nodes.filter((n) => n.op === "fused" && n.attrs.gemm !== undefined).length;
}
