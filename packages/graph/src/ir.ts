import { formatShape, type Attrs, type DType, type ElementwiseOp, type ElementwiseOperand, type ElementwiseProgram, type Prim, type Shape } from "@dualgrad/core";
import { valueKey } from "./value-key.js";

/**
 * The SSA IR. A graph is a list of nodes in topological order; each node defines exactly one
 * value, named by its index. Control flow (`scan`, `cond`, `while`) holds its bodies as
 * sub-graphs in its attributes; its several results are read by one `get` node each. Plans are data: graphs are plain JSON-able values, every pass is a
 * pure function Graph -> Graph, and `printGraph` renders them like a jaxpr.
 */

/** An operand of a fused op: core's elementwise program operand. */
export type FusedOperand = ElementwiseOperand;

/** One fused elementwise operation inside a `fused` node: core's elementwise program op. */
export type FusedOp = ElementwiseOp;

/** The product a gemm epilogue runs before its program (./passes/gemm-epilogue.ts): a matmul or a convolution, with its attributes. */
export type EpilogueProducer = { readonly op: "matmul"; readonly attrs: Attrs["matmul"] } | { readonly op: "conv2d"; readonly attrs: Attrs["conv2d"] };

/**
 * Attributes of a fused elementwise kernel: core's elementwise program over the node's inputs;
 * the last op is the output. With `producer`, the epilogue of a matmul or conv2d: the node's
 * inputs are the producer's two, then the program's in1, in2, ...; in0 is the producer's result.
 */
export type FusedAttrs = ElementwiseProgram & { readonly producer?: EpilogueProducer };

/** How plans and profiles name a fused kernel: by its chain, `fused(mul→sub)`, or `matmul+epilogue(add→relu)` for an epilogue. */
export function fusedKernelName(attrs: FusedAttrs): string {
  const chain = attrs.ops.map((o) => o.prim).join("→");
  return attrs.producer === undefined ? `fused(${chain})` : `${attrs.producer.op}+epilogue(${chain})`;
}

/** What every node has, whatever its op. */
interface NodeFields {
  /** Index in `Graph.nodes`; also the value's id. */
  id: number;
  /** Value ids this node reads. */
  inputs: number[];
  shape: number[];
  dtype: DType;
  /** For inputs and variables: the name. */
  name?: string;
  /** For constants: the row-major data. */
  value?: number[];
}

/** A primitive applied to its inputs, with that primitive's attributes. */
export interface PrimNode<P extends Prim = Prim> extends NodeFields {
  op: P;
  attrs: Attrs[P];
}

/** A fused elementwise kernel: its attributes are the program it runs over its inputs. */
export interface FusedNode extends NodeFields {
  op: "fused";
  attrs: FusedAttrs;
}

/** A placeholder, a variable read or a constant: no inputs, no attributes. */
export interface LeafNode extends NodeFields {
  op: "input" | "variable" | "constant";
  attrs: Readonly<Record<string, never>>;
}

/**
 * `scan`: runs `body` `length` times. Node inputs are `[init carry…, xs…, captured…]`; the body's
 * inputs are `[carry…, x slice…, captured…]` and its outputs `[new carry…, y…]`. The node's results
 * (read through `get` nodes) are `[final carry…, stacked ys…, saved carries…]`; the last
 * `saveCarries` results are the carry each step started from, stacked, kept for the gradient.
 */
export interface ScanAttrs {
  body: Graph;
  numCarry: number;
  numXs: number;
  length: number;
  reverse: boolean;
  /** 0 or numCarry: whether the per-step carries are stacked as extra results (residuals for reverse mode). */
  saveCarries: number;
  /**
   * How the compiler may unroll it (passes/unroll-scan.ts): `true` fully, `false` or 1 never, k
   * steps per loop iteration; absent: fully when short enough (the pass's budget).
   */
  unroll?: boolean | number;
}

/** `cond`: node inputs `[pred, operands…]`; each branch takes the operands and returns the results. */
export interface CondAttrs {
  /** `[taken when pred != 0, taken when pred == 0]` */
  branches: [Graph, Graph];
}

/** `while`: node inputs `[init carry…, captured…]`; `cond` maps them to a scalar, `body` to the new carry. */
export interface WhileAttrs {
  cond: Graph;
  body: Graph;
  numCarry: number;
}

/** A control-flow node: its sub-graphs are in its attributes; its results are read by `get` nodes. Its own value is an empty tuple (shape [0]). */
export type ControlNode =
  | (NodeFields & { op: "scan"; attrs: ScanAttrs })
  | (NodeFields & { op: "cond"; attrs: CondAttrs })
  | (NodeFields & { op: "while"; attrs: WhileAttrs });

/** Result `index` of the control-flow node that is its single input. */
export interface GetNode extends NodeFields {
  op: "get";
  attrs: { index: number };
}

/** A node of any primitive in `K`: the union of `PrimNode<P>`, so testing `op` types `attrs`. */
export type PrimNodes<K extends Prim = Prim> = { [P in K]: PrimNode<P> }[K];

/**
 * One SSA value and the op that defines it: a union discriminated by `op`, so checking
 * `n.op === "transpose"` types `n.attrs` as transpose's attributes.
 */
export type GraphNode = PrimNodes | FusedNode | LeafNode | ControlNode | GetNode;

/** What a node is. */
export type NodeOp = GraphNode["op"];

/** True for a primitive node (not input, variable, constant or fused). */
export function isPrimNode(n: GraphNode): n is PrimNodes {
  return n.op !== "input" && n.op !== "variable" && n.op !== "constant" && n.op !== "fused" && !isControlNode(n) && n.op !== "get";
}

/** True for `scan`, `cond` and `while` nodes. */
export function isControlNode(n: GraphNode): n is ControlNode {
  return n.op === "scan" || n.op === "cond" || n.op === "while";
}

/** The sub-graphs of a control-flow node (none for other nodes). */
export function subgraphsOf(n: GraphNode): Graph[] {
  return n.op === "scan" ? [n.attrs.body] : n.op === "cond" ? [...n.attrs.branches] : n.op === "while" ? [n.attrs.cond, n.attrs.body] : [];
}

/** `g` with `f` applied to every control-flow node's sub-graphs (nodes without sub-graphs are shared). */
export function mapSubgraphs(g: Graph, f: (sub: Graph) => Graph): Graph {
  if (!g.nodes.some(isControlNode)) return g;
  const nodes = g.nodes.map((n): GraphNode => {
    if (n.op === "scan") return { ...n, attrs: { ...n.attrs, body: f(n.attrs.body) } };
    if (n.op === "cond") return { ...n, attrs: { branches: [f(n.attrs.branches[0]), f(n.attrs.branches[1])] } };
    if (n.op === "while") return { ...n, attrs: { ...n.attrs, cond: f(n.attrs.cond), body: f(n.attrs.body) } };
    return n;
  });
  return { ...g, nodes };
}

/**
 * A primitive node made for a generic or unknown `P`, as a GraphNode. TypeScript does not see
 * that `PrimNode<P>` is a member of the union for such a `P` (it does not tie `op` to `attrs`),
 * but the node's attributes were typed by its own primitive when it was made.
 */
export function primNode<P extends Prim>(node: PrimNode<P>): GraphNode {
  const any: PrimNode = node;
  return any as GraphNode;
}

/** A variable update performed after the outputs are computed (TensorFlow's `assign`). */
export interface Update {
  variable: string;
  value: number;
}

/** A whole program. */
export interface Graph {
  nodes: GraphNode[];
  /** Node ids of the placeholders, in argument order. */
  inputs: number[];
  /** Node ids of the results. */
  outputs: number[];
  /** Assignments to persistent variables. */
  updates: Update[];
}

/** An empty graph. */
export function emptyGraph(): Graph {
  return { nodes: [], inputs: [], outputs: [], updates: [] };
}

/** Deep copy (graphs are values; passes never mutate their input). structuredClone keeps -0, NaN and infinities in constants. */
export function cloneGraph(g: Graph): Graph {
  return structuredClone(g);
}

/** Short dtype names for printing, as in jaxprs. */
export const DTYPE_SHORT: Record<DType, string> = { float32: "f32", float64: "f64", int32: "i32" };

/** jaxpr-style variable names: a, b, ..., z, ba, bb, ... */
export function valueName(id: number): string {
  let s = "";
  let n = id;
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  } while (n > 0);
  return s;
}

/** `a:f32[64,1]` */
export function typedName(n: GraphNode): string {
  return `${valueName(n.id)}:${DTYPE_SHORT[n.dtype]}${formatShape(n.shape)}`;
}

function formatAttrValue(v: unknown): string {
  if (Array.isArray(v)) return `(${v.map(formatAttrValue).join(",")})`;
  if (v === null) return "None";
  return String(v);
}

/** A primitive's attributes as `[transA=false,transB=true]`, or "" when there are none. */
export function formatAttrs(attrs: object): string {
  const entries = Object.entries(attrs);
  return entries.length === 0 ? "" : `[${entries.map(([k, v]) => `${k}=${formatAttrValue(v)}`).join(",")}]`;
}

/** A node's attributes as printed: a primitive's as {@link formatAttrs}, a fused kernel's op chain `[add∘relu]`. */
export function formatNodeAttrs(n: GraphNode): string {
  if (n.op === "fused") {
    const p = n.attrs.producer;
    return `[${p ? `${p.op}${formatAttrs(p.attrs)}+` : ""}${n.attrs.ops.map((o) => o.prim).join("∘")}]`;
  }
  if (n.op === "scan") {
    const { numCarry, numXs, length, reverse, saveCarries, unroll } = n.attrs;
    return formatAttrs({ length, reverse, numCarry, numXs, ...(saveCarries ? { saveCarries } : {}), ...(unroll === undefined ? {} : { unroll }) });
  }
  if (n.op === "cond") return "";
  if (n.op === "while") return formatAttrs({ numCarry: n.attrs.numCarry });
  return formatAttrs(n.attrs);
}

function formatConstant(n: GraphNode): string {
  const v = n.value ?? [];
  return v.length <= 4 ? `${v.length === 1 && n.shape.length === 0 ? v[0] : `[${v.join(",")}]`}` : `[${v.slice(0, 3).join(",")},…]`;
}

/**
 * The jaxpr-like text form:
 * `{ lambda a:f32[64,1] ; w:f32[1,1] . let c:f32[64,1] = matmul[transA=false,transB=true] a w ... in (d) }`
 * Inputs come before `;`, variables after it; updates are listed as `w := e`.
 */
export function printGraph(g: Graph, indent = ""): string {
  const vars = g.nodes.filter((n) => n.op === "variable");
  const head = `{ lambda ${g.inputs.map((i) => typedName(g.nodes[i])).join(" ")}${vars.length ? ` ; ${vars.map((v) => `${typedName(v)}(${v.name})`).join(" ")}` : ""} .`;
  const lines: string[] = [head];
  let first = true;
  for (const n of g.nodes) {
    if (n.op === "input" || n.op === "variable") continue;
    const rhs = n.op === "constant" ? formatConstant(n) : `${n.op}${formatNodeAttrs(n)} ${n.inputs.map(valueName).join(" ")}`;
    lines.push(`${indent}  ${first ? "let" : "   "} ${typedName(n)} = ${rhs}`);
    first = false;
    // Sub-graphs print nested under their node, labelled as JAX prints a scan's or cond's jaxprs.
    const labels = n.op === "scan" ? ["body"] : n.op === "cond" ? ["true", "false"] : n.op === "while" ? ["cond", "body"] : [];
    subgraphsOf(n).forEach((sub, k) => lines.push(`${indent}        ${labels[k]}=${printGraph(sub, `${indent}        `).trimStart()}`));
  }
  const updates = g.updates.length ? ` ; ${g.updates.map((u) => `${u.variable} := ${valueName(u.value)}`).join(", ")}` : "";
  lines.push(`${indent}  in (${g.outputs.map(valueName).join(", ")})${updates} }`);
  return lines.join("\n");
}

/** For each value, the ids of the nodes that read it (outputs and updates count as readers with id -1). */
export function consumers(g: Graph): number[][] {
  const users: number[][] = g.nodes.map(() => []);
  for (const n of g.nodes) for (const i of n.inputs) users[i].push(n.id);
  for (const o of g.outputs) users[o].push(-1);
  for (const u of g.updates) users[u.value].push(-1);
  return users;
}

/**
 * Rebuilds a graph from a subset/reordering of nodes, renumbering ids densely. `keep` lists old
 * ids in topological order; `remap` resolves an old id to the id that replaces it. Returns `g`
 * itself when nothing changes. Linear in graph size.
 */
export function compact(g: Graph, keep: readonly number[], remap: (id: number) => number = (id) => id): Graph {
  // -1: removed (or not reached yet). An array rather than a Map: every pass ends here.
  const newId = new Int32Array(g.nodes.length).fill(-1);
  const map = (id: number) => {
    const r = newId[remap(id)];
    if (r === undefined || r < 0) throw new Error(`compact: value ${valueName(id)} was removed but is still used`);
    return r;
  };
  const nodes: GraphNode[] = [];
  // Nodes that keep their id and inputs are shared, not copied (graphs are never mutated).
  let same = keep.length === g.nodes.length;
  for (const old of keep) {
    const n = g.nodes[old];
    let kept = nodes.length === n.id;
    for (let k = 0; kept && k < n.inputs.length; k++) kept = map(n.inputs[k]) === n.inputs[k];
    newId[old] = nodes.length;
    same &&= kept && n === g.nodes[nodes.length];
    nodes.push(kept ? n : { ...n, id: nodes.length, inputs: n.inputs.map(map) });
  }
  const out: Graph = {
    nodes,
    inputs: g.inputs.map(map),
    outputs: g.outputs.map(map),
    updates: g.updates.map((u) => ({ variable: u.variable, value: map(u.value) })),
  };
  // Nothing moved: hand back `g` itself, so the fixed-point loops can stop on identity.
  const unchanged = (a: readonly number[], b: readonly number[]) => a.every((v, k) => v === b[k]);
  if (same && unchanged(out.inputs, g.inputs) && unchanged(out.outputs, g.outputs) && out.updates.every((u, k) => u.value === g.updates[k].value)) return g;
  return out;
}

const sameIds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, k) => v === b[k]);

/**
 * Whether two graphs are the same program: node for node the same op, inputs, attributes, shape,
 * dtype, name and constant data (exactly, `-0` and `NaN` included), and the same inputs, outputs
 * and updates. The optimisation loops use it to stop at a fixed point; nodes a pass left alone
 * are shared objects and compare in O(1), so this is linear in graph size.
 */
export function sameGraph(a: Graph, b: Graph): boolean {
  if (a === b) return true;
  if (a.nodes.length !== b.nodes.length || !sameIds(a.inputs, b.inputs) || !sameIds(a.outputs, b.outputs)) return false;
  if (a.updates.length !== b.updates.length || a.updates.some((u, k) => u.variable !== b.updates[k].variable || u.value !== b.updates[k].value)) return false;
  return a.nodes.every((x, k) => {
    const y = b.nodes[k];
    return x === y || (x.op === y.op && x.dtype === y.dtype && x.name === y.name && sameIds(x.inputs, y.inputs) && sameIds(x.shape, y.shape) &&
      valueKey(x.value) === valueKey(y.value) && valueKey(x.attrs) === valueKey(y.attrs));
  });
}

/** Counts by op, for summaries (`{ matmul: 3, add: 2, ... }`). */
export function opCounts(g: Graph): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of g.nodes) c[n.op] = (c[n.op] ?? 0) + 1;
  return c;
}

/** The meta of a node. */
export function metaOf(n: GraphNode): { shape: Shape; dtype: DType } {
  return { shape: n.shape, dtype: n.dtype };
}
