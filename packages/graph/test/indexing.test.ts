import { describe, expect, it } from "vitest";
import { allocator } from "@dualgrad/core";
import { i32, keep, values } from "./disposal.js";
import {
  Variable, concat, fn, fromJSON, gather, gradients, printGraph, split, stack, takeAlongAxis, tensor, toDot, toJSON, toMermaid,
  trace, type HostTensor, type SymbolicTensor,
} from "../src/index.js";
import { GraphBuilder } from "../src/builder.js";
import { constantFolding } from "../src/passes/constant-folding.js";
import { commonSubexpressionElimination } from "../src/passes/cse.js";
import { deadCodeElimination } from "../src/passes/dce.js";
import { planMemory } from "../src/plan.js";

/**
 * The indexing and joining ops (TensorFlow names) traced, compiled and run; the passes on their
 * multi-input nodes; and the JSON/DOT/Mermaid exporters.
 */

describe("indexing and joining (graph)", () => {
  it("gather of a Variable (an embedding lookup) and its gradient, in one compiled step", () => {
    const table = keep(new Variable([3, 2], "float64", { init: [1, 2, 3, 4, 5, 6] }));
    const f = keep(fn((ids: SymbolicTensor) => {
      const rows = gather(table, ids);
      return [rows, ...gradients(rows.sum(), [table])];
    }));
    const [rows, grad] = f(i32([2, 0, 2])) as HostTensor[];
    expect(values(rows)).toEqual([5, 6, 1, 2, 5, 6]);
    expect(values(grad)).toEqual([1, 1, 0, 0, 2, 2]);
    expect(values((f as unknown as (x: HostTensor) => HostTensor[])(i32([1]))[0])).toEqual([3, 4]);
  });

  it("a compiled step with gather, take_along_axis, concat and their gradients allocates nothing per call", () => {
    const table = keep(new Variable([5, 3], "float32", { init: Array.from({ length: 15 }, (_, k) => k / 7) }));
    const f = keep(fn((ids: SymbolicTensor, x: SymbolicTensor) => {
      const rows = gather(table, ids); // [4,3]
      const top = takeAlongAxis(x, x.argmax({ axis: 1, keepdims: true }), 1); // [4,1]
      const loss = concat([rows, top, rows], 1).tanh().sum();
      return [loss, ...gradients(loss, [table, x])];
    }));
    const ids = i32([4, 0, 4, 2]);
    const x = tensor(new Float32Array([1, 5, 2, 7, 3, 0, 2, 2, 9, 1, 1, 8]), [4, 3]);
    f(ids, x); // traces and compiles
    const before = allocator.stats().allocations;
    for (let k = 0; k < 3; k++) f(ids, x);
    expect(allocator.stats().allocations - before).toBe(0);
  });

  it("an out-of-range index fails when the compiled step runs, naming op, index and axis size; the step still works after", () => {
    const f = keep(fn((x: SymbolicTensor, ids: SymbolicTensor) => gather(x, ids, { axis: 1 }).mul(2)));
    const x = tensor(new Float32Array([1, 2, 3, 4]), [2, 2]);
    expect(() => f(x, i32([1, 2]))).toThrow("gather: index 2 (at position 1 of the indices) is out of range for axis 1 of size 2");
    expect(() => f(x, i32([-3, 0]))).toThrow(/gather: index -3 .* axis 1 of size 2/);
    expect(values(f(x, i32([1, 0])) as HostTensor)).toEqual([4, 2, 8, 6]);
    // Constant indices out of range are not folded away: the error stays a run-time one.
    const g = keep(fn((y: SymbolicTensor) => takeAlongAxis(y, concat([y.argmax({ axis: 1, keepdims: true }), y.argmax({ axis: 1, keepdims: true }).add(5)], 1), 1)));
    expect(() => g(x)).toThrow(/take_along_axis: index 6 .* axis 1 of size 2/);
  });

  it("concat, stack and split (TensorFlow semantics) with gradients", () => {
    const f = keep(fn((a: SymbolicTensor, b: SymbolicTensor) => {
      const c = concat([a, b, a], 1);
      const s = stack([a, b], 0);
      const [p, q] = split(c, [1, -1], 1);
      const loss = p.sum().add(q.mul(3).sum()).add(s.mul(10).sum());
      return [c, s, p, q, ...gradients(loss, [a, b])];
    }));
    const a = tensor(new Float64Array([1, 2]), [2, 1]);
    const b = tensor(new Float64Array([3, 4]), [2, 1]);
    const [c, s, p, q, ga, gb] = f(a, b) as HostTensor[];
    expect(c.shape).toEqual([2, 3]);
    expect(values(c)).toEqual([1, 3, 1, 2, 4, 2]);
    expect(s.shape).toEqual([2, 2, 1]);
    expect(values(s)).toEqual([1, 2, 3, 4]);
    expect(values(p)).toEqual([1, 2]);
    expect(values(q)).toEqual([3, 1, 4, 2]);
    expect(values(ga)).toEqual([1 + 3 + 10, 1 + 3 + 10]);
    expect(values(gb)).toEqual([13, 13]);
    const g = keep(fn((x: SymbolicTensor) => split(x, 3)));
    expect((g(tensor(new Float32Array(6))) as HostTensor[]).map((t) => t.shape)).toEqual([[2], [2], [2]]);
    expect(() => keep(fn((x: SymbolicTensor) => split(x, 4)))(tensor(new Float32Array(6)))).toThrow("split: cannot split an axis of size 6 into 4 equal pieces");
  });

  it("passes handle the variadic node: CSE merges equal concats, DCE drops unused ones, no in-place reuse", () => {
    const g = trace((a: SymbolicTensor, b: SymbolicTensor) => {
      concat([b, a], 0); // dead
      return concat([a, b, a], 0).add(concat([a, b, a], 0)).add(concat([a, a, b], 0));
    }, [{ shape: [2], dtype: "float32" }, { shape: [3], dtype: "float32" }]);
    expect(g.nodes.filter((n) => n.op === "concat")).toHaveLength(4);
    const merged = deadCodeElimination(commonSubexpressionElimination(g));
    // Equal operand lists merge; the same operands in another order do not.
    expect(merged.nodes.filter((n) => n.op === "concat").map((n) => n.inputs)).toEqual([[0, 1, 0], [0, 0, 1]]);
    const plan = planMemory(merged);
    const concatRuns = plan.steps.filter((s) => s.kind === "run" && merged.nodes[s.node].op === "concat");
    expect(concatRuns).toHaveLength(2);
    expect(concatRuns.every((s) => s.kind === "run" && s.inPlaceOf === undefined)).toBe(true);
  });

  it("constant folding evaluates a concat of constants with core's kernel, and leaves out-of-range gathers to run time", () => {
    const b = new GraphBuilder();
    const c1 = b.constantArray([1, 2], [2], "float32");
    const c2 = b.constantArray([3], [1], "float32");
    const idx = b.constantArray([0, 9], [2], "int32");
    const cat = b.emit("concat", [c1, c2, c1], { axis: 0 });
    b.graph.outputs.push(cat, b.emit("gather", [cat, idx], { axis: 0 }));
    const folded = constantFolding(b.graph);
    expect(folded.nodes[folded.outputs[0]]).toMatchObject({ op: "constant", value: [1, 2, 3, 1, 2] });
    expect(folded.nodes[folded.outputs[1]].op).toBe("gather");
  });

  it("JSON round trip, DOT and Mermaid keep every input of a three-input concat in order", () => {
    const g = trace((a: SymbolicTensor, b: SymbolicTensor, i: SymbolicTensor) => gather(concat([a, b, a], 0), i), [
      { shape: [2, 2], dtype: "float32" }, { shape: [1, 2], dtype: "float32" }, { shape: [3], dtype: "int32" },
    ]);
    const back = fromJSON(toJSON(g));
    expect(printGraph(back)).toBe(printGraph(g));
    const cat = g.nodes.find((n) => n.op === "concat")!;
    expect(cat.inputs).toHaveLength(3);
    const dot = toDot(g);
    cat.inputs.forEach((src, k) => {
      expect(dot).toContain(`n${src} -> n${cat.id} [label="${k}"]`);
      expect(toMermaid(g)).toContain(`n${src} -->|"${k}"| n${cat.id}`);
    });
    // A variadic node with no inputs is rejected by the reader with the arity message.
    const json = JSON.parse(toJSON(g));
    json.graph.nodes.find((n: { op: string }) => n.op === "concat").inputs = [];
    expect(() => fromJSON(JSON.stringify(json))).toThrow(/concat.*expected at least 1 input, got 0/);
  });
});
