import type { Meta } from "@dualgrad/core";
import type { ControlNode } from "../ir.js";
import { inputMetas, outputMetas, sameMeta, showMeta } from "./subgraph.js";

/**
 * The types a control-flow node's results have, by index (what its `get` nodes must declare):
 * a scan's final carries then its stacked ys; a cond's branch results; a while loop's carries.
 */
export function resultMetas(n: ControlNode): Meta[] {
  if (n.op === "cond") return outputMetas(n.attrs.branches[0]);
  if (n.op === "while") return outputMetas(n.attrs.body);
  const outs = outputMetas(n.attrs.body);
  const nc = n.attrs.numCarry;
  return [...outs.slice(0, nc), ...outs.slice(nc).map((m) => ({ shape: [n.attrs.length, ...m.shape], dtype: m.dtype }))];
}

/** The first difference between two type lists, as text, or null when they agree. */
function differ(got: readonly Meta[], want: readonly Meta[], gotName: string, wantName: string): string | null {
  if (got.length !== want.length) return `${gotName} has ${got.length} value(s) but ${wantName} has ${want.length}`;
  const k = got.findIndex((m, i) => !sameMeta(m, want[i]));
  return k < 0 ? null : `${gotName}[${k}] is ${showMeta(got[k])} but ${wantName}[${k}] is ${showMeta(want[k])}`;
}

/**
 * Whether control node `n` fits its operands `ins` (their types): its sub-graphs take exactly those
 * values (a scan's xs without their leading axis of `length`) and return what the node promises.
 * Returns the problem as text, or null. Used to validate graphs read from files.
 */
export function controlProblem(n: ControlNode, ins: readonly Meta[]): string | null {
  if (n.op === "cond") {
    const [t, f] = n.attrs.branches;
    if (ins.length < 1 || ins[0].shape.length !== 0) return `the predicate (input 0) must be a scalar${ins.length ? `, got ${showMeta(ins[0])}` : ""}`;
    return differ(inputMetas(t), ins.slice(1), "the true branch's inputs", "the operands") ??
      differ(inputMetas(f), ins.slice(1), "the false branch's inputs", "the operands") ??
      differ(outputMetas(f), outputMetas(t), "the false branch's outputs", "the true branch's outputs");
  }
  if (n.op === "while") {
    const { numCarry: nc } = n.attrs;
    if (nc > ins.length) return `numCarry ${nc} is more than its ${ins.length} input(s)`;
    const c = outputMetas(n.attrs.cond);
    if (c.length !== 1 || c[0].shape.length !== 0) return "the condition must return one scalar";
    return differ(inputMetas(n.attrs.cond), ins, "the condition's inputs", "the node's inputs") ??
      differ(inputMetas(n.attrs.body), ins, "the body's inputs", "the node's inputs") ??
      differ(outputMetas(n.attrs.body), ins.slice(0, nc), "the body's outputs", "the carries");
  }
  const { numCarry: nc, numXs: nx, length, saveCarries } = n.attrs;
  if (nc + nx > ins.length) return `numCarry ${nc} + numXs ${nx} is more than its ${ins.length} input(s)`;
  for (let k = nc; k < nc + nx; k++) {
    if (ins[k].shape[0] !== length) return `xs input ${k} is ${showMeta(ins[k])} but the scan has length ${length}`;
  }
  const sliced = ins.map((m, k) => (k >= nc && k < nc + nx ? { shape: m.shape.slice(1), dtype: m.dtype } : m));
  const outs = outputMetas(n.attrs.body);
  if (saveCarries !== 0 && saveCarries !== nc) return `saveCarries must be 0 or numCarry (${nc}), got ${saveCarries}`;
  if (outs.length < nc + saveCarries) return `the body returns ${outs.length} value(s), fewer than its ${nc} carries and ${saveCarries} saved carries`;
  return differ(inputMetas(n.attrs.body), sliced, "the body's inputs", "the node's inputs (xs without their leading axis)") ??
    differ(outs.slice(0, nc), ins.slice(0, nc), "the body's new carries", "the initial carries") ??
    differ(outs.slice(outs.length - saveCarries), ins.slice(0, saveCarries), "the body's saved carries", "the initial carries");
}
