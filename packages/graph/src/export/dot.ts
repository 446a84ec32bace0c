import { formatShape } from "@dualgrad/core";
import { DTYPE_SHORT, formatAttrs, formatNodeAttrs, valueName, type Graph, type GraphNode } from "../ir.js";

/**
 * Graphviz DOT export of the SSA IR (docs/ARCHITECTURE.md principle 5, "plans are data": every IR has a text
 * printer, a DOT/Mermaid export and JSON). The output is a pure function of the graph, so it can
 * be snapshot-tested and diffed between passes.
 */

/** The visual family of a node; both exporters style nodes by it. @internal */
export type NodeKind = "input" | "variable" | "constant" | "fused" | "op";

/** Which family `n` belongs to. @internal */
export function nodeKind(n: GraphNode): NodeKind {
  return n.op === "input" || n.op === "variable" || n.op === "constant" || n.op === "fused" ? n.op : "op";
}

function formatNumber(x: number): string {
  // String(-0) is "0"; keep the sign so a folded `-0` constant is visible.
  return Object.is(x, -0) ? "-0" : String(x);
}

/** Constants as in `printGraph`: a scalar bare, short arrays whole, long ones elided. */
function formatConstantValue(n: GraphNode): string {
  const v = n.value ?? [];
  if (v.length === 1 && n.shape.length === 0) return formatNumber(v[0]);
  return v.length <= 4 ? `[${v.map(formatNumber).join(",")}]` : `[${v.slice(0, 3).map(formatNumber).join(",")},…]`;
}

/**
 * The lines of a node's label, unescaped: `c = matmul[transA=false,transB=true]`, then the type
 * `f32[64,1]`, then (for fused kernels only) the kernel's little program, one op per line, since
 * the `add∘relu` summary hides how operands are wired. @internal
 */
export function nodeLabelLines(n: GraphNode): string[] {
  const name = valueName(n.id);
  let head: string;
  switch (n.op) {
    case "input":
    case "variable":
      head = `${name} = ${n.op}(${n.name ?? "?"})`;
      break;
    case "constant":
      head = `${name} = constant ${formatConstantValue(n)}`;
      break;
    default:
      head = `${name} = ${n.op}${formatNodeAttrs(n)}`;
  }
  const lines = [head, `${DTYPE_SHORT[n.dtype]}${formatShape(n.shape)}`];
  if (n.op === "fused") {
    n.attrs.ops.forEach((o, i) => {
      const args = o.operands.map((a) => (a.from === "const" ? formatNumber(a.value) : `${a.from}${a.index}`)).join(", ");
      lines.push(`op${i} = ${o.prim}${formatAttrs(o.attrs)}(${args})`);
    });
  }
  return lines;
}

/** Escapes text for a double-quoted DOT string: backslashes first (so `\n` we add stays ours), then quotes. */
function dotEscape(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r?\n/g, "\\n");
}

/** A quoted DOT string whose lines are joined with DOT's centred line break `\n`. */
function dotLabel(lines: readonly string[]): string {
  return `"${lines.map(dotEscape).join("\\n")}"`;
}

const STYLE: Record<NodeKind | "output" | "missing", string> = {
  input: 'shape=invhouse, style=filled, fillcolor="#dbeafe"',
  variable: 'shape=cylinder, style=filled, fillcolor="#fde68a"',
  constant: 'shape=note, style=filled, fillcolor="#e5e7eb"',
  fused: 'shape=box3d, style=filled, fillcolor="#fbcfe8"',
  op: 'shape=box, style="rounded,filled", fillcolor="#ffffff"',
  output: 'shape=doubleoctagon, style=filled, fillcolor="#bbf7d0"',
  missing: 'shape=cylinder, style=dashed',
};

/**
 * Renders `g` as a Graphviz `digraph`: one node per value (`n<id>`), labelled with its jaxpr-style
 * name, op, attributes and type; edges from each operand to its consumer (labelled with the operand
 * position when a node has several, because `sub`, `matmul` and `where` care about order); one
 * `out<i>` node per result; each update as a dashed edge from the new value to the variable,
 * labelled `:= name`. Output is deterministic: nodes, then data edges, outputs and updates, each in
 * graph order.
 *
 * @param options.title drawn above the graph (`label`), escaped like every other string.
 */
export function toDot(g: Graph, options: { title?: string } = {}): string {
  const out: string[] = ['digraph "dualgrad" {'];
  if (options.title !== undefined) out.push(`  label=${dotLabel([options.title])};`, '  labelloc="t";');
  out.push("  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];');
  out.push(...dotBody(g, "", "  "));

  updateTargets(g).forEach(({ id: targetId, missing }, i) => {
    const u = g.updates[i];
    if (missing) out.push(`  ${targetId} [label=${dotLabel([u.variable])}, ${STYLE.missing}];`);
    // constraint=false: the update is a back edge in time, and letting it rank the layout would
    // pull the variable to the bottom of the drawing.
    out.push(`  n${u.value} -> ${targetId} [label=${dotLabel([`:= ${u.variable}`])}, style=dashed, constraint=false];`);
  });

  out.push("}");
  return out.join("\n") + "\n";
}

/**
 * The nodes, data edges and outputs of `g`, node ids prefixed by `prefix` (empty at the top level);
 * each control-flow node's sub-graphs follow as clusters (`subgraph cluster_…`), linked to their
 * node by a dotted edge.
 */
function dotBody(g: Graph, prefix: string, indent: string): string[] {
  const out: string[] = [];
  const id = (n: number) => `${prefix}n${n}`;
  for (const n of g.nodes) out.push(`${indent}${id(n.id)} [label=${dotLabel(nodeLabelLines(n))}, ${STYLE[nodeKind(n)]}];`);
  for (const n of g.nodes) {
    n.inputs.forEach((src, pos) => {
      out.push(n.inputs.length > 1 ? `${indent}${id(src)} -> ${id(n.id)} [label="${pos}"];` : `${indent}${id(src)} -> ${id(n.id)};`);
    });
  }
  g.outputs.forEach((o, i) => {
    out.push(`${indent}${prefix}out${i} [label="out ${i}", ${STYLE.output}];`, `${indent}${id(o)} -> ${prefix}out${i};`);
  });
  for (const n of g.nodes) {
    subgraphLabels(n).forEach(([label, sub], k) => {
      const inner = `${id(n.id)}_${k}_`;
      out.push(`${indent}subgraph cluster_${inner} {`, `${indent}  label=${dotLabel([`${valueName(n.id)}: ${n.op} ${label}`])};`, `${indent}  style=dashed;`);
      out.push(...dotBody(sub, inner, `${indent}  `), `${indent}}`);
      if (sub.nodes.length > 0) out.push(`${indent}${id(n.id)} -> ${inner}n0 [style=dotted, arrowhead=none];`);
    });
  }
  return out;
}

/** A control-flow node's sub-graphs with their roles (`body`, `true`, `false`, `cond`), for both exporters. @internal */
export function subgraphLabels(n: GraphNode): [string, Graph][] {
  if (n.op === "scan") return [["body", n.attrs.body]];
  if (n.op === "cond") return [["true", n.attrs.branches[0]], ["false", n.attrs.branches[1]]];
  if (n.op === "while") return [["cond", n.attrs.cond], ["body", n.attrs.body]];
  return [];
}

/**
 * Where each update's arrow ends (in `g.updates` order): the node of the variable it assigns, or,
 * when the graph never reads that variable (a hand-made graph may update one anyway), a
 * placeholder `upd<i>` that the caller draws as a missing variable. Shared by the DOT and Mermaid
 * exports.
 */
export function updateTargets(g: Graph): { id: string; missing: boolean }[] {
  return g.updates.map((u, i) => {
    const target = g.nodes.find((n) => n.op === "variable" && n.name === u.variable);
    return target ? { id: `n${target.id}`, missing: false } : { id: `upd${i}`, missing: true };
  });
}
