import { valueName, type Graph } from "../ir.js";
import { nodeKind, nodeLabelLines, subgraphLabels, updateTargets, type NodeKind } from "./dot.js";

/**
 * Mermaid export of the SSA IR, for docs and PR descriptions that render Mermaid but not
 * Graphviz. It carries the same information as {@link toDot}: values, operand edges, outputs and
 * updates, with the same labels.
 */

/**
 * Escapes text for a Mermaid double-quoted label. Inside `"..."` Mermaid takes brackets, parens and
 * pipes literally, so only the characters that end the string (`"`) or that Mermaid/HTML decode
 * (`#` entity codes, `&`, `<`, `>`) need replacing; `#` goes first so the entities we add survive.
 * Pipes are escaped too because edge labels sit between `|...|`.
 */
function mermaidEscape(s: string): string {
  return s
    .replace(/#/g, "#35;")
    .replace(/"/g, "#quot;")
    .replace(/&/g, "#amp;")
    .replace(/</g, "#lt;")
    .replace(/>/g, "#gt;")
    .replace(/\|/g, "#124;")
    .replace(/\r?\n/g, "<br/>");
}

/** A quoted Mermaid label; lines are joined with `<br/>` (Mermaid's line break in HTML labels). */
function mermaidLabel(lines: readonly string[]): string {
  return `"${lines.map(mermaidEscape).join("<br/>")}"`;
}

/** Node shapes per kind, as [open, close] around the quoted label. */
const SHAPE: Record<NodeKind, [string, string]> = {
  input: ["[/", "/]"], // parallelogram: data flowing in
  variable: ["[(", ")]"], // cylinder: persistent storage
  constant: ["([", "])"], // stadium
  fused: ["[[", "]]"], // subroutine: a kernel holding several ops
  op: ["[", "]"],
};

const CLASSES = [
  "  classDef input fill:#dbeafe,stroke:#1d4ed8",
  "  classDef variable fill:#fde68a,stroke:#b45309",
  "  classDef constant fill:#e5e7eb,stroke:#4b5563",
  "  classDef fused fill:#fbcfe8,stroke:#be185d",
  "  classDef op fill:#ffffff,stroke:#374151",
  "  classDef output fill:#bbf7d0,stroke:#15803d",
  "  classDef missing fill:#ffffff,stroke:#b45309,stroke-dasharray:4 3",
];

/**
 * Renders `g` as a Mermaid `flowchart TD`: one node per value (`n<id>`, shape and class by kind),
 * operand edges (labelled with the operand position when a node has several inputs), one
 * double-circle `out<i>` node per result, and each update as a dotted edge `-.->|":= name"|` to
 * the variable. Every label is quoted and escaped, so names and attributes cannot break the
 * syntax. Deterministic: nodes, data edges, outputs, updates, each in graph order.
 */
export function toMermaid(g: Graph): string {
  const out: string[] = ["flowchart TD", ...CLASSES, ...mermaidBody(g, "", "  ")];

  updateTargets(g).forEach(({ id: targetId, missing }, i) => {
    const u = g.updates[i];
    if (missing) out.push(`  ${targetId}[(${mermaidLabel([u.variable])})]:::missing`);
    out.push(`  n${u.value} -.->|${mermaidLabel([`:= ${u.variable}`])}| ${targetId}`);
  });

  return out.join("\n") + "\n";
}

/**
 * The nodes, operand edges and outputs of `g`, ids prefixed by `prefix` (empty at the top level);
 * each control-flow node's sub-graphs follow as Mermaid `subgraph` blocks, linked to their node by
 * a dotted edge.
 */
function mermaidBody(g: Graph, prefix: string, indent: string): string[] {
  const out: string[] = [];
  const id = (n: number) => `${prefix}n${n}`;
  for (const n of g.nodes) {
    const kind = nodeKind(n);
    const [open, close] = SHAPE[kind];
    out.push(`${indent}${id(n.id)}${open}${mermaidLabel(nodeLabelLines(n))}${close}:::${kind}`);
  }
  for (const n of g.nodes) {
    n.inputs.forEach((src, pos) => {
      out.push(n.inputs.length > 1 ? `${indent}${id(src)} -->|"${pos}"| ${id(n.id)}` : `${indent}${id(src)} --> ${id(n.id)}`);
    });
  }
  g.outputs.forEach((o, i) => {
    out.push(`${indent}${prefix}out${i}((("out ${i}"))):::output`, `${indent}${id(o)} --> ${prefix}out${i}`);
  });
  for (const n of g.nodes) {
    subgraphLabels(n).forEach(([label, sub], k) => {
      const inner = `${id(n.id)}_${k}_`;
      out.push(`${indent}subgraph ${inner}[${mermaidLabel([`${valueName(n.id)}: ${n.op} ${label}`])}]`, ...mermaidBody(sub, inner, `${indent}  `), `${indent}end`);
      out.push(`${indent}${id(n.id)} -.- ${inner}`);
    });
  }
  return out;
}
