import { DualgradError, formatShape, isFloat, ops, type Prim } from "@dualgrad/core";
import type { GraphBuilder } from "./builder.js";
import { controlVjp } from "./control/vjp.js";
import { isControlNode, isPrimNode, type PrimNode } from "./ir.js";
import { SymbolicTensor, currentTrace, withTrace, type SymLike } from "./symbolic.js";
import { Variable } from "./variable.js";

/**
 * Reverse-mode differentiation as a graph-to-graph transform: walking the recorded nodes
 * backwards, core's VJP rules emit gradient nodes into the same graph. The result is ordinary
 * graph values, so it can be differentiated again (grad of grad) and optimised like the rest.
 */

/** Value ids of d(output)/d(wrt[i]), appended to `b`'s graph. `seed` is the output's cotangent (default 1). */
export function gradientIds(b: GraphBuilder, output: number, wrt: readonly number[], seed?: number): number[] {
  return zerosWhereUnconnected(b, wrt, backprop(b, output, wrt, seed));
}

/** A wrt value the outputs do not depend on gets zeros (`zero`: 0 or -0), as tf.gradients with unconnected_gradients='zero'. */
function zerosWhereUnconnected(b: GraphBuilder, wrt: readonly number[], grads: readonly (number | undefined)[], zero = 0): number[] {
  const nodes = b.graph.nodes;
  return grads.map((g, k) => g ?? b.emit("broadcast_to", [b.constant(zero, nodes[wrt[k]].dtype)], { shape: nodes[wrt[k]].shape }));
}

/**
 * The reverse sweep behind {@link gradientIds}: value ids of d(output)/d(wrt[i]), or `undefined`
 * where no path connects them. `through(id)` (default: every node) says which nodes gradients
 * may flow through, which is how a GradientTape limits them to the operations it recorded.
 */
export function backprop(b: GraphBuilder, output: number, wrt: readonly number[], seed?: number, through: (id: number) => boolean = () => true): (number | undefined)[] {
  const out = b.graph.nodes[output];
  if (!isFloat(out.dtype)) throw new DualgradError(`grad: the output must be floating point, got ${out.dtype}`);
  if (seed === undefined && out.shape.reduce((x, y) => x * y, 1) !== 1) {
    throw new DualgradError(`grad: the output must be a scalar (got shape ${formatShape(out.shape)}); reduce it first or pass a cotangent`);
  }
  return sweep(b, [output], [seed ?? b.emit("reshape", [b.constant(1, out.dtype)], { shape: out.shape })], wrt, through);
}

/**
 * The vector-Jacobian product of several outputs at once: value ids of Σ_k seeds[k]·d(outputs[k])/d(wrt[i]),
 * appended to `b`'s graph (what a `cond` or `scan` body's gradient is made of). Unconnected ones
 * are -0, the identity of +: a step or branch that does not touch a value adds nothing to its
 * gradient, bit for bit, as with eager's tape, which has no contribution to add.
 */
export function vjpIds(b: GraphBuilder, outputs: readonly number[], seeds: readonly number[], wrt: readonly number[]): number[] {
  return zerosWhereUnconnected(b, wrt, sweep(b, outputs, seeds, wrt, () => true), -0);
}

/** The reverse sweep from `outputs` (cotangents `seeds`) to `wrt`, through the nodes `through` accepts; undefined where unconnected. */
function sweep(b: GraphBuilder, outputs: readonly number[], seeds: readonly number[], wrt: readonly number[], through: (id: number) => boolean): (number | undefined)[] {
  const nodes = b.graph.nodes;
  const last = Math.max(-1, ...outputs);
  // Which values depend on a wrt value: only their cotangents are worth computing.
  const wanted = new Set(wrt);
  const onPath = new Array<boolean>(last + 1).fill(false);
  for (let id = 0; id <= last; id++) onPath[id] = wanted.has(id) || (through(id) && nodes[id].inputs.some((i) => onPath[i]));
  const cot = new Map<number, number>();
  const accumulate = (id: number, g: number) => {
    const prev = cot.get(id);
    cot.set(id, prev === undefined ? g : b.emit("add", [prev, g], {}));
  };
  outputs.forEach((o, k) => accumulate(o, seeds[k]));
  // The cotangents of a control-flow node's results, by result index (gathered from its `get` nodes).
  const results = new Map<number, (number | undefined)[]>();
  for (let id = last; id >= 0; id--) {
    const n = nodes[id];
    if (!through(id)) continue;
    if (n.op === "get") {
      const g = cot.get(id);
      if (g === undefined) continue;
      const r = results.get(n.inputs[0]) ?? [];
      r[n.attrs.index] = r[n.attrs.index] === undefined ? g : b.emit("add", [r[n.attrs.index]!, g], {});
      results.set(n.inputs[0], r);
      continue;
    }
    const g = isControlNode(n) ? results.get(id) : cot.get(id);
    if (g === undefined) continue;
    if (n.op === "fused") throw new DualgradError("grad: differentiate before fusion (fused nodes have no VJP)");
    if (!isPrimNode(n) && !isControlNode(n)) continue; // inputs, variables and constants end the chain
    const wants = n.inputs.map((i) => onPath[i] && isFloat(nodes[i].dtype));
    if (!wants.some(Boolean)) continue;
    const grads = isControlNode(n) ? controlVjp(b, n, g as (number | undefined)[], wants, vjpIds) : vjp(b, n, g as number, wants);
    n.inputs.forEach((input, k) => {
      const gi = grads[k];
      if (gi === null || gi === undefined || !wants[k]) return;
      accumulate(input, gi);
    });
  }
  return wrt.map((w) => cot.get(w));
}

/** Node `n`'s VJP rule, emitting into `b` (generic in the primitive, so its attributes are typed by it). */
function vjp<P extends Prim>(b: GraphBuilder, n: PrimNode<P>, g: number, wants: readonly boolean[]): (number | null)[] {
  return ops[n.op].vjp(b, n.inputs, n.id, g, n.attrs, wants);
}

function builderOf(xs: readonly (SymbolicTensor | Variable)[]): GraphBuilder {
  const b = xs.find((x): x is SymbolicTensor => x instanceof SymbolicTensor)?.builder ?? currentTrace();
  if (!b) throw new DualgradError("gradients: call it while tracing (inside trace(), jit() or graph.function())");
  return b;
}

/**
 * Symbolic gradients of scalar `y` with respect to each of `xs` (symbolic tensors or
 * variables), like `tf.gradients`. Call inside a trace.
 */
export function gradients(y: SymbolicTensor, xs: readonly (SymbolicTensor | Variable)[], cotangent?: SymLike): SymbolicTensor[] {
  const b = builderOf([y, ...xs]);
  const ids = xs.map((x) => (x instanceof Variable ? b.variable(x) : x.id));
  const seed = cotangent === undefined ? undefined : cotangent instanceof SymbolicTensor ? cotangent.id : undefined;
  return withTrace(b, () => gradientIds(b, y.id, ids, seed)).map((id) => new SymbolicTensor(b, id));
}

/**
 * `valueAndGrad(f)` returns a function computing `[f(...args), df/dargs]` for the positions in
 * `argnums` (default: the first), like `jax.value_and_grad`. Use inside a trace; the gradient
 * is part of the graph, so it can itself be differentiated.
 */
export function valueAndGrad<A extends SymbolicTensor[]>(
  f: (...args: A) => SymbolicTensor,
  argnums: readonly number[] = [0],
): (...args: A) => [SymbolicTensor, SymbolicTensor[]] {
  return (...args: A) => {
    const y = f(...args);
    return [y, gradients(y, argnums.map((i) => args[i]))];
  };
}

/** `grad(f)`: the gradient of scalar `f` with respect to its first argument (or `argnum`), like `jax.grad`. */
export function grad<A extends SymbolicTensor[]>(f: (...args: A) => SymbolicTensor, argnum = 0): (...args: A) => SymbolicTensor {
  const vg = valueAndGrad(f, [argnum]);
  return (...args: A) => vg(...args)[1][0];
}
