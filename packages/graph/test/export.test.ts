import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { DualgradError, FormatError } from "@dualgrad/core";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { GraphBuilder } from "../src/builder.js";
import { fromJSON, toDot, toJSON, toMermaid } from "../src/export/index.js";
import type { FusedAttrs, Graph } from "../src/ir.js";
import { Variable } from "../src/variable.js";

// Variables own allocator buffers and reserve their names process-wide; release them at the end.
// The module-level W lives for the file; variables a test makes are released after that test,
// so the shared leak check sees every test end where it started.
const made: Variable[] = [];
afterEach(() => made.splice(1).forEach((v) => v.dispose()));
afterAll(() => made.forEach((v) => v.dispose()));
function variable(shape: number[], name: string): Variable {
  const v = new Variable(shape, "float32", { name });
  made.push(v);
  return v;
}

// One variable for every copy of the small graph: a second `new Variable` named "w" would be renamed.
const W = variable([2, 3], "w");

/** x -> matmul(x, w^T) + 0.5 -> sum over axis 1 (output); w := w * 0.5 (update). */
function smallGraph(): Graph {
  const b = new GraphBuilder();
  const x = b.input("x", [4, 3], "float32");
  const wid = b.variable(W);
  const half = b.constant(0.5, "float32");
  const mm = b.emit("matmul", [x, wid], { transA: false, transB: true });
  const y = b.emit("add", [mm, half], {});
  const s = b.emit("sum", [y], { axes: [1], keepdims: false });
  b.graph.outputs.push(s);
  b.assign(W, b.emit("mul", [wid, half], {}));
  return b.graph;
}

const FUSED_ATTRS: FusedAttrs = {
  ops: [
    { prim: "add", attrs: {}, operands: [{ from: "in", index: 0 }, { from: "in", index: 1 }], dtype: "float32" },
    { prim: "relu", attrs: {}, operands: [{ from: "op", index: 0 }], dtype: "float32" },
  ],
};

/** relu(p + q) as one hand-made fused node. */
function fusedGraph(attrs: FusedAttrs = FUSED_ATTRS): Graph {
  const b = new GraphBuilder();
  const p = b.input("p", [2, 2], "float32");
  const q = b.input("q", [2, 2], "float32");
  const id = b.graph.nodes.length;
  b.graph.nodes.push({ id, op: "fused", inputs: [p, q], attrs, shape: [2, 2], dtype: "float32" });
  b.graph.outputs.push(id);
  return b.graph;
}

/**
 * Structural checks on DOT text without Graphviz: braces balance outside strings, every statement
 * is terminated, and every edge endpoint is a declared node.
 */
function checkDot(dot: string): void {
  const bare = dot.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  // Every quote and backslash must belong to a well-formed string.
  expect(bare.replace(/""/g, "")).not.toMatch(/["\\]/);
  let depth = 0;
  for (const ch of bare) {
    if (ch === "{") depth++;
    if (ch === "}") depth--;
    expect(depth).toBeGreaterThanOrEqual(0);
  }
  expect(depth).toBe(0);
  const lines = bare.trimEnd().split("\n");
  expect(lines[0]).toBe('digraph "" {');
  expect(lines.at(-1)).toBe("}");
  for (const l of lines.slice(1, -1)) expect(l).toMatch(/;$/);
  const declared = new Set([...bare.matchAll(/^ {2}(\w+) \[/gm)].map((m) => m[1]).filter((n) => n !== "node" && n !== "edge"));
  const edges = [...bare.matchAll(/^ {2}(\w+) -> (\w+)/gm)];
  expect(edges.length).toBeGreaterThan(0);
  for (const [, from, to] of edges) {
    expect(declared).toContain(from);
    expect(declared).toContain(to);
  }
}

/** The same for Mermaid: every label quoted (no stray quotes), every edge endpoint declared. */
function checkMermaid(text: string): void {
  const bare = text.replace(/"[^"]*"/g, '""');
  expect(bare.startsWith("flowchart TD\n")).toBe(true);
  const declared = new Set([...bare.matchAll(/^ {2}(\w+)[[(].*$/gm)].map((m) => m[1]));
  const edges = [...bare.matchAll(/^ {2}(\w+) -(?:->|\.->)(?:\|""\|)? (\w+)$/gm)];
  expect(edges.length).toBeGreaterThan(0);
  for (const [, from, to] of edges) {
    expect(declared).toContain(from);
    expect(declared).toContain(to);
  }
}

// Graphviz is optional (not a project dependency); when it is installed, it is the real judge.
const hasDot = existsSync("/usr/bin/dot");
function dotParses(dot: string): void {
  execFileSync("/usr/bin/dot", ["-Tsvg", "-o", "/dev/null"], { input: dot });
}

describe("toDot", () => {
  it("renders values, operand edges, outputs and updates", () => {
    const dot = toDot(smallGraph(), { title: 'small "graph"' });
    expect(dot).toBe(
      [
        'digraph "dualgrad" {',
        '  label="small \\"graph\\"";',
        '  labelloc="t";',
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
        '  n0 [label="a = input(x)\\nf32[4,3]", shape=invhouse, style=filled, fillcolor="#dbeafe"];',
        '  n1 [label="b = variable(w)\\nf32[2,3]", shape=cylinder, style=filled, fillcolor="#fde68a"];',
        '  n2 [label="c = constant 0.5\\nf32[]", shape=note, style=filled, fillcolor="#e5e7eb"];',
        '  n3 [label="d = matmul[transA=false,transB=true]\\nf32[4,2]", shape=box, style="rounded,filled", fillcolor="#ffffff"];',
        '  n4 [label="e = add\\nf32[4,2]", shape=box, style="rounded,filled", fillcolor="#ffffff"];',
        '  n5 [label="f = sum[axes=(1),keepdims=false]\\nf32[4]", shape=box, style="rounded,filled", fillcolor="#ffffff"];',
        '  n6 [label="g = mul\\nf32[2,3]", shape=box, style="rounded,filled", fillcolor="#ffffff"];',
        '  n0 -> n3 [label="0"];',
        '  n1 -> n3 [label="1"];',
        '  n3 -> n4 [label="0"];',
        '  n2 -> n4 [label="1"];',
        "  n4 -> n5;",
        '  n1 -> n6 [label="0"];',
        '  n2 -> n6 [label="1"];',
        '  out0 [label="out 0", shape=doubleoctagon, style=filled, fillcolor="#bbf7d0"];',
        "  n5 -> out0;",
        '  n6 -> n1 [label=":= w", style=dashed, constraint=false];',
        "}",
        "",
      ].join("\n"),
    );
    checkDot(dot);
  });

  it("draws a fused kernel with its program", () => {
    const dot = toDot(fusedGraph());
    expect(dot).toContain(
      '  n2 [label="c = fused[add∘relu]\\nf32[2,2]\\nop0 = add(in0, in1)\\nop1 = relu(op0)", shape=box3d, style=filled, fillcolor="#fbcfe8"];',
    );
    expect(dot).toContain('  n0 -> n2 [label="0"];\n  n1 -> n2 [label="1"];\n');
    expect(dot).not.toContain("label=\"dualgrad\"");
    checkDot(dot);
  });

  it("escapes quotes, backslashes and newlines in names and titles", () => {
    const b = new GraphBuilder();
    const x = b.input('x"\\n[|]#<b>', [2], "float32");
    const v = b.variable(variable([2], 'v"q\\'));
    b.graph.outputs.push(b.emit("add", [x, v], {}));
    const dot = toDot(b.graph, { title: "two\nlines" });
    expect(dot).toContain('label="a = input(x\\"\\\\n[|]#<b>)\\nf32[2]"');
    expect(dot).toContain('label="b = variable(v\\"q\\\\)\\nf32[2]"');
    expect(dot).toContain('label="two\\nlines"');
    checkDot(dot);
    if (hasDot) dotParses(dot);
  });

  it("draws an update to a variable the graph never reads", () => {
    const b = new GraphBuilder();
    const x = b.input("x", [2], "float32");
    b.graph.updates.push({ variable: "ghost", value: x });
    const dot = toDot(b.graph);
    expect(dot).toContain('  upd0 [label="ghost", shape=cylinder, style=dashed];\n  n0 -> upd0 [label=":= ghost", style=dashed, constraint=false];\n');
    checkDot(dot);
    const text = toMermaid(b.graph);
    expect(text).toContain('  upd0[("ghost")]:::missing\n  n0 -.->|":= ghost"| upd0\n');
    checkMermaid(text);
  });

  it("is deterministic", () => {
    expect(toDot(smallGraph())).toBe(toDot(smallGraph()));
  });

  it.skipIf(!hasDot)("is accepted by Graphviz", () => {
    dotParses(toDot(smallGraph(), { title: 'a "title" \\ with a backslash' }));
    dotParses(toDot(fusedGraph()));
  });
});

describe("toMermaid", () => {
  it("renders a flowchart with the same information", () => {
    const text = toMermaid(smallGraph());
    expect(text.startsWith("flowchart TD\n")).toBe(true);
    expect(text).toBe(
      [
        "flowchart TD",
        "  classDef input fill:#dbeafe,stroke:#1d4ed8",
        "  classDef variable fill:#fde68a,stroke:#b45309",
        "  classDef constant fill:#e5e7eb,stroke:#4b5563",
        "  classDef fused fill:#fbcfe8,stroke:#be185d",
        "  classDef op fill:#ffffff,stroke:#374151",
        "  classDef output fill:#bbf7d0,stroke:#15803d",
        "  classDef missing fill:#ffffff,stroke:#b45309,stroke-dasharray:4 3",
        '  n0[/"a = input(x)<br/>f32[4,3]"/]:::input',
        '  n1[("b = variable(w)<br/>f32[2,3]")]:::variable',
        '  n2(["c = constant 0.5<br/>f32[]"]):::constant',
        '  n3["d = matmul[transA=false,transB=true]<br/>f32[4,2]"]:::op',
        '  n4["e = add<br/>f32[4,2]"]:::op',
        '  n5["f = sum[axes=(1),keepdims=false]<br/>f32[4]"]:::op',
        '  n6["g = mul<br/>f32[2,3]"]:::op',
        '  n0 -->|"0"| n3',
        '  n1 -->|"1"| n3',
        '  n3 -->|"0"| n4',
        '  n2 -->|"1"| n4',
        "  n4 --> n5",
        '  n1 -->|"0"| n6',
        '  n2 -->|"1"| n6',
        '  out0((("out 0"))):::output',
        "  n5 --> out0",
        '  n6 -.->|":= w"| n1',
        "",
      ].join("\n"),
    );
    checkMermaid(text);
  });

  it("draws a fused kernel as a subroutine node", () => {
    const text = toMermaid(fusedGraph());
    expect(text).toContain('  n2[["c = fused[add∘relu]<br/>f32[2,2]<br/>op0 = add(in0, in1)<br/>op1 = relu(op0)"]]:::fused');
    checkMermaid(text);
  });

  it("escapes quotes, pipes, entities and HTML in labels", () => {
    const b = new GraphBuilder();
    const x = b.input('x"|#<b>&', [2], "float32");
    const v = variable([2], 'u"p|');
    b.variable(v);
    b.assign(v, b.emit("neg", [x], {}));
    const text = toMermaid(b.graph);
    expect(text).toContain('  n0[/"a = input(x#quot;#124;#35;#lt;b#gt;#amp;)<br/>f32[2]"/]:::input');
    expect(text).toContain('  n2 -.->|":= u#quot;p#124;"| n1');
    checkMermaid(text);
  });
});

describe("toJSON / fromJSON", () => {
  it("writes versioned, one-node-per-line JSON", () => {
    const text = toJSON(smallGraph());
    const doc = JSON.parse(text);
    expect(doc.format).toBe("dualgrad-graph");
    expect(doc.version).toBe(1);
    expect(text).toContain('\n      {"id":3,"op":"matmul","inputs":[0,1],"attrs":{"transA":false,"transB":true},"shape":[4,2],"dtype":"float32"},\n');
    expect(text).toContain('"updates": [\n      {"variable":"w","value":6}\n    ]');
  });

  it("round-trips the small graph and the fused graph exactly", () => {
    for (const g of [smallGraph(), fusedGraph()]) {
      const back = fromJSON(toJSON(g));
      expect(back).toStrictEqual(g);
      expect(toJSON(back)).toBe(toJSON(g));
    }
  });

  it("round-trips non-finite numbers and -0 in constants and fused const operands", () => {
    const b = new GraphBuilder();
    const x = b.input("x", [2, 3], "float32");
    const c = b.constantArray([NaN, Infinity, -Infinity, -0, 1.5, 0], [2, 3], "float32");
    const s = b.emit("add", [x, c], {});
    b.graph.outputs.push(s, b.constant(-Infinity, "float64"));
    const text = toJSON(b.graph);
    expect(text).toContain('"value":["NaN","Infinity","-Infinity","-0",1.5,0]');
    const back = fromJSON(text);
    expect(back).toStrictEqual(b.graph);
    expect(Object.is(back.nodes[1].value![3], -0)).toBe(true);
    expect(back.nodes[3].value).toEqual([-Infinity]);

    const attrs: FusedAttrs = {
      ops: [
        ...FUSED_ATTRS.ops,
        { prim: "maximum", attrs: {}, operands: [{ from: "op", index: 1 }, { from: "const", value: -Infinity }], dtype: "float32" },
        { prim: "where", attrs: {}, operands: [{ from: "in", index: 0 }, { from: "op", index: 2 }, { from: "const", value: NaN }], dtype: "float32" },
      ],
    };
    const g = fusedGraph(attrs);
    const fusedText = toJSON(g);
    expect(fusedText).toContain('{"from":"const","value":"-Infinity"}');
    expect(fromJSON(fusedText)).toStrictEqual(g);
  });

  it("refuses to write attributes JSON cannot hold", () => {
    const b = new GraphBuilder();
    b.graph.outputs.push(b.emit("pow", [b.input("x", [2], "float32")], { exponent: Infinity }));
    expect(() => toJSON(b.graph)).toThrow(DualgradError);
    expect(() => toJSON(b.graph)).toThrow(/graph JSON: node 1 \(pow\): attribute exponent is Infinity/);
  });

  it("round-trips a traced, optimised and fused training step", async () => {
    // The real pipeline's graphs are the ones that get saved; the strict reader must accept them all.
    const G = await import("../src/index.js");
    const l1 = new G.Linear(3, 4, { name: "export.l1" });
    const l2 = new G.Linear(4, 2, { name: "export.l2" });
    const opt = new G.Adam({ lr: 0.01 });
    try {
      const step = (x: InstanceType<typeof G.SymbolicTensor>, y: InstanceType<typeof G.SymbolicTensor>) => {
        const logits = G.linear(G.linear(x, l1.weight, l1.bias).relu(), l2.weight, l2.bias);
        const loss = G.crossEntropy(logits, y);
        opt.minimize(loss, [l1.weight, l1.bias!, l2.weight, l2.bias!]);
        return loss;
      };
      const args = [G.tensor([1, 2, 3, 4, 5, 6], [2, 3]), G.tensor([0, 1], [2], "int32")];
      const { graph, variables } = G.traceGraph(step as never, args);
      for (const v of opt.variables()) variables.set(v.name, v);
      const { traced, optimized, fused, compiled } = G.lowerGraph(graph, variables);
      compiled.dispose();
      expect(fused.nodes.some((n) => n.op === "fused")).toBe(true);
      for (const g of [traced, optimized, fused]) {
        expect(fromJSON(toJSON(g))).toStrictEqual(g);
        checkDot(toDot(g));
        checkMermaid(toMermaid(g));
        if (hasDot) dotParses(toDot(g));
      }
    } finally {
      for (const v of [l1.weight, l1.bias!, l2.weight, l2.bias!]) v.dispose();
      opt.dispose();
    }
  });

  // Each case edits the small graph's JSON document and names the error it must produce.
  type Doc = { format: unknown; version: unknown; graph: { nodes: Record<string, unknown>[]; inputs: unknown; outputs: unknown; updates: unknown } };
  const bad: [string, (d: Doc) => void, RegExp][] = [
    ["wrong version", (d) => (d.version = 2), /^graph JSON: unsupported version 2 \(this reader understands version 1\)$/],
    ["wrong format tag", (d) => (d.format = "onnx"), /^graph JSON: format is "onnx", expected "dualgrad-graph"$/],
    ["forward reference", (d) => (d.graph.nodes[3].inputs = [0, 5]), /^graph JSON: node 3 \(matmul\): input 1 refers to node 5, which is not an earlier node/],
    ["self reference", (d) => (d.graph.nodes[4].inputs = [4, 2]), /^graph JSON: node 4 \(add\): input 0 refers to node 4/],
    ["unknown op", (d) => (d.graph.nodes[4].op = "frobnicate"), /^graph JSON: node 4: unknown op "frobnicate"/],
    ["id out of place", (d) => (d.graph.nodes[2].id = 7), /^graph JSON: node 2 \(constant\): id is 7 but the node is at index 2/],
    ["negative dimension", (d) => (d.graph.nodes[0].shape = [4, -3]), /^graph JSON: node 0 \(input x\): shape must be an array of non-negative integers, got \[4,-3\]$/],
    ["fractional dimension", (d) => (d.graph.nodes[0].shape = [4, 1.5]), /^graph JSON: node 0 \(input x\): shape must be/],
    ["bad dtype", (d) => (d.graph.nodes[1].dtype = "float16"), /^graph JSON: node 1 \(variable w\): unknown dtype "float16"/],
    ["constant length mismatch", (d) => (d.graph.nodes[2].value = [0.5, 1]), /^graph JSON: node 2 \(constant\): value has 2 element\(s\) but shape \[\] needs 1$/],
    ["constant without value", (d) => delete d.graph.nodes[2].value, /^graph JSON: node 2 \(constant\): needs a value array/],
    ["constant with a bad special", (d) => (d.graph.nodes[2].value = ["nan"]), /^graph JSON: node 2 \(constant\): value\[0\] must be a number or one of "NaN"/],
    ["output out of range", (d) => (d.graph.outputs = [5, 99]), /^graph JSON: graph\.outputs\[1\] = 99 does not name a node \(the graph has 7 node\(s\)\)$/],
    ["input not listed", (d) => (d.graph.inputs = []), /^graph JSON: node 0 \(input x\) is not listed in graph\.inputs$/],
    ["inputs naming a non-input", (d) => (d.graph.inputs = [0, 3]), /^graph JSON: graph\.inputs\[1\] = 3 names node 3 \(matmul\), not an input node$/],
    ["mistyped attribute", (d) => (d.graph.nodes[3].attrs = { transA: false, transB: "yes" }), /^graph JSON: node 3 \(matmul\): attribute transB must be a boolean, got "yes"$/],
    ["missing attribute", (d) => (d.graph.nodes[5].attrs = { axes: [1] }), /^graph JSON: node 5 \(sum\): missing attribute keepdims/],
    ["unknown attribute", (d) => (d.graph.nodes[4].attrs = { alpha: 2 }), /^graph JSON: node 4 \(add\): unknown attribute "alpha" for add$/],
    ["wrong arity", (d) => (d.graph.nodes[4].inputs = [3]), /^graph JSON: node 4 \(add\): expected 2 input\(s\), got 1$/],
    ["declared shape disagrees with inference", (d) => (d.graph.nodes[3].shape = [4, 3]), /^graph JSON: node 3 \(matmul\): declared f32\[4,3\] but its inputs give f32\[4,2\]$/],
    ["inputs that do not fit", (d) => (d.graph.nodes[3].attrs = { transA: false, transB: false }), /^graph JSON: node 3 \(matmul\): its inputs do not fit: matmul/],
    ["unknown node field", (d) => (d.graph.nodes[4].comment = "hi"), /^graph JSON: node 4 \(add\): unknown field "comment"$/],
    ["update of an unknown variable", (d) => (d.graph.updates = [{ variable: "nope", value: 6 }]), /^graph JSON: graph\.updates\[0\]: no variable node is named "nope"$/],
    ["update of the wrong type", (d) => (d.graph.updates = [{ variable: "w", value: 5 }]), /^graph JSON: graph\.updates\[0\]: node 5 is f32\[4\] but variable w is f32\[2,3\]$/],
    ["update value out of range", (d) => (d.graph.updates = [{ variable: "w", value: -1 }]), /^graph JSON: graph\.updates\[0\]\.value = -1 does not name a node/],
    ["nodes not an array", (d) => (d.graph.nodes = {} as never), /^graph JSON: graph\.nodes must be an array, got \{\}$/],
  ];

  it.each(bad)("rejects %s", (_, edit, message) => {
    const doc = JSON.parse(toJSON(smallGraph())) as Doc;
    edit(doc);
    const text = JSON.stringify(doc);
    expect(() => fromJSON(text)).toThrow(FormatError);
    expect(() => fromJSON(text)).toThrow(message);
  });

  const badFused: [string, (ops: Record<string, unknown>[]) => void, RegExp][] = [
    ["operand out of range", (ops) => (ops[0].operands = [{ from: "in", index: 0 }, { from: "in", index: 2 }]), /^graph JSON: node 2 \(fused\) ops\[0\] \(add\) operand 1: in2 is out of range \(the node has 2 input\(s\)\)$/],
    ["forward op reference", (ops) => (ops[0].operands = [{ from: "op", index: 1 }, { from: "in", index: 1 }]), /^graph JSON: node 2 \(fused\) ops\[0\] \(add\) operand 0: op1 is not an earlier op of the kernel$/],
    ["non-elementwise prim", (ops) => (ops[1].prim = "matmul"), /^graph JSON: node 2 \(fused\) ops\[1\]: matmul is not elementwise and cannot be fused$/],
    ["unknown prim", (ops) => (ops[1].prim = "gelu"), /^graph JSON: node 2 \(fused\) ops\[1\]: unknown primitive "gelu"$/],
    ["last dtype differs from the node", (ops) => (ops[1].dtype = "float64"), /^graph JSON: node 2 \(fused\): the kernel's last op gives float64 but the node is float32$/],
    ["bad operand kind", (ops) => (ops[1].operands = [{ from: "out", index: 0 }]), /^graph JSON: node 2 \(fused\) ops\[1\] \(relu\) operand 0: from must be "in", "op" or "const"/],
  ];

  it.each(badFused)("rejects a fused kernel with %s", (_, edit, message) => {
    const doc = JSON.parse(toJSON(fusedGraph())) as Doc;
    edit((doc.graph.nodes[2].attrs as { ops: Record<string, unknown>[] }).ops);
    const text = JSON.stringify(doc);
    expect(() => fromJSON(text)).toThrow(FormatError);
    expect(() => fromJSON(text)).toThrow(message);
  });

  it.each([
    ["non-JSON text", "{ not json", /^graph JSON: not valid JSON: /],
    ["empty text", "", /^graph JSON: not valid JSON: /],
    ["a top-level array", "[]", /^graph JSON: expected an object at the top level, got \[\]$/],
    ["a missing graph", '{"format":"dualgrad-graph","version":1}', /^graph JSON: graph must be an object, got nothing$/],
  ])("rejects %s", (_, text, message) => {
    expect(() => fromJSON(text)).toThrow(FormatError);
    expect(() => fromJSON(text)).toThrow(message);
  });
});
