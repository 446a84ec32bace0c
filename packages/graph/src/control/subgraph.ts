import { DualgradError, formatShape, type Meta, type Prim } from "@dualgrad/core";
import { GraphBuilder } from "../builder.js";
import { DTYPE_SHORT, isControlNode, isPrimNode, type ControlNode, type Graph, type GraphNode, type PrimNode } from "../ir.js";
import { Variable } from "../variable.js";
import { SymbolicTensor, idOf, withTrace, type SymLike } from "../symbolic.js";

/**
 * Sub-graphs for control flow: tracing a body as a graph of its own (values of the enclosing
 * graphs it uses become captured inputs), inlining a graph into a builder, and appending a
 * control-flow node with one `get` node per result.
 */

/** A body's argument or result: one tensor, or an array of them. */
export type Tree<T = SymLike> = T | readonly T[];

/** The tensors of a tree, in order. */
export function leaves<T>(x: Tree<T>): T[] {
  return Array.isArray(x) ? [...(x as readonly T[])] : [x as T];
}

/** `xs` in the shape of `like`: an array if `like` was one, else its single element. */
export function rebuild<T>(like: Tree<unknown>, xs: T[]): T | T[] {
  return Array.isArray(like) ? xs : xs[0];
}

/** `f32[3,2]`, for error messages. */
export function showMeta(m: Meta): string {
  return `${DTYPE_SHORT[m.dtype]}${formatShape(m.shape)}`;
}

/** Whether two values have the same shape and dtype. */
export function sameMeta(a: Meta, b: Meta): boolean {
  return a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, k) => d === b.shape[k]);
}

/** A traced sub-graph: inputs `[arguments…, captured…]`; `captured` are the enclosing graph's ids of the captured values. */
export interface Subgraph {
  graph: Graph;
  captured: number[];
}

/**
 * Traces `f` on fresh inputs of `metas` as a sub-graph of `parent`. `f` gets the body's builder and
 * its symbolic arguments and returns the ids of its results in that builder (see {@link resultId}).
 */
export function traceSubgraph(parent: GraphBuilder, metas: readonly Meta[], f: (b: GraphBuilder, args: SymbolicTensor[]) => number[]): Subgraph {
  const b = new GraphBuilder(parent);
  const args = metas.map((m, k) => new SymbolicTensor(b, b.input(`arg${k}`, m.shape, m.dtype)));
  b.graph.outputs = withTrace(b, () => f(b, args));
  b.close();
  // Captured inputs were made after the arguments, so the inputs are already [arguments…, captured…].
  return { graph: b.graph, captured: [...b.captures.keys()] };
}

/** A body's result as an id in its builder `b`: numbers become constants of `dtype`, enclosing values are captured. */
export function resultId(b: GraphBuilder, x: unknown, what: string, dtype: Meta["dtype"] = "float32"): number {
  if (x instanceof SymbolicTensor || typeof x === "number" || x instanceof Variable) return idOf(b, x as SymLike, dtype);
  throw new DualgradError(`${what} must be a symbolic tensor, a Variable or a number, got ${x === null ? "null" : typeof x}`);
}

/**
 * Gives the sub-graphs of one control-flow node the same captured inputs, `union` (ids in the
 * enclosing graph `parent`): a sub-graph gets an unused input for each value only another uses.
 */
export function alignCaptures(parent: GraphBuilder, subs: readonly Subgraph[]): { graphs: Graph[]; captured: number[] } {
  const union = [...new Set(subs.flatMap((s) => s.captured))];
  const graphs = subs.map(({ graph, captured }) => {
    const nodes = [...graph.nodes];
    const explicit = graph.inputs.slice(0, graph.inputs.length - captured.length);
    const inputs = union.map((outer) => {
      const k = captured.indexOf(outer);
      if (k >= 0) return graph.inputs[explicit.length + k];
      const m = parent.meta(outer);
      nodes.push({ id: nodes.length, op: "input", inputs: [], attrs: {}, shape: [...m.shape], dtype: m.dtype, name: `capture${nodes.length}` });
      return nodes.length - 1;
    });
    return { ...graph, nodes, inputs: [...explicit, ...inputs] };
  });
  return { graphs, captured: union };
}

/** Appends control-flow node `node` (without id, shape and dtype) and a `get` node per result; returns the results' ids. */
export function emitControl(b: GraphBuilder, node: Pick<ControlNode, "op" | "inputs" | "attrs">, results: readonly Meta[]): number[] {
  const id = b.append((id) => ({ ...node, id, inputs: [...node.inputs], shape: [0], dtype: "float32" }) as GraphNode);
  return results.map((m, index) => b.append((gid) => ({ id: gid, op: "get", inputs: [id], attrs: { index }, shape: [...m.shape], dtype: m.dtype })));
}

/** Zeros shaped like `m`, in `b`. */
export function zeros(b: GraphBuilder, m: Meta): number {
  return b.emit("broadcast_to", [b.constant(0, m.dtype)], { shape: [...m.shape] });
}

/** The metas of a sub-graph's inputs and outputs. */
export function inputMetas(g: Graph): Meta[] {
  return g.inputs.map((i) => g.nodes[i]);
}
/** @see inputMetas */
export function outputMetas(g: Graph): Meta[] {
  return g.outputs.map((i) => g.nodes[i]);
}

/** Copies `g`'s nodes into `b` with `g`'s inputs bound to `args`; returns the ids of `g`'s outputs in `b`. */
export function inlineGraph(b: GraphBuilder, g: Graph, args: readonly number[]): number[] {
  const map = new Array<number>(g.nodes.length).fill(-1);
  g.inputs.forEach((id, k) => (map[id] = args[k]));
  for (const n of g.nodes) {
    if (n.op === "input") continue;
    if (n.op === "constant") map[n.id] = b.constantArray(n.value ?? [], n.shape, n.dtype);
    else if (isPrimNode(n)) map[n.id] = emitPrim(b, n, n.inputs.map((i) => map[i]));
    else if (n.op === "get" || isControlNode(n)) map[n.id] = b.append((id) => ({ ...n, id, inputs: n.inputs.map((i) => map[i]) }) as GraphNode);
    else throw new DualgradError(`inline: a sub-graph cannot hold ${n.op} nodes (variables are captured; fusion runs last)`);
  }
  return g.outputs.map((o) => map[o]);
}

function emitPrim<P extends Prim>(b: GraphBuilder, n: PrimNode<P>, inputs: number[]): number {
  return b.emit(n.op, inputs, n.attrs);
}
