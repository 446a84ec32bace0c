import {
  arityError,
  DualgradError,
  attrsProblem,
  FormatError,
  formatShape,
  inferMeta,
  isDType,
  isElementwisePrim,
  isPrim,
  ops,
  type Attrs,
  type DType,
  type Meta,
  type Prim,
} from "@dualgrad/core";
import { controlProblem, resultMetas } from "../control/validate.js";
import { sameMeta } from "../control/subgraph.js";
import { DTYPE_SHORT, isControlNode, primNode, type ControlNode, type FusedAttrs, type FusedOp, type FusedOperand, type Graph, type GraphNode, type LeafNode, type NodeOp, type Update } from "../ir.js";

/**
 * JSON serialisation of the SSA IR (docs/ARCHITECTURE.md principle 5, "plans are data"). A saved graph is an
 * untrusted file: `fromJSON` checks every field and every invariant the passes and the compiler
 * rely on (SSA order, arities, attribute types, shapes agreeing with abstract evaluation), so a
 * graph it returns can be run without further checks, and a bad file fails here, naming the node,
 * rather than deep inside a pass.
 */

/** The `format` tag of a serialised graph. */
export const GRAPH_JSON_FORMAT = "dualgrad-graph";
/** The only version this reader understands; bump it whenever the layout changes. */
export const GRAPH_JSON_VERSION = 1;

/**
 * JSON numbers cannot be NaN, ±Infinity (JSON.stringify writes `null`) or -0 (written as `0`), but
 * constants legitimately hold them (a `-inf` mask, a folded `0 * -1`); they travel as strings.
 */
const SPECIAL_NUMBERS: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity, "-0": -0 };

function encodeNumber(x: number): number | string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (Object.is(x, -0)) return "-0";
  return x;
}

function nodeWhere(id: number, op: unknown): string {
  return typeof op === "string" ? `node ${id} (${op})` : `node ${id}`;
}

/**
 * Attributes other than constants' data are written as plain JSON, which would silently turn a
 * non-finite number into `null`; refuse instead, naming the attribute.
 */
function checkWritable(v: unknown, where: string, path: string): void {
  if (typeof v === "number" && !Number.isFinite(v)) {
    throw new DualgradError(`graph JSON: ${where}: attribute ${path} is ${v}, which JSON cannot hold`);
  }
  if (Array.isArray(v)) v.forEach((x, i) => checkWritable(x, where, `${path}[${i}]`));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) checkWritable(x, where, path ? `${path}.${k}` : k);
}

/**
 * A node's attributes as written. Fused kernels inline scalar constants as `const` operands, which
 * may be non-finite just like constant nodes (a `-inf` mask), so those travel as strings too.
 */
function encodeAttrs(n: GraphNode): unknown {
  const where = nodeWhere(n.id, n.op);
  // Control flow: sub-graphs nest as { nodes, inputs, outputs, updates }, their nodes written like any other.
  if (n.op === "scan" || n.op === "while") {
    return { ...n.attrs, ...(n.op === "while" ? { cond: encodeGraph(n.attrs.cond) } : {}), body: encodeGraph(n.attrs.body) };
  }
  if (n.op === "cond") return { branches: n.attrs.branches.map(encodeGraph) };
  if (n.op !== "fused") {
    checkWritable(n.attrs, where, "");
    return n.attrs;
  }
  return {
    ...n.attrs,
    ops: n.attrs.ops.map((o, j) => {
      checkWritable(o.attrs, where, `ops[${j}].attrs`);
      return { ...o, operands: o.operands.map((x) => (x.from === "const" ? { from: "const", value: encodeNumber(x.value) } : x)) };
    }),
  };
}

/** A node as written: fixed key order so the text is deterministic and diffs line up. */
function encodeNode(n: GraphNode): Record<string, unknown> {
  const o: Record<string, unknown> = { id: n.id, op: n.op, inputs: n.inputs, attrs: encodeAttrs(n), shape: n.shape, dtype: n.dtype };
  if (n.name !== undefined) o.name = n.name;
  if (n.value !== undefined) o.value = n.value.map(encodeNumber);
  return o;
}

/** A sub-graph as written inside its control-flow node's attributes. */
function encodeGraph(g: Graph): Record<string, unknown> {
  return { nodes: g.nodes.map(encodeNode), inputs: g.inputs, outputs: g.outputs, updates: g.updates };
}

function jsonList(items: readonly unknown[], indent: string): string {
  if (items.length === 0) return "[]";
  return `[\n${items.map((x) => `${indent}  ${JSON.stringify(x)}`).join(",\n")}\n${indent}]`;
}

/**
 * Serialises `g` as pretty, versioned JSON:
 * `{ "format": "dualgrad-graph", "version": 1, "graph": { nodes, inputs, outputs, updates } }`,
 * one node per line (readable, and a one-node change is a one-line diff). Non-finite numbers
 * (and -0) in constants' data and in fused kernels' `const` operands are written as the strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"`, `"-0"`.
 * `fromJSON(toJSON(g))` deep-equals `g`.
 *
 * @throws DualgradError when an attribute holds a non-finite number, which JSON cannot represent.
 */
export function toJSON(g: Graph): string {
  const lines = [
    "{",
    `  "format": ${JSON.stringify(GRAPH_JSON_FORMAT)},`,
    `  "version": ${GRAPH_JSON_VERSION},`,
    `  "graph": {`,
    `    "nodes": ${jsonList(g.nodes.map(encodeNode), "    ")},`,
    `    "inputs": ${JSON.stringify(g.inputs)},`,
    `    "outputs": ${JSON.stringify(g.outputs)},`,
    `    "updates": ${jsonList(g.updates.map((u) => ({ variable: u.variable, value: u.value })), "    ")}`,
    "  }",
    "}",
  ];
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// Reading

function fail(message: string): never {
  throw new FormatError(`graph JSON: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Rejects keys outside `allowed`: a misspelt field would otherwise be dropped without a word. */
function checkKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${where}: unknown field ${JSON.stringify(k)}`);
}

/** Checks a primitive's attribute record against core's schema: no missing, extra or mistyped keys. */
function checkAttrs<P extends Prim>(prim: P, attrs: unknown, where: string): asserts attrs is Attrs[P] {
  const problem = attrsProblem(prim, attrs);
  if (problem !== null) fail(`${where}: ${problem}`);
}

/**
 * Checks a fused kernel's program (elementwise prims with valid attributes, operands in range,
 * last op's dtype = the node's) and returns it with `const` operands decoded.
 */
function readFused(attrs: unknown, node: { inputs: number[]; shape: number[]; dtype: DType }, earlier: readonly Meta[], where: string): FusedAttrs {
  if (!isObject(attrs)) fail(`${where}: attrs must be an object, got ${show(attrs)}`);
  checkKeys(attrs, ["ops", "producer"], `${where} attrs`);
  // An epilogue: inputs of the producer (matmul or conv2d), then the program's in1...; in0 is the product, of the node's type.
  const producer = attrs.producer;
  let inputCount = node.inputs.length;
  if (producer !== undefined) {
    if (!isObject(producer) || (producer.op !== "matmul" && producer.op !== "conv2d")) fail(`${where}: attrs.producer must be { op: "matmul" | "conv2d", attrs }, got ${show(producer)}`);
    checkKeys(producer, ["op", "attrs"], `${where} attrs.producer`);
    const op = producer.op;
    checkAttrs(op, producer.attrs, `${where} attrs.producer (${op})`);
    if (node.inputs.length < 2) fail(`${where}: a ${op} epilogue needs the ${op}'s two inputs, got ${node.inputs.length} input(s)`);
    let meta: Meta;
    try {
      meta = inferMeta(op, node.inputs.slice(0, 2).map((i) => earlier[i]), producer.attrs);
    } catch (err) {
      return fail(`${where}: its ${op}'s inputs do not fit: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (meta.dtype !== node.dtype || meta.shape.join() !== node.shape.join() || meta.shape.length !== node.shape.length) {
      fail(`${where}: declared ${typeText(node)} but its ${op} gives ${typeText(meta)}`);
    }
    inputCount = node.inputs.length - 1;
  }
  const list = attrs.ops;
  if (!Array.isArray(list) || list.length === 0) fail(`${where}: attrs.ops must be a non-empty array, got ${show(list)}`);
  const program = list.map((raw: unknown, j: number): FusedOp => {
    const at = `${where} ops[${j}]`;
    if (!isObject(raw)) fail(`${at}: must be an object, got ${show(raw)}`);
    checkKeys(raw, ["prim", "attrs", "operands", "dtype"], at);
    const prim = raw.prim;
    if (typeof prim !== "string" || !isPrim(prim)) fail(`${at}: unknown primitive ${show(prim)}`);
    // Fused kernels are generated elementwise loops; a matmul or reduction cannot live inside one.
    if (!isElementwisePrim(prim)) fail(`${at}: ${prim} is not elementwise and cannot be fused`);
    checkAttrs(prim, raw.attrs, `${at} (${prim})`);
    if (!isDType(raw.dtype)) fail(`${at} (${prim}): unknown dtype ${show(raw.dtype)}`);
    const operands = raw.operands;
    if (!Array.isArray(operands)) fail(`${at} (${prim}): operands must be an array, got ${show(operands)}`);
    if (operands.length !== ops[prim].arity) fail(`${at} (${prim}): expected ${ops[prim].arity} operand(s), got ${operands.length}`);
    const decoded = operands.map((o: unknown, k: number): FusedOperand => {
      const ot = `${at} (${prim}) operand ${k}`;
      if (!isObject(o)) fail(`${ot}: must be an object, got ${show(o)}`);
      if (o.from === "const") {
        checkKeys(o, ["from", "value"], ot);
        return { from: "const", value: decodeNumber(o.value, ot, "value") };
      }
      if (o.from !== "in" && o.from !== "op") fail(`${ot}: from must be "in", "op" or "const", got ${show(o.from)}`);
      checkKeys(o, ["from", "index"], ot);
      if (!isIndex(o.index)) fail(`${ot}: index must be a non-negative integer, got ${show(o.index)}`);
      if (o.from === "in" && o.index >= inputCount) {
        const has = producer === undefined ? `the node has ${inputCount} input(s)` : `the kernel has ${inputCount} input(s): the product, then the node's inputs after the first two`;
        fail(`${ot}: in${o.index} is out of range (${has})`);
      }
      if (o.from === "op" && o.index >= j) fail(`${ot}: op${o.index} is not an earlier op of the kernel`);
      return { from: o.from, index: o.index };
    });
    return { prim, attrs: raw.attrs, operands: decoded, dtype: raw.dtype };
  });
  const last = program[program.length - 1];
  if (last.dtype !== node.dtype) fail(`${where}: the kernel's last op gives ${last.dtype} but the node is ${node.dtype}`);
  return { ...attrs, ops: program };
}

/** Decodes one constant element, accepting the strings `toJSON` writes for non-finite numbers. */
function decodeNumber(v: unknown, where: string, field: string): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && Object.prototype.hasOwnProperty.call(SPECIAL_NUMBERS, v)) return SPECIAL_NUMBERS[v];
  return fail(`${where}: ${field} must be a number or one of "NaN", "Infinity", "-Infinity", "-0", got ${show(v)}`);
}

const NODE_KEYS = ["id", "op", "inputs", "attrs", "shape", "dtype", "name", "value"] as const;

function typeText(m: Meta): string {
  return `${DTYPE_SHORT[m.dtype]}${formatShape(m.shape)}`;
}

function readNode(raw: unknown, index: number, earlier: readonly GraphNode[]): GraphNode {
  if (!isObject(raw)) fail(`node ${index}: must be an object, got ${show(raw)}`);
  let where = nodeWhere(index, raw.op);
  checkKeys(raw, NODE_KEYS, where);
  if (raw.id !== index) fail(`${where}: id is ${show(raw.id)} but the node is at index ${index} (ids must equal positions)`);

  const op = raw.op;
  if (typeof op !== "string" || !(op === "input" || op === "variable" || op === "constant" || op === "fused" || CONTROL_OPS.has(op) || isPrim(op))) {
    fail(`node ${index}: unknown op ${show(op)} (expected input, variable, constant, fused, scan, cond, while, get or a primitive)`);
  }
  const nodeOp = op as NodeOp;
  if (typeof raw.name === "string" && (op === "input" || op === "variable")) where = `node ${index} (${op} ${raw.name})`;

  const inputs = raw.inputs;
  if (!Array.isArray(inputs)) fail(`${where}: inputs must be an array, got ${show(inputs)}`);
  inputs.forEach((i: unknown, k: number) => {
    if (!isIndex(i)) fail(`${where}: input ${k} must be a node id, got ${show(i)}`);
    // SSA in topological order: every operand is defined before its first use, so passes and the
    // planner can walk the node list once.
    if (i >= index) fail(`${where}: input ${k} refers to node ${i}, which is not an earlier node (nodes must be in topological order)`);
  });

  const shape = raw.shape;
  if (!Array.isArray(shape) || !shape.every(isIndex)) fail(`${where}: shape must be an array of non-negative integers, got ${show(shape)}`);
  const dtype = raw.dtype;
  if (!isDType(dtype)) fail(`${where}: unknown dtype ${show(dtype)} (expected float32, float64 or int32)`);

  const base = { id: index, inputs: inputs as number[], shape: shape as number[], dtype };

  const leaf = nodeOp === "input" || nodeOp === "variable" || nodeOp === "constant";
  if (leaf) {
    if (inputs.length !== 0) fail(`${where}: a ${op} node takes no inputs, got ${inputs.length}`);
    if (!isObject(raw.attrs) || Object.keys(raw.attrs).length !== 0) fail(`${where}: attrs must be {}, got ${show(raw.attrs)}`);
  }
  let name: string | undefined;
  if (op === "input" || op === "variable") {
    if (typeof raw.name !== "string" || raw.name === "") fail(`${where}: needs a non-empty string name, got ${show(raw.name)}`);
    name = raw.name;
  } else if (raw.name !== undefined) {
    fail(`${where}: only inputs and variables have a name`);
  }
  let value: number[] | undefined;
  if (op === "constant") {
    const data = raw.value;
    if (!Array.isArray(data)) fail(`${where}: needs a value array, got ${show(data)}`);
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    if (data.length !== size) fail(`${where}: value has ${data.length} element(s) but shape ${formatShape(shape as number[])} needs ${size}`);
    value = data.map((v: unknown, i: number) => decodeNumber(v, where, `value[${i}]`));
  } else if (raw.value !== undefined) {
    fail(`${where}: only constants have a value`);
  }

  if (nodeOp === "input" || nodeOp === "variable" || nodeOp === "constant") {
    const node: LeafNode = { ...base, op: nodeOp, attrs: {} };
    if (name !== undefined) node.name = name;
    if (value !== undefined) node.value = value;
    return node;
  }
  if (nodeOp === "fused") return { ...base, op: nodeOp, attrs: readFused(raw.attrs, base, earlier, where) };
  if (nodeOp === "scan" || nodeOp === "cond" || nodeOp === "while") return readControl(nodeOp, raw.attrs, base, earlier, where);
  if (nodeOp === "get") return readGet(raw.attrs, base, earlier, where);
  const prim = nodeOp;
  const attrs = raw.attrs;
  checkAttrs(prim, attrs, where);
  const wrongArity = arityError(prim, inputs.length);
  if (wrongArity !== null) fail(`${where}: ${wrongArity}`);
  // Abstract evaluation is the authority on a primitive's result type; a declared type that
  // disagrees would make the memory planner size buffers wrongly.
  let meta: Meta;
  try {
    meta = inferMeta(prim, base.inputs.map((i) => earlier[i]), attrs);
  } catch (err) {
    return fail(`${where}: its inputs do not fit: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (meta.dtype !== dtype || meta.shape.join() !== base.shape.join() || meta.shape.length !== base.shape.length) {
    fail(`${where}: declared ${typeText(base)} but its inputs give ${typeText(meta)}`);
  }
  return primNode({ ...base, op: prim, attrs });
}

function readIdList(v: unknown, field: string, count: number): number[] {
  if (!Array.isArray(v)) fail(`graph.${field} must be an array, got ${show(v)}`);
  v.forEach((id: unknown, k: number) => {
    if (!isIndex(id) || id >= count) fail(`graph.${field}[${k}] = ${show(id)} does not name a node (the graph has ${count} node(s))`);
  });
  return v as number[];
}

/**
 * Parses and validates a graph written by {@link toJSON}. Everything is checked: the format tag
 * and version; nodes in order with `id` equal to the position; `op` one of input, variable,
 * constant, fused, a known primitive, or control flow (scan, cond, while, whose sub-graphs are
 * read the same way and must take and return exactly what the node passes and promises; get,
 * whose index and type must match its node's result); inputs referring only to earlier nodes (SSA, topological);
 * shapes (non-negative integers), dtypes and attributes (per primitive, and fused programs);
 * constants holding exactly as many elements as their shape; primitive result types agreeing with
 * abstract evaluation; `inputs`, `outputs` and `updates` naming existing nodes, with every input
 * node listed in `inputs` and every update naming a variable node of the same type.
 *
 * @throws FormatError whose message starts with `graph JSON: ` and names the field or node
 *   (`node 3 (add): input 1 refers to node 5, ...`), for anything malformed, including text that
 *   is not JSON at all.
 */
export function fromJSON(text: string): Graph {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(doc)) fail(`expected an object at the top level, got ${show(doc)}`);
  if (doc.format !== GRAPH_JSON_FORMAT) fail(`format is ${show(doc.format)}, expected ${JSON.stringify(GRAPH_JSON_FORMAT)}`);
  if (doc.version !== GRAPH_JSON_VERSION) {
    fail(`unsupported version ${show(doc.version)} (this reader understands version ${GRAPH_JSON_VERSION})`);
  }
  checkKeys(doc, ["format", "version", "graph"], "top level");
  return readGraph(doc.graph, false);
}

/** Reads and validates a graph object (a sub-graph: one with no variables and no updates, which bodies capture instead). */
function readGraph(raw: unknown, sub: boolean): Graph {
  if (!isObject(raw)) fail(`graph must be an object, got ${show(raw)}`);
  checkKeys(raw, ["nodes", "inputs", "outputs", "updates"], "graph");
  if (!Array.isArray(raw.nodes)) fail(`graph.nodes must be an array, got ${show(raw.nodes)}`);

  const nodes: GraphNode[] = [];
  raw.nodes.forEach((n: unknown, i: number) => nodes.push(readNode(n, i, nodes)));

  const inputs = readIdList(raw.inputs, "inputs", nodes.length);
  const listed = new Set<number>();
  inputs.forEach((id, k) => {
    if (nodes[id].op !== "input") fail(`graph.inputs[${k}] = ${id} names ${nodeWhere(id, nodes[id].op)}, not an input node`);
    if (listed.has(id)) fail(`graph.inputs[${k}]: node ${id} is listed twice`);
    listed.add(id);
  });
  for (const n of nodes) {
    // An unlisted placeholder could never be fed, so the graph could not run.
    if (n.op === "input" && !listed.has(n.id)) fail(`node ${n.id} (input ${n.name}) is not listed in graph.inputs`);
  }

  const outputs = readIdList(raw.outputs, "outputs", nodes.length);

  const variables = new Map<string, GraphNode>();
  for (const n of nodes) {
    if (n.op !== "variable") continue;
    // Updates name variables, so two variable nodes with one name would make them ambiguous.
    if (variables.has(n.name!)) fail(`node ${n.id} (variable ${n.name}): a variable named ${n.name} is already node ${variables.get(n.name!)!.id}`);
    variables.set(n.name!, n);
  }

  if (!Array.isArray(raw.updates)) fail(`graph.updates must be an array, got ${show(raw.updates)}`);
  const updates: Update[] = raw.updates.map((u: unknown, k: number) => {
    const at = `graph.updates[${k}]`;
    if (!isObject(u)) fail(`${at} must be an object, got ${show(u)}`);
    checkKeys(u, ["variable", "value"], at);
    if (typeof u.variable !== "string") fail(`${at}.variable must be a string, got ${show(u.variable)}`);
    if (!isIndex(u.value) || u.value >= nodes.length) fail(`${at}.value = ${show(u.value)} does not name a node (the graph has ${nodes.length} node(s))`);
    const target = variables.get(u.variable);
    if (!target) fail(`${at}: no variable node is named ${JSON.stringify(u.variable)}`);
    const value = nodes[u.value];
    if (value.dtype !== target.dtype || value.shape.join() !== target.shape.join() || value.shape.length !== target.shape.length) {
      fail(`${at}: node ${u.value} is ${typeText(value)} but variable ${u.variable} is ${typeText(target)}`);
    }
    return { variable: u.variable, value: u.value };
  });

  if (sub) {
    const v = nodes.find((n) => n.op === "variable");
    if (v) fail(`node ${v.id} (variable ${v.name}): a sub-graph cannot read variables (they are captured as inputs)`);
    if (updates.length) fail("a sub-graph cannot assign variables");
  }
  return { nodes, inputs, outputs, updates };
}

const CONTROL_OPS = new Set(["scan", "cond", "while", "get"]);

/** Reads sub-graph `v` of a control node, naming the node and field on any problem. */
function readSubgraph(v: unknown, where: string, field: string): Graph {
  try {
    return readGraph(v, true);
  } catch (err) {
    if (err instanceof FormatError) fail(`${where}: attrs.${field}: ${err.message.replace(/^graph JSON: /, "")}`);
    throw err;
  }
}

function readCount(attrs: Record<string, unknown>, key: string, where: string): number {
  const v = attrs[key];
  if (!isIndex(v)) fail(`${where}: attrs.${key} must be a non-negative integer, got ${show(v)}`);
  return v;
}

/** A scan, cond or while node: attributes, sub-graphs, and that they fit the node's operands. */
function readControl(op: "scan" | "cond" | "while", attrs: unknown, base: Omit<GraphNode, "op" | "attrs">, earlier: readonly GraphNode[], where: string): GraphNode {
  if (!isObject(attrs)) fail(`${where}: attrs must be an object, got ${show(attrs)}`);
  let node: ControlNode;
  if (op === "scan") {
    checkKeys(attrs, ["body", "numCarry", "numXs", "length", "reverse", "saveCarries", "unroll"], `${where} attrs`);
    if (typeof attrs.reverse !== "boolean") fail(`${where}: attrs.reverse must be a boolean, got ${show(attrs.reverse)}`);
    const { unroll } = attrs;
    if (unroll !== undefined && typeof unroll !== "boolean" && !(isIndex(unroll) && unroll > 0)) fail(`${where}: attrs.unroll must be a boolean or a positive integer, got ${show(unroll)}`);
    node = {
      ...base, op, attrs: {
        body: readSubgraph(attrs.body, where, "body"), numCarry: readCount(attrs, "numCarry", where), numXs: readCount(attrs, "numXs", where),
        length: readCount(attrs, "length", where), reverse: attrs.reverse, saveCarries: readCount(attrs, "saveCarries", where),
        ...(unroll === undefined ? {} : { unroll: unroll as boolean | number }),
      },
    };
  } else if (op === "cond") {
    checkKeys(attrs, ["branches"], `${where} attrs`);
    const b = attrs.branches;
    if (!Array.isArray(b) || b.length !== 2) fail(`${where}: attrs.branches must be an array of two graphs`);
    node = { ...base, op, attrs: { branches: [readSubgraph(b[0], where, "branches[0]"), readSubgraph(b[1], where, "branches[1]")] } };
  } else {
    checkKeys(attrs, ["cond", "body", "numCarry"], `${where} attrs`);
    node = { ...base, op, attrs: { cond: readSubgraph(attrs.cond, where, "cond"), body: readSubgraph(attrs.body, where, "body"), numCarry: readCount(attrs, "numCarry", where) } };
  }
  if (base.dtype !== "float32" || base.shape.length !== 1 || base.shape[0] !== 0) fail(`${where}: a control-flow node's own value is f32[0], got ${typeText(base)}`);
  const problem = controlProblem(node, base.inputs.map((i) => earlier[i]));
  if (problem) fail(`${where}: ${problem}`);
  return node;
}

/** A `get` node: one control-flow input, an index among its results, and that result's type. */
function readGet(attrs: unknown, base: Omit<GraphNode, "op" | "attrs">, earlier: readonly GraphNode[], where: string): GraphNode {
  if (!isObject(attrs)) fail(`${where}: attrs must be an object, got ${show(attrs)}`);
  checkKeys(attrs, ["index"], `${where} attrs`);
  const index = readCount(attrs, "index", where);
  const from = base.inputs.length === 1 ? earlier[base.inputs[0]] : undefined;
  if (!from || !isControlNode(from)) fail(`${where}: takes exactly one input, a scan, cond or while node`);
  const results = resultMetas(from);
  if (index >= results.length) fail(`${where}: index ${index} but node ${from.id} (${from.op}) has ${results.length} result(s)`);
  if (!sameMeta(results[index], base)) fail(`${where}: declared ${typeText(base)} but result ${index} of node ${from.id} is ${typeText(results[index])}`);
  return { ...base, op: "get", attrs: { index } };
}
