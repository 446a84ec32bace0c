import { normalizeAxes, shapesEqual } from "@dualgrad/core";
import { sameGraph, type Graph, type GraphNode } from "../ir.js";
import { commitRewrite } from "./dce.js";

/**
 * Algebraic simplification: local rewrites that remove work without changing any result bit.
 *
 * Each rule looks at one node and the nodes defining its operands, and answers either "this node
 * is value x" (an alias: readers, outputs and updates switch to x) or "this node is better
 * written as ..." (a replacement node with the same id, so topological order still holds), or
 * nothing. Rules only ever return identities that hold in IEEE arithmetic as the kernels compute
 * it (x*1, x/1, x-0, neg(neg x), pow(x, 1), data movement that moves nothing), with one known
 * caveat: `x + 0` and a sum over length-1 axes turn a `-0` element into `+0`, so rewriting
 * them to `x` may flip the sign of a zero (XLA's simplifier makes the same trade).
 */

/** What a rule concludes about a node: an existing value id, a rewritten node, or null. */
type Rewrite = number | GraphNode | null;
type Rule = (n: GraphNode, at: (id: number) => GraphNode) => Rewrite;

/** The value every element of a constant node holds, or null when it is not a constant or not all equal. */
function splat(n: GraphNode): number | null {
  if (n.op !== "constant" || !n.value || n.value.length === 0) return null;
  const v = n.value[0];
  return n.value.every((x) => Object.is(x, v) || x === v) ? v : null;
}

/**
 * `x op c -> x` for a splat constant `c` that is the identity of `op` on that side, provided the
 * node's result has x's shape and dtype, i.e. the op did not broadcast x up to c's shape.
 */
function binaryIdentity(n: GraphNode, at: (id: number) => GraphNode): Rewrite {
  const [l, r] = n.inputs;
  const keeps = (x: number) => shapesEqual(at(x).shape, n.shape) && at(x).dtype === n.dtype;
  const is = (c: number, v: number) => splat(at(c)) === v; // === makes -0 match 0
  switch (n.op) {
    case "mul":
      if (is(r, 1) && keeps(l)) return l;
      if (is(l, 1) && keeps(r)) return r;
      return null;
    case "add":
      if (is(r, 0) && keeps(l)) return l;
      if (is(l, 0) && keeps(r)) return r;
      return null;
    case "sub":
      return is(r, 0) && keeps(l) ? l : null;
    case "div":
      return is(r, 1) && keeps(l) ? l : null;
    default:
      return null;
  }
}

const isIdentityPerm = (perm: readonly number[]) => perm.every((p, i) => p === i);

/** The rules, tried in order on every node until none applies. */
const RULES: Rule[] = [
  binaryIdentity,
  // neg(neg x) -> x
  (n, at) => (n.op === "neg" && at(n.inputs[0]).op === "neg" ? at(n.inputs[0]).inputs[0] : null),
  // pow(x, 1) -> x: Math.pow(x, 1) is x for every x, NaN and -0 included.
  (n) => (n.op === "pow" && n.attrs.exponent === 1 ? n.inputs[0] : null),
  // transpose with the identity perm moves nothing.
  (n) => (n.op === "transpose" && isIdentityPerm(n.attrs.perm) ? n.inputs[0] : null),
  // transpose(transpose(x, p), q) -> transpose(x, r) with r[i] = p[q[i]]: output axis i is inner
  // axis q[i], which is x's axis p[q[i]]. (If r is the identity, the rule above then removes it.)
  (n, at) => {
    const inner = at(n.inputs[0]);
    if (n.op !== "transpose" || inner.op !== "transpose") return null;
    const p = inner.attrs.perm;
    const q = n.attrs.perm;
    return { ...n, inputs: [inner.inputs[0]], attrs: { perm: q.map((a) => p[a]) } };
  },
  // reshape(reshape x) -> reshape x: row-major data is unchanged by either, only the last shape counts.
  (n, at) => {
    const inner = at(n.inputs[0]);
    return n.op === "reshape" && inner.op === "reshape" ? { ...n, inputs: [inner.inputs[0]] } : null;
  },
  // reshape / broadcast_to to the shape x already has, and cast to x's dtype, copy x unchanged.
  (n, at) => {
    if (n.op !== "reshape" && n.op !== "broadcast_to" && n.op !== "cast") return null;
    const x = at(n.inputs[0]);
    return shapesEqual(x.shape, n.shape) && x.dtype === n.dtype ? x.id : null;
  },
  // sum/mean over axes that all have length 1 add one element (mean divides by 1): a reshape to
  // the result shape (keepdims or not, the result shape is already the right one).
  (n, at) => {
    if (n.op !== "sum" && n.op !== "mean") return null;
    const x = at(n.inputs[0]);
    const axes = normalizeAxes(n.op, n.attrs.axes, x.shape.length);
    if (!axes.every((a) => x.shape[a] === 1)) return null;
    return { ...n, op: "reshape", attrs: { shape: [...n.shape] } };
  },
];

/** One forward sweep: every node's operands are resolved first, then the rules run on it to a local fixed point. */
function simplifyOnce(g: Graph): Graph {
  const alias = g.nodes.map((n) => n.id);
  const nodes: GraphNode[] = [];
  const at = (id: number) => nodes[id];
  for (const old of g.nodes) {
    const inputs = old.inputs.map((i) => alias[i]);
    let n = inputs.some((v, k) => v !== old.inputs[k]) ? { ...old, inputs } : old;
    // Each replacement removes a node from a chain or turns a reduction into a reshape, so this
    // terminates; the bound is a guard against a rule that would not.
    for (let step = 0; step < 100; step++) {
      const r = RULES.reduce<Rewrite>((found, rule) => found ?? rule(n, at), null);
      if (r === null) break;
      if (typeof r === "number") {
        alias[n.id] = r; // r is an earlier node that stays, so aliases never chain
        break;
      }
      n = r;
    }
    nodes.push(n);
  }
  return commitRewrite(g, nodes, alias);
}

/**
 * Applies the algebraic identities until the graph stops changing: `x*1`, `1*x`, `x+0`, `0+x`,
 * `x-0`, `x/1` -> x (splat constant, no broadcast of x); `neg(neg x)` -> x; transpose chains
 * composed, identity transposes removed; reshape chains collapsed, no-op reshape / broadcast_to /
 * cast removed; sum/mean over length-1 axes -> reshape; `pow(x, 1)` -> x. Outputs and updates
 * follow the values they named (an output may become an input or variable directly).
 */
export function algebraicSimplification(g: Graph): Graph {
  let current = g;
  for (let round = 0; round < 20; round++) {
    const next = simplifyOnce(current);
    if (sameGraph(next, current)) return next;
    current = next;
  }
  return current;
}
