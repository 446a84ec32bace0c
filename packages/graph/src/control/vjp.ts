import { DualgradError, isFloat, type Meta } from "@dualgrad/core";
import type { vjpIds as VjpIds } from "../autodiff.js";
import { GraphBuilder } from "../builder.js";
import type { ControlNode, Graph, GraphNode } from "../ir.js";
import { emitControl, inlineGraph, inputMetas, outputMetas, zeros } from "./subgraph.js";

/**
 * Reverse mode through control flow. A `cond`'s gradient is a `cond` over its branches' VJPs; a
 * `scan`'s is a reverse `scan` over its body's VJP, reading the carry each forward step started
 * from (the forward scan is made to stack them); `while` has none (JAX's rule as well).
 */

/** Reverse mode over a graph: autodiff's `vjpIds`, passed in (autodiff calls this module, so importing it back would be a cycle). */
type Vjp = typeof VjpIds;

/**
 * Gradients for the inputs of control node `n`, given the cotangents of its results (undefined:
 * not needed downstream, i.e. zero). Emits into `b`; null where an input gets no gradient.
 * `vjpIds` differentiates the bodies (which may hold control flow themselves).
 */
export function controlVjp(b: GraphBuilder, n: ControlNode, cts: readonly (number | undefined)[], wants: readonly boolean[], vjpIds: Vjp): (number | null)[] {
  if (n.op === "while") {
    throw new DualgradError("grad: whileLoop is not reverse-mode differentiable (its trip count is only known when it runs); use scan, or foriLoop with number bounds (which lowers to scan)");
  }
  return n.op === "cond" ? condVjp(b, n, cts, vjpIds) : scanVjp(b, n, cts, wants, vjpIds);
}

/**
 * A graph with inputs `[primal…, cotangent of each output listed in seeded…, extra…]` computing
 * the VJP of `g`'s outputs `seeded` for its inputs at positions `wrt`; `finish` maps those
 * gradients (and the extra inputs' ids) to the graph's outputs.
 */
function vjpGraph(vjpIds: Vjp, g: Graph, seeded: readonly number[], wrt: readonly number[], extra: readonly Meta[], finish: (vb: GraphBuilder, grads: number[], extra: number[]) => number[]): Graph {
  const vb = new GraphBuilder();
  const outs = outputMetas(g);
  const ids = [...inputMetas(g), ...seeded.map((k) => outs[k]), ...extra].map((m, k) => vb.input(`arg${k}`, m.shape, m.dtype));
  const np = g.inputs.length;
  const primal = ids.slice(0, np);
  const results = inlineGraph(vb, g, primal);
  const grads = vjpIds(vb, seeded.map((k) => results[k]), ids.slice(np, np + seeded.length), wrt.map((k) => primal[k]));
  vb.graph.outputs = finish(vb, grads, ids.slice(np + seeded.length));
  return vb.graph;
}

/** The outputs of `g` that are floating point and have a cotangent. */
const seededOutputs = (g: Graph, cts: readonly (number | undefined)[]) =>
  outputMetas(g).map((m, k) => (isFloat(m.dtype) && cts[k] !== undefined ? k : -1)).filter((k) => k >= 0);

function condVjp(b: GraphBuilder, n: ControlNode & { op: "cond" }, cts: readonly (number | undefined)[], vjpIds: Vjp): (number | null)[] {
  const [pred, ...operands] = n.inputs;
  const [t, f] = n.attrs.branches;
  const seeded = seededOutputs(t, cts);
  if (seeded.length === 0) return n.inputs.map(() => null);
  const wrt = operands.map((_, k) => k);
  const branch = (g: Graph) => vjpGraph(vjpIds, g, seeded, wrt, [], (_vb, grads) => grads);
  const results = emitControl(b, { op: "cond", inputs: [pred, ...operands, ...seeded.map((k) => cts[k]!)], attrs: { branches: [branch(t), branch(f)] } }, inputMetas(t));
  return [null, ...results];
}

function scanVjp(b: GraphBuilder, n: ControlNode & { op: "scan" }, cts: readonly (number | undefined)[], wants: readonly boolean[], vjpIds: Vjp): (number | null)[] {
  const { numCarry: nc, numXs: nx, length, reverse } = n.attrs;
  // 1. Residuals: the forward scan also stacks the carry each step starts from. The node is
  //    replaced in the graph under construction (same id, more results; its readers are unchanged).
  let node = n;
  if (node.attrs.saveCarries === 0 && nc > 0) {
    const fwd = node.attrs.body;
    node = { ...node, attrs: { ...node.attrs, saveCarries: nc, body: { ...fwd, outputs: [...fwd.outputs, ...fwd.inputs.slice(0, nc)] } } };
    b.graph.nodes[n.id] = node as GraphNode;
  }
  const body = node.attrs.body;
  const metas = inputMetas(body);
  const carryMetas = metas.slice(0, nc);
  const savedStart = body.outputs.length - node.attrs.saveCarries;
  const stacked = (m: Meta) => ({ shape: [length, ...m.shape], dtype: m.dtype });
  const saved = carryMetas.map((m, k) => b.append((id) => ({ id, op: "get", inputs: [n.id], attrs: { index: savedStart + k }, shape: stacked(m).shape, dtype: m.dtype })));
  // 2. The backward body. Carry: [ct carry…, gradient accumulators of the float captured values…];
  //    slices: [x…, saved carry…, ct y… (the ys with a cotangent)]; captured: as the forward's.
  const consts = n.inputs.slice(nc + nx);
  const gc = consts.map((_, k) => k).filter((k) => wants[nc + nx + k] && isFloat(metas[nc + nx + k].dtype));
  const accMetas = gc.map((k) => metas[nc + nx + k]);
  const floatCarry = carryMetas.map((m, k) => (isFloat(m.dtype) ? k : -1)).filter((k) => k >= 0);
  const intCarry = carryMetas.map((m, k) => (isFloat(m.dtype) ? -1 : k)).filter((k) => k >= 0);
  const ys = seededOutputs(body, cts).filter((k) => k >= nc);
  const seeded = [...floatCarry, ...ys];
  const wrt = [...metas.keys()].filter((k) => k < nc + nx || gc.includes(k - nc - nx));
  const backward = vjpGraph(vjpIds, body, seeded, wrt, [...intCarry.map((k) => carryMetas[k]), ...accMetas], (vb, grads, extra) => {
    const acc = extra.slice(intCarry.length);
    // acc + this step's contribution: the order eager's tape adds a reused weight's gradients in.
    const newAcc = acc.map((a, j) => vb.emit("add", [a, grads[nc + nx + j]], {}));
    return [...grads.slice(0, nc), ...newAcc, ...grads.slice(nc, nc + nx)];
  });
  // Rebind the backward body's inputs in the order the node passes them.
  const np = metas.length;
  const ins = backward.inputs;
  const seedIds = ins.slice(np, np + seeded.length);
  const extraIds = ins.slice(np + seeded.length);
  const ctCarryIds = carryMetas.map((_, k) => (isFloat(carryMetas[k].dtype) ? seedIds[floatCarry.indexOf(k)] : extraIds[intCarry.indexOf(k)]));
  backward.inputs = [
    ...ctCarryIds, ...extraIds.slice(intCarry.length), ...ins.slice(nc, nc + nx), ...ins.slice(0, nc), ...seedIds.slice(floatCarry.length), ...ins.slice(nc + nx, np),
  ];
  // 3. The reverse scan.
  // Accumulators start at -0, the identity of +: -0 + g is g bit for bit (a -0 included), so the
  // sum is the one eager's tape forms from the first contribution on.
  const negativeZeros = (m: Meta) => b.emit("broadcast_to", [b.constant(-0, m.dtype)], { shape: [...m.shape] });
  const init = [...carryMetas.map((m, k) => cts[k] ?? zeros(b, m)), ...accMetas.map(negativeZeros)];
  const xs = [...n.inputs.slice(nc, nc + nx), ...saved, ...ys.map((k) => cts[k]!)];
  const results = emitControl(b, {
    op: "scan",
    inputs: [...init, ...xs, ...consts],
    attrs: {
      body: backward, numCarry: nc + gc.length, numXs: nx + nc + ys.length, length, reverse: !reverse, saveCarries: 0,
      // Unrolled as the forward scan is, so a short recurrence's backward pass is straight-line too.
      ...(n.attrs.unroll === undefined ? {} : { unroll: n.attrs.unroll }),
    },
  }, [...carryMetas, ...accMetas, ...metas.slice(nc, nc + nx).map(stacked)]);
  const grads: (number | null)[] = n.inputs.map(() => null);
  for (let k = 0; k < nc; k++) grads[k] = results[k];
  gc.forEach((c, j) => (grads[nc + nx + c] = results[nc + j]));
  for (let k = 0; k < nx; k++) grads[nc + k] = results[nc + gc.length + k];
  return grads;
}
