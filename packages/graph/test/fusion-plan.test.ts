import { describe, expect, it } from "vitest";
import {
  GraphBuilder, HostTensor, SymbolicTensor, Variable, compile, elementwiseFusion, fn, fusedKernelCount, fusedSource, planMemory, printGraph, printPlan, scheduleUpdates, tensor,
} from "../src/index.js";

function mlpLayerGraph() {
  const b = new GraphBuilder();
  const x = b.input("x", [4, 3], "float32");
  const w = b.input("w", [5, 3], "float32");
  const bias = b.input("b", [5], "float32");
  const y = b.emit("matmul", [x, w], { transA: false, transB: true });
  const z = b.emit("add", [y, bias], {});
  const r = b.emit("relu", [z], {});
  const two = b.constant(2, "float32");
  const s = b.emit("mul", [r, two], {});
  b.graph.outputs.push(s);
  return b.graph;
}

describe("elementwise fusion", () => {
  it("bias-add, relu and a scale become one kernel, the constant inlined", () => {
    const g = mlpLayerGraph();
    expect(printGraph(g)).toBe(
      [
        "{ lambda a:f32[4,3] b:f32[5,3] c:f32[5] .",
        "  let d:f32[4,5] = matmul[transA=false,transB=true] a b",
        "      e:f32[4,5] = add d c",
        "      f:f32[4,5] = relu e",
        "      g:f32[] = 2",
        "      h:f32[4,5] = mul f g",
        "  in (h) }",
      ].join("\n"),
    );
    const fused = elementwiseFusion(g);
    expect(printGraph(fused)).toBe(
      [
        "{ lambda a:f32[4,3] b:f32[5,3] c:f32[5] .",
        "  let d:f32[4,5] = matmul[transA=false,transB=true] a b",
        "      e:f32[] = 2",
        "      f:f32[4,5] = fused[add∘relu∘mul] d c",
        "  in (f) }",
      ].join("\n"),
    );
    expect(fusedKernelCount(fused)).toBe(1);
    const src = fusedSource(fused.nodes[5].attrs as never);
    expect(src.prelude).toBe("const t0 = Math.fround(x0 + x1); const t1 = Math.fround((t0 < 0 ? 0 : t0));");
    expect(src.expr).toBe("Math.fround(t1 * (2))");
  });

  it("a value read twice is not fused into either reader", () => {
    const b = new GraphBuilder();
    const x = b.input("x", [3], "float32");
    const e = b.emit("exp", [x], {});
    const p = b.emit("add", [e, e], {});
    const q = b.emit("mul", [p, e], {});
    b.graph.outputs.push(q);
    const fused = elementwiseFusion(b.graph);
    expect(printGraph(fused)).toContain("b:f32[3] = exp a");
    expect(printGraph(fused)).toContain("c:f32[3] = fused[add∘mul] b");
  });

  it("fused kernels give bitwise the results of the unfused ops (float32)", () => {
    const g = mlpLayerGraph();
    const data = (n: number, s: number) => new HostTensor([n], "float32", Float32Array.from({ length: n }, (_, i) => Math.sin(i * s) * 3));
    const x = new HostTensor([4, 3], "float32", data(12, 1.3).data);
    const w = new HostTensor([5, 3], "float32", data(15, 0.7).data);
    const bias = data(5, 2.1);
    const plain = compile(g, new Map());
    const fusedC = compile(elementwiseFusion(g), new Map());
    expect(Array.from(fusedC.run([x, w, bias])[0].data)).toEqual(Array.from(plain.run([x, w, bias])[0].data));
    plain.dispose();
    fusedC.dispose();
  });
});

describe("update scheduling and updates into variables", () => {
  it("moves an update to just after its last input and the last read of its variable, and writes it into the variable", () => {
    const w1 = new Variable([4], "float32", { name: "sched_w1", init: [1, 2, 3, 4] });
    const w2 = new Variable([4], "float32", { name: "sched_w2", init: [5, 6, 7, 8] });
    const b = new GraphBuilder();
    const x = b.input("x", [4], "float32");
    const r1 = b.variable(w1);
    const r2 = b.variable(w2);
    const g1 = b.emit("mul", [x, r1], {}); // "gradient" of w1, ready early
    const g2 = b.emit("mul", [g1, r2], {}); // w2's, later
    const out = b.emit("sum", [g2], { axes: null, keepdims: false });
    b.graph.outputs.push(out);
    b.assign(w2, b.emit("sub", [r2, g2], {}));
    b.assign(w1, b.emit("sub", [r1, g1], {}));
    const before = printGraph(b.graph);
    const after = printGraph(scheduleUpdates(b.graph));
    expect(before).toContain("f:f32[] = sum[axes=None,keepdims=false] e");
    // Each update runs as soon as its gradient exists and its variable's old value has been read
    // for the last time: w1's right after g1 (before g2), w2's right after g2 (before the sum).
    expect(after).toBe(
      [
        "{ lambda a:f32[4] ; b:f32[4](sched_w1) c:f32[4](sched_w2) .",
        "  let d:f32[4] = mul a b",
        "      e:f32[4] = sub b d",
        "      f:f32[4] = mul d c",
        "      g:f32[4] = sub c f",
        "      h:f32[] = sum[axes=None,keepdims=false] f",
        "  in (h) ; sched_w2 := g, sched_w1 := e }",
      ].join("\n"),
    );
    const c = compile(scheduleUpdates(b.graph), new Map([[w1.name, w1], [w2.name, w2]]));
    expect(c.plan.intoVariable.size).toBe(2);
    expect(c.printPlan()).toContain("(into variable sched_w1)");
    expect(c.run([tensor([1, 1, 1, 1])])[0].item()).toBe(1 * 5 + 2 * 6 + 3 * 7 + 4 * 8);
    expect(Array.from(w1.data)).toEqual([0, 0, 0, 0]); // w1 - x*w1
    expect(Array.from(w2.data)).toEqual([0, -6, -14, -24]); // w2 - x*w1*w2
    c.dispose();
    w1.dispose();
    w2.dispose();
  });
  it("copies an input that shares memory with a variable the call writes, so the input keeps its old values", () => {
    const w = new Variable([4], "float32", { name: "alias_w", init: [1, 2, 3, 4] });
    const b = new GraphBuilder();
    const x = b.input("x", [4], "float32");
    const r = b.variable(w);
    const g = b.emit("mul", [x, r], {});
    const out = b.emit("sum", [b.emit("mul", [x, g], {})], { axes: null, keepdims: false });
    b.graph.outputs.push(out);
    b.assign(w, b.emit("sub", [r, g], {}));
    const c = compile(scheduleUpdates(b.graph), new Map([[w.name, w]]));
    expect(c.plan.intoVariable.size).toBe(1); // w is written while x is still to be read
    // x is w's own buffer: x*g must read the old w, [1,2,3,4], not the update.
    expect(c.run([w])[0].item()).toBe(1 * 1 + 2 * 4 + 3 * 9 + 4 * 16);
    expect(Array.from(w.data)).toEqual([0, -2, -6, -12]);
    c.dispose();
    w.dispose();
  });
});

describe("memory planning", () => {
  it("knows its peak before running, reuses memory and runs elementwise ops in place", () => {
    const b = new GraphBuilder();
    const x = b.input("x", [256], "float32");
    let h = x;
    for (let i = 0; i < 6; i++) h = b.emit(i % 2 ? "tanh" : "exp", [h], {});
    b.graph.outputs.push(h);
    const inPlace = planMemory(b.graph);
    const noReuse = planMemory(b.graph, { inPlace: false });
    // The input is read where the caller keeps it and never written: the first op gets a slot,
    // which the other five overwrite in turn.
    expect(inPlace.arenaBytes).toBe(1024);
    expect(inPlace.inPlaceCount).toBe(5);
    expect(noReuse.arenaBytes).toBe(2048); // ping-pong between two slots
    expect(noReuse.unplannedBytes).toBe(6 * 1024);
    expect(printPlan(b.graph, inPlace).split("\n").slice(0, 4)).toEqual([
      "plan: arena 1024 bytes (without reuse 6144), 5 in place",
      "  alloc b @0 +1024",
      "  run   b = exp a",
      "  run   c = tanh b  (in place of b)",
    ]);
    const c1 = compile(b.graph, new Map());
    const c2 = compile(b.graph, new Map(), { inPlace: false });
    const input = tensor(Float32Array.from({ length: 256 }, (_, i) => i / 256));
    const before = Array.from(input.data);
    expect(Array.from(c1.run([input])[0].data)).toEqual(Array.from(c2.run([input])[0].data));
    expect(Array.from(input.data)).toEqual(before); // inputs are never written
    c1.dispose();
    c2.dispose();
  });

  it("a training step's plan is smaller than the sum of its values, and steps allocate nothing", () => {
    const w = new Variable([8, 4], "float32", { name: "planw", init: Float32Array.from({ length: 32 }, (_, i) => Math.cos(i)) });
    // Without gemm epilogues: with them the matmul's value is gone and this small graph has nothing left to reuse.
    const step = fn((x: SymbolicTensor) => {
      const loss = x.matmul(w, { transB: true }).tanh().pow(2).mean();
      return loss;
    }, { disable: ["epilogue"] });
    const x = tensor(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)), [16, 4]);
    const lowered = step.lower(x);
    expect(lowered.compiled.plan.arenaBytes).toBeLessThan(lowered.compiled.plan.unplannedBytes);
    step.dispose();
    w.dispose();
  });
});
