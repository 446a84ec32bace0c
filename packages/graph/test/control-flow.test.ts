import { afterEach, describe, expect, it } from "vitest";
import { allocator } from "@dualgrad/core";
import {
  GradientTape, HostTensor, SGD, Variable, cond, fromJSON, toJSON, graphToOnnx, toDot, toMermaid, fn as makeFn, foriLoop, gradients, printGraph, scan, tensor, trace, whileLoop, type GraphFunction, type SymbolicTensor,
} from "../src/index.js";

/** The functions a test made, disposed after it (their arenas are core allocations). */
const made: GraphFunction<unknown>[] = [];
const fn = (f: Parameters<typeof makeFn>[0]) => {
  const g = makeFn(f);
  made.push(g as GraphFunction<unknown>);
  return g;
};
afterEach(() => made.splice(0).forEach((f) => f.dispose()));

const f64 = (data: number[], shape: number[]) => tensor(new Float64Array(data), shape);
const arr = (t: unknown) => Array.from((t as HostTensor).data);

/** Central finite differences of scalar `f` at `x` (float64). */
function numericGrad(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): number[] {
  return Array.from(x, (_, i) => {
    const p = x.slice(); p[i] += h;
    const m = x.slice(); m[i] -= h;
    return (f(p) - f(m)) / (2 * h);
  });
}

describe("scan", () => {
  it("runs a cumulative sum and stacks ys, forward and reverse", () => {
    const cumsum = fn((xs: SymbolicTensor) => {
      const [c, ys] = scan((carry, x) => { const n = carry.add(x); return [n, n]; }, xs.sum({ axis: 0 }).mul(0), xs);
      return [c, ys];
    });
    const [c, ys] = cumsum(f64([1, 2, 3, 4, 5, 6], [3, 2])) as HostTensor[];
    expect(arr(c)).toEqual([9, 12]);
    expect(arr(ys)).toEqual([1, 2, 4, 6, 9, 12]);
    const rev = fn((xs: SymbolicTensor) => scan((carry, x) => { const n = carry.add(x); return [n, n]; }, xs.sum({ axis: 0 }).mul(0), xs, { reverse: true })[1]);
    expect(arr(rev(f64([1, 2, 3, 4, 5, 6], [3, 2])))).toEqual([9, 12, 8, 10, 5, 6]);
  });

  it("carries arrays of tensors (including an int counter) and captures outer values", () => {
    const f = fn((xs: SymbolicTensor, w: SymbolicTensor, k0: SymbolicTensor) => {
      const [[h, k], ys] = scan(([h, k], x) => [[h.mul(w).add(x).tanh(), k.add(1)], [h.sum()]], [w.mul(0), k0], xs) as unknown as [SymbolicTensor[], SymbolicTensor[]];
      return [h, k, ys[0]];
    });
    const xs = [0.5, -1, 2, 0.25];
    const [h, k, ys] = f(f64(xs, [4]), f64([0.7], []), tensor(new Int32Array([0]), [])) as HostTensor[];
    let ref = 0;
    const refYs: number[] = [];
    for (const x of xs) { refYs.push(ref); ref = Math.tanh(ref * 0.7 + x); }
    expect(arr(h)[0]).toBe(ref);
    expect(arr(k)).toEqual([4]);
    expect(arr(ys)).toEqual(refYs);
  });

  it("differentiates an RNN-like scan (carry, xs and a captured weight) like finite differences", () => {
    const loss = (xs: SymbolicTensor, w: SymbolicTensor, h0: SymbolicTensor) => {
      const [h, ys] = scan((h, x) => { const n = h.matmul(w).add(x).tanh(); return [n, n.square().sum()]; }, h0, xs);
      return h.sum().add(ys.sum());
    };
    const g = fn((xs: SymbolicTensor, w: SymbolicTensor, h0: SymbolicTensor) => gradients(loss(xs, w, h0), [xs, w, h0]));
    const value = fn(loss);
    const xs = new Float64Array([0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.2, 0.1, -0.3]);
    const w = new Float64Array([0.5, -0.3, 0.2, 0.1, 0.4, -0.6, 0.3, 0.2, 0.1]);
    const h0 = new Float64Array([0.2, -0.1, 0.05]);
    const grads = g(tensor(xs, [3, 3]), tensor(w, [3, 3]), tensor(h0, [3])) as HostTensor[];
    const at = (a: Float64Array, b: Float64Array, c: Float64Array) => (value(tensor(a, [3, 3]), tensor(b, [3, 3]), tensor(c, [3])) as HostTensor).item();
    const nx = numericGrad((v) => at(v, w, h0), xs);
    const nw = numericGrad((v) => at(xs, v, h0), w);
    const nh = numericGrad((v) => at(xs, w, v), h0);
    arr(grads[0]).forEach((v, i) => expect(v).toBeCloseTo(nx[i], 7));
    arr(grads[1]).forEach((v, i) => expect(v).toBeCloseTo(nw[i], 7));
    arr(grads[2]).forEach((v, i) => expect(v).toBeCloseTo(nh[i], 7));
  });

  it("differentiates twice (grad of grad through scan)", () => {
    // f(a) = a^(2^3) by repeated squaring; f'' = 56 a^6.
    const g2 = fn((a: SymbolicTensor) => {
      const f = (x: SymbolicTensor) => scan((c) => [c.mul(c), null], x, null, { length: 3 })[0];
      const [d] = gradients(f(a), [a]);
      return gradients(d, [a])[0];
    });
    expect((g2(f64([1.1], [])) as HostTensor).item()).toBeCloseTo(56 * 1.1 ** 6, 9);
  });

  it("trains a weight inside a compiled step with zero allocations per step", () => {
    const w = new Variable([2, 2], "float32", { name: "w", init: [0.1, 0.2, -0.1, 0.3] });
    const opt = new SGD({ lr: 0.05 });
    const step = fn((xs: SymbolicTensor, target: SymbolicTensor) => {
      const [h] = scan((h, x) => [h.matmul(w).add(x).tanh(), null], xs.sum({ axis: 0 }).mul(0), xs);
      const loss = h.sub(target).square().sum();
      opt.minimize(loss, [w]);
      return loss;
    });
    const xs = tensor(new Float32Array([0.5, -0.2, 0.1, 0.4, -0.3, 0.2]), [3, 2]);
    const target = tensor(new Float32Array([0.3, -0.2]), [2]);
    const first = (step(xs, target) as HostTensor).item();
    const before = allocator.stats();
    let last = first;
    for (let i = 0; i < 50; i++) last = (step(xs, target) as HostTensor).item();
    const after = allocator.stats();
    expect(after.allocations - before.allocations).toBe(0);
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(last).toBeLessThan(first);
    expect(step.traceCount).toBe(1);
    step.dispose();
    w.dispose();
    opt.dispose();
  });

  it("rejects a carry that changes shape, naming both", () => {
    expect(() => trace((x: SymbolicTensor) => scan((c) => [c.sum(), null], x, null, { length: 2 })[0], [{ shape: [3] }]))
      .toThrow("scan: the body's new carry returns f32[] for result 0 but the initial carry is f32[3]");
    expect(() => trace((x: SymbolicTensor) => scan((c, y) => [c, y], x, x, { length: 5 })[0], [{ shape: [3] }])).toThrow("scan: xs[0] is f32[3] but the scan has length 5");
  });

  it("refuses a body value used after the body returned (a leaked tracer)", () => {
    let leaked: SymbolicTensor | null = null;
    const program = (use: (c: SymbolicTensor, l: SymbolicTensor) => SymbolicTensor) => () => trace((x: SymbolicTensor) => {
      const [c] = scan((c, y) => {
        leaked = c.add(y);
        return [leaked, null];
      }, x.sum(), x);
      return use(c, leaked!);
    }, [{ shape: [3] }]);
    expect(program((c) => c.neg())).not.toThrow();
    expect(program((_c, l) => l.neg())).toThrow("(a leaked tracer)");
    expect(program((c, l) => l.add(c))).toThrow("a symbolic tensor from a scan/cond/whileLoop body was used after the body returned (a leaked tracer)");
    expect(program((c, l) => c.add(l))).toThrow("(a leaked tracer)");
  });

  it("prints bodies nested", () => {
    const g = trace((x: SymbolicTensor) => scan((c, y) => [c.add(y), null], x.sum(), x)[0], [{ shape: [3] }]);
    expect(printGraph(g)).toContain("body={ lambda");
  });
});

describe("cond", () => {
  const piecewise = (x: SymbolicTensor, y: SymbolicTensor) => cond(x.sum().gt(0), (a, b) => a.mul(b).sum(), (a, b) => a.sub(b).exp().sum(), x, y);

  it("takes the branch the predicate picks, at run time, without retracing", () => {
    const f = fn(piecewise);
    expect((f(f64([1, 2], [2]), f64([3, 4], [2])) as HostTensor).item()).toBe(11);
    expect((f(f64([-1, -2], [2]), f64([3, 4], [2])) as HostTensor).item()).toBe(Math.exp(-4) + Math.exp(-6));
    expect(f.traceCount).toBe(1);
  });

  it("differentiates each branch like finite differences", () => {
    const g = fn((x: SymbolicTensor, y: SymbolicTensor) => gradients(piecewise(x, y), [x, y]));
    const v = fn(piecewise);
    for (const x of [[0.5, 0.25], [-0.5, 0.25]]) {
      const y = [0.3, -0.7];
      const [gx, gy] = g(f64(x, [2]), f64(y, [2])) as HostTensor[];
      const nx = numericGrad((p) => (v(tensor(p, [2]), f64(y, [2])) as HostTensor).item(), new Float64Array(x));
      const ny = numericGrad((p) => (v(f64(x, [2]), tensor(p, [2])) as HostTensor).item(), new Float64Array(y));
      arr(gx).forEach((a, i) => expect(a).toBeCloseTo(nx[i], 7));
      arr(gy).forEach((a, i) => expect(a).toBeCloseTo(ny[i], 7));
    }
  });

  it("rejects branches of different types, naming both", () => {
    expect(() => trace((x: SymbolicTensor) => cond(x.sum().gt(0), (a) => a, (a) => a.sum(), x), [{ shape: [2] }]))
      .toThrow("cond: the false branch returns f32[] for result 0 but the true branch's is f32[2]");
    expect(() => trace((x: SymbolicTensor) => cond(x, (a) => a, (a) => a, x), [{ shape: [2] }])).toThrow("cond: pred must be a scalar tensor, got f32[2]");
  });
});

describe("whileLoop and foriLoop", () => {
  it("loops while the condition holds (a data-dependent trip count)", () => {
    const f = fn((x: SymbolicTensor) => whileLoop((c) => c.lt(100), (c) => c.mul(2), x));
    expect((f(f64([3], [])) as HostTensor).item()).toBe(192);
    expect((f(f64([200], [])) as HostTensor).item()).toBe(200);
  });

  it("refuses a gradient, suggesting scan", () => {
    expect(() => trace((x: SymbolicTensor) => gradients(whileLoop((c) => c.lt(100), (c) => c.mul(2), x), [x])[0], [{ shape: [] }])).toThrow(/whileLoop is not reverse-mode differentiable.*use scan/);
  });

  it("foriLoop with number bounds is a differentiable scan; with tensor bounds a while loop", () => {
    const g = trace((x: SymbolicTensor) => foriLoop(0, 3, (i, c) => c.mul(x).add(i.to("float32")), x), [{ shape: [] }]);
    expect(g.nodes.some((n) => n.op === "scan")).toBe(true);
    const d = fn((x: SymbolicTensor) => gradients(foriLoop(0, 3, (i, c) => c.mul(x).add(i.to("float64")), x), [x])[0]);
    // c = ((x*x + 0)*x + 1)*x + 2 = x^4 + x; d/dx = 4x^3 + 1
    expect((d(f64([1.5], [])) as HostTensor).item()).toBeCloseTo(4 * 1.5 ** 3 + 1, 12);
    const w = fn((x: SymbolicTensor, n: SymbolicTensor) => foriLoop(0, n, (_i, c) => c.add(x), x.mul(0)));
    expect((w(f64([2], []), tensor(new Int32Array([5]), [])) as HostTensor).item()).toBe(10);
  });
});

describe("sub-graphs through the pipeline and the exporters", () => {
  // A loop the compiler keeps (unroll: false): these tests look inside the compiled body.
  const rnn = (xs: SymbolicTensor, w: SymbolicTensor) => scan((h, x) => [h.mul(w).add(x).tanh().mul(1), h.add(0)], w.mul(0), xs, { unroll: false });
  const traced = () => trace((xs: SymbolicTensor, w: SymbolicTensor) => {
    const [h, ys] = rnn(xs, w);
    return cond(h.sum().gt(0), (a) => a.neg(), (a) => a.exp(), ys);
  }, [{ shape: [4, 3] }, { shape: [3] }]);

  it("optimises and fuses inside bodies", () => {
    const f = fn((xs: SymbolicTensor, w: SymbolicTensor) => rnn(xs, w)[0]);
    const lowered = f.lower(f64(new Array(12).fill(0.1), [4, 3]), f64([0.5, 0.2, 0.1], [3]));
    const bodyOf = (g: typeof lowered.traced) => (g.nodes.find((n) => n.op === "scan") as { attrs: { body: typeof g } }).attrs.body;
    const ops = (g: typeof lowered.traced) => g.nodes.map((n) => n.op);
    // x * 1 and h + 0 are simplified away inside the body; mul, add, tanh fuse into one kernel.
    expect(ops(bodyOf(lowered.traced))).toContain("constant");
    expect(ops(bodyOf(lowered.optimized))).not.toContain("constant");
    expect(ops(bodyOf(lowered.fused)).filter((o) => o === "fused")).toHaveLength(1);
    // The ys nobody reads are dropped by DCE; the body still runs.
    expect(arr(f(f64(new Array(12).fill(0.1), [4, 3]), f64([0.5, 0.2, 0.1], [3])))).toHaveLength(3);
  });

  it("draws bodies as DOT clusters and Mermaid subgraphs", () => {
    const g = traced();
    const dot = toDot(g);
    expect(dot).toMatch(/subgraph cluster_n\d+_0_ \{/);
    expect(dot).toContain(": scan body");
    expect(dot).toContain(": cond false");
    const mermaid = toMermaid(g);
    expect(mermaid).toMatch(/subgraph n\d+_1_\[".*cond false"\]/);
    expect(mermaid.split("\n").filter((l) => l.trim() === "end")).toHaveLength(3);
  });

  it("refuses ONNX export, naming the control-flow op", () => {
    const f = (xs: SymbolicTensor, w: SymbolicTensor) => rnn(xs, w)[0];
    expect(() => graphToOnnx(trace(f, [{ shape: [4, 3] }, { shape: [3] }]), () => new Float32Array(0))).toThrow(/cannot export primitive 'scan'.*control flow/);
  });
});

describe("JSON", () => {
  const program = () => trace((xs: SymbolicTensor, w: SymbolicTensor) => {
    const [h, ys] = scan((c, x) => [c.mul(w).add(x).tanh(), c.sum()], w.mul(0), xs);
    const out = cond(h.sum().gt(0), (a) => a.neg(), (a) => a.exp(), ys).sum();
    return [out, ...gradients(out, [xs, w])];
  }, [{ shape: [4, 3] }, { shape: [3] }]);

  it("round-trips graphs with control flow (gradient scans included)", () => {
    const g = program();
    expect(g.nodes.filter((n) => n.op === "scan")).toHaveLength(2);
    expect(fromJSON(toJSON(g))).toEqual(g);
    const w = trace((x: SymbolicTensor) => whileLoop((c) => c.lt(10), (c) => c.add(1), x), [{ shape: [] }]);
    expect(fromJSON(toJSON(w))).toEqual(w);
  });

  it("validates control-flow nodes on import, naming the node", () => {
    const doc = JSON.parse(toJSON(program()));
    const scanAt = doc.graph.nodes.findIndex((n: { op: string }) => n.op === "scan");
    const edit = (f: (d: typeof doc) => void) => {
      const d = JSON.parse(JSON.stringify(doc));
      f(d);
      return () => fromJSON(JSON.stringify(d));
    };
    expect(edit((d) => (d.graph.nodes[scanAt].attrs.length = 5))).toThrow(`node ${scanAt} (scan): xs input 1 is f32[4,3] but the scan has length 5`);
    expect(edit((d) => (d.graph.nodes[scanAt].attrs.body.nodes[0].shape = [2]))).toThrow(`node ${scanAt} (scan): attrs.body: node 3 (mul): its inputs do not fit`);
    expect(edit((d) => (d.graph.nodes[scanAt].attrs.numCarry = 0))).toThrow(`node ${scanAt} (scan): xs input 0 is f32[3] but the scan has length 4`);
    expect(edit((d) => (d.graph.nodes[scanAt].attrs.saveCarries = 2))).toThrow(`node ${scanAt} (scan): saveCarries must be 0 or numCarry (1), got 2`);
    expect(edit((d) => (d.graph.nodes[scanAt].attrs.body.nodes[3].op = "nope"))).toThrow(`node ${scanAt} (scan): attrs.body: node 3: unknown op "nope"`);
    expect(edit((d) => (d.graph.nodes[scanAt + 1].attrs.index = 9))).toThrow(`node ${scanAt + 1} (get): index 9 but node ${scanAt} (scan) has`);
    expect(edit((d) => (d.graph.nodes[scanAt + 1].shape = [7]))).toThrow(`node ${scanAt + 1} (get): declared f32[7] but result 0 of node ${scanAt} is f32[3]`);
    const condAt = doc.graph.nodes.findIndex((n: { op: string }) => n.op === "cond");
    expect(edit((d) => d.graph.nodes[condAt].attrs.branches.pop())).toThrow(`node ${condAt} (cond): attrs.branches must be an array of two graphs`);
  });
});

describe("nesting and the memory plan", () => {
  it("differentiates a scan nested in a scan body, capturing from two levels up", () => {
    // f(x, w) = sum over 2 outer steps of an inner 3-step c = c * w + x loop.
    const f = (x: SymbolicTensor, w: SymbolicTensor) => scan((outer) => [scan((c) => [c.mul(w).add(x), null], outer, null, { length: 3 })[0], null], x, null, { length: 2 })[0];
    const g = fn((x: SymbolicTensor, w: SymbolicTensor) => gradients(f(x, w), [x, w]));
    const v = fn(f);
    const x = 0.7;
    const w = 0.9;
    const [gx, gw] = g(f64([x], []), f64([w], [])) as HostTensor[];
    const at = (a: number, b: number) => (v(f64([a], []), f64([b], [])) as HostTensor).item();
    expect(gx.item()).toBeCloseTo((at(x + 1e-6, w) - at(x - 1e-6, w)) / 2e-6, 7);
    expect(gw.item()).toBeCloseTo((at(x, w + 1e-6) - at(x, w - 1e-6)) / 2e-6, 7);
  });

  it("plans the saved per-step carries in the arena and frees them after the backward scan", () => {
    const f = fn((xs: SymbolicTensor, w: SymbolicTensor) => {
      const [h] = scan((c, x) => [c.mul(w).add(x).tanh(), null], w.mul(0), xs, { unroll: false });
      return gradients(h.sum(), [w])[0];
    });
    const { compiled } = f.lower(f64(new Array(12).fill(0.1), [4, 3]), f64([0.5, 0.2, 0.1], [3]));
    const g = compiled.graph;
    const scans = g.nodes.filter((n) => n.op === "scan");
    expect(scans).toHaveLength(2);
    // The residual: result `numCarry + ys` of the forward scan, f64[4,3], read by the backward scan.
    const saved = g.nodes.find((n) => n.op === "get" && n.inputs[0] === scans[0].id && n.shape.join() === "4,3")!;
    expect(saved).toBeDefined();
    expect(compiled.plan.slots[saved.id]).not.toBeNull();
    const freeAt = compiled.plan.steps.findIndex((s) => s.kind === "free" && s.value === saved.id);
    const backwardAt = compiled.plan.steps.findIndex((s) => s.kind === "run" && s.node === scans[1].id);
    expect(freeAt).toBeGreaterThan(backwardAt);
    expect(compiled.plan.arenaBytes).toBeLessThan(compiled.plan.unplannedBytes);
  });
});

describe("printed plans", () => {
  it("prints each body's own plan under the outer one", () => {
    const f = fn((xs: SymbolicTensor, w: SymbolicTensor) => scan((c, x) => [c.mul(w).add(x).tanh(), null], w.mul(0), xs, { unroll: false })[0]);
    const text = f.lower(f64(new Array(6).fill(0.1), [2, 3]), f64([0.5, 0.2, 0.1], [3])).compiled.printPlan();
    expect(text).toMatch(/^plan: arena/);
    expect(text).toMatch(/\n {2}sub-plan 0\.0 \(scan [a-z]+\):\n {4}plan: arena \d+ bytes/);
  });
});

describe("with a GradientTape", () => {
  it("gives a variable read inside a scan body the same gradient as gradients()", () => {
    const w = new Variable([], "float64", { name: "cf.tape.w", init: [0.8] });
    const body = (xs: SymbolicTensor) => scan((c, x) => [c.mul(w).add(x).tanh(), null], xs.sum().mul(0), xs)[0];
    const viaTape = fn((xs: SymbolicTensor) => {
      const tape = new GradientTape();
      return tape.gradient(body(xs), [w])[0]!;
    });
    const viaGradients = fn((xs: SymbolicTensor) => gradients(body(xs), [w])[0]);
    const xs = f64([0.3, -0.2, 0.5], [3]);
    expect(arr(viaTape(xs))).toEqual(arr(viaGradients(xs)));
    expect(arr(viaTape(xs))[0]).not.toBe(0);
    w.dispose();
  });
});
