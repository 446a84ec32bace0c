import { MAX_EPILOGUE_OPERANDS, convEpilogueLayout, epilogueLayout, exactProgram, isElementwisePrim, shapesEqual, type ElementwiseOp } from "@dualgrad/core";
import { compact, consumers, type EpilogueProducer, type FusedOperand, type Graph, type GraphNode } from "../ir.js";

/**
 * Gemm epilogues: a matmul or conv2d whose only reader is an elementwise op or fused kernel of
 * the same shape and dtype (the bias-add after a linear or convolutional layer, `add→relu` in
 * inference, the relu mask `compare→mul` times the product that computes a hidden layer's
 * gradient) becomes one fused node with a `producer` attribute: inputs the producer's two, then
 * the kernel's other inputs; its program reads the product as `in0`. Core's gemm applies the
 * program to C right after each tile's last k-block, instead of storing the product and reading
 * it back in a second kernel; the result is bitwise the unfused one (see core's
 * kernels/gemm-epilogue.ts). Runs after elementwise fusion, so the whole chain rides on the gemm.
 * Linear in graph size.
 *
 * What it pays (`node packages/core/dist/bench/gemm-epilogue.js`, one thread, CPU time,
 * interleaved, fused / separate, on a shared machine): the cnn's convolutions with their bias
 * 0.72-0.95 (the separate NCHW bias-add runs in JavaScript); the mlp's products with their bias
 * or relu mask 0.90-1.10 from run to run and a k sweep from 4 to 64 0.70-1.03, i.e. no loss that
 * repeats, and little to gain: their separate pass costs about 1% of the product. Whole steps
 * (graph/test/gemm-epilogue.bench.ts): cnn 0.93-0.98, mlp 0.99-1.02. So it is applied wherever
 * it fits. An earlier version, which ran the epilogue over C after each column strip instead of
 * on the accumulators, lost 8-14% when reading a full operand at k <= 16 (the strip's rows, ldc
 * bytes apart, left L1 first); applying it in the micro-kernel removed that.
 *
 * Not fused: a product that is also a graph output, an update or read by anything else (it must
 * be stored); a consumer that is an update (see below); a consumer of another shape or dtype (it
 * would not write the product's buffer element for element); more than
 * MAX_EPILOGUE_OPERANDS operands. A matmul must be 2-D with operands that broadcast to it as a
 * row, column, scalar or full matrix; a convolution's operands must be one value per channel or
 * a scalar (its gemm's output is [K, B*OH*OW], not NCHW) and its program exact (core's
 * `exactProgram`: no exp/log/tanh/sigmoid, whose wasm and JavaScript code differ in the last bit).
 */
export function gemmEpilogueFusion(g: Graph): Graph {
  const users = consumers(g);
  // An update (the optimizer's `p - lr * grad`) is planned straight into its variable's buffer;
  // a gemm cannot write there (its partial sums would overwrite `p` before the epilogue reads it),
  // so fusing it would cost an arena slot and a copy: left to the elementwise kernel.
  const updates = new Set(g.updates.map((u) => u.value));
  /** The producer each consumer absorbs, and its program (by consumer id). */
  const absorbs = new Map<number, { p: GraphNode; ops: ElementwiseOp[]; inputs: number[] }>();
  for (const p of g.nodes) {
    if (p.op !== "matmul" && p.op !== "conv2d") continue;
    if (p.op === "matmul" && (p.shape.length !== 2 || p.inputs.some((i) => g.nodes[i].shape.length !== 2))) continue;
    const us = users[p.id];
    if (us.length === 0 || us.some((u) => u !== us[0]) || us[0] < 0) continue;
    const e = g.nodes[us[0]];
    const elementwise = (e.op === "fused" && e.attrs.producer === undefined) || (e.op !== "fused" && isElementwisePrim(e.op));
    if (!elementwise || updates.has(e.id) || !shapesEqual(e.shape, p.shape) || e.dtype !== p.dtype) continue;
    const operands = [...new Set(e.inputs.filter((i) => i !== p.id))];
    if (operands.length > MAX_EPILOGUE_OPERANDS) continue;
    const fits = (i: number) =>
      p.op === "matmul" ? epilogueLayout(g.nodes[i].shape, p.shape[0], p.shape[1]) !== null : convEpilogueLayout(g.nodes[i].shape, p.shape[1]) !== null;
    if (!operands.every(fits)) continue;
    // New inputs: the producer's two, then the consumer's other inputs once each; in0 is the product.
    const inputs = [p.inputs[0], p.inputs[1], ...operands];
    const index = (id: number) => (id === p.id ? 0 : 1 + operands.indexOf(id));
    const remap = (o: FusedOperand): FusedOperand => (o.from === "in" ? { from: "in", index: index(e.inputs[o.index]) } : o);
    const ops: ElementwiseOp[] =
      e.op === "fused"
        ? e.attrs.ops.map((op) => ({ ...op, operands: op.operands.map(remap) }))
        : [{ prim: e.op as ElementwiseOp["prim"], attrs: e.attrs as ElementwiseOp["attrs"], dtype: e.dtype, operands: e.inputs.map((_, k) => remap({ from: "in", index: k })) }];
    if (p.op === "conv2d" && !exactProgram({ ops })) continue;
    absorbs.set(e.id, { p, ops, inputs });
  }
  if (absorbs.size === 0) return g;
  const absorbed = new Set([...absorbs.values()].map((a) => a.p.id));
  const nodes = g.nodes.map((e): GraphNode => {
    const a = absorbs.get(e.id);
    if (a === undefined) return e;
    const producer = (a.p.op === "matmul" ? { op: "matmul", attrs: a.p.attrs } : { op: "conv2d", attrs: a.p.attrs }) as EpilogueProducer;
    return { id: e.id, op: "fused", inputs: a.inputs, attrs: { ops: a.ops, producer }, shape: e.shape, dtype: e.dtype };
  });
  const keep: number[] = [];
  for (let id = 0; id < g.nodes.length; id++) if (!absorbed.has(id)) keep.push(id);
  return compact({ ...g, nodes }, keep);
}

/** Number of epilogues (fused nodes with a producer) in a graph. */
export function gemmEpilogueCount(g: Graph): number {
  return g.nodes.filter((n) => n.op === "fused" && n.attrs.producer !== undefined).length;
}
