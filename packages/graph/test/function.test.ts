import { afterEach, describe, expect, it, vi } from "vitest";
import { allocator } from "@dualgrad/core";
import {
  ConcretizationError, HostTensor, Linear, SGD, SymbolicTensor, Variable, fn, grad, gradients, mseLoss, printGraph, read, tensor, trace, traceGraph, where,
} from "../src/index.js";

afterEach(() => vi.restoreAllMocks());

describe("trace", () => {
  it("records an SSA IR printed like a jaxpr", () => {
    const w = new Variable([1, 1], "float32", { name: "w", init: [2] });
    const { graph } = traceGraph((x: SymbolicTensor) => x.matmul(w, { transB: true }).add(1).relu(), [tensor([[1], [2]])]);
    expect(printGraph(graph)).toBe(
      [
        "{ lambda a:f32[2,1] ; b:f32[1,1](w) .",
        "  let c:f32[2,1] = matmul[transA=false,transB=true] a b",
        "      d:f32[] = 1",
        "      e:f32[2,1] = add c d",
        "      f:f32[2,1] = relu e",
        "  in (f) }",
      ].join("\n"),
    );
    w.dispose();
  });

  it("trace(fn, inputSpecs) records without data", () => {
    const g = trace((x: SymbolicTensor, y: SymbolicTensor) => x.mul(y).sum(), [{ shape: [3] }, { shape: [3], dtype: "float32" }]);
    expect(printGraph(g)).toBe(["{ lambda a:f32[3] b:f32[3] .", "  let c:f32[3] = mul a b", "      d:f32[] = sum[axes=None,keepdims=false] c", "  in (d) }"].join("\n"));
    expect(() => trace((x: SymbolicTensor) => x.reshape([4]), [{ shape: [3] }])).toThrow(/^reshape: cannot reshape \[3\] \(3 elements\) to \[4\] \(traced at /);
  });

  it("shape errors are raised at trace time and name the op, the shapes and the call site", () => {
    const f = fn((x: SymbolicTensor, y: SymbolicTensor) => x.matmul(y));
    expect(() => f(tensor([[1, 2, 3]]), tensor([[1, 2]]))).toThrow(/^matmul: cannot multiply \[1,3\] by \[1,2\] \(inner dimensions 3 != 1\) \(traced at .*function\.test\.ts/);
  });

  it("branching on a symbolic value explains itself", () => {
    const f = fn((x: SymbolicTensor) => (x.sum().item() > 0 ? x : x.neg()));
    expect(() => f(tensor([1]))).toThrow(ConcretizationError);
    const g = fn((x: SymbolicTensor) => ((x as unknown as number) > 0 ? x : x.neg()));
    expect(() => g(tensor([1]))).toThrow(/cannot steer JavaScript control flow.*Use where\(cond, a, b\)/);
    const h = fn((x: SymbolicTensor) => where(x.gt(0), x, x.neg()));
    expect(Array.from((h(tensor([-2, 3])) as HostTensor).data)).toEqual([2, 3]);
    h.dispose();
  });
});

describe("graph.function caches one trace per signature", () => {
  it("retraces for new shapes and static arguments, counts traces, warns when it keeps retracing", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const f = fn((x: SymbolicTensor, k: number) => x.mul(k), { name: "scale" });
    expect(Array.from((f(tensor([1, 2]), 3) as HostTensor).data)).toEqual([3, 6]);
    f(tensor([5, 6]), 3);
    expect(f.traceCount).toBe(1);
    f(tensor([1, 2, 3]), 3);
    f(tensor([1, 2]), 4);
    expect(f.traceCount).toBe(3);
    expect(warn).not.toHaveBeenCalled();
    f(tensor([1]), 1);
    f(tensor([1]), 2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/scale: 5 traces so far/);
    f(tensor([1]), 7);
    expect(warn).toHaveBeenCalledTimes(1);
    f.dispose();
  });

  it("with retrace off, a new signature is an error naming the expected one", () => {
    const f = fn((x: SymbolicTensor) => x.exp(), { retrace: false, name: "expo" });
    f(tensor([[1, 2]]));
    expect(() => f(tensor([1, 2]))).toThrow("expo: called with signature (float32[2]) but it was traced for (float32[1,2]) and retracing is off");
    f.dispose();
  });

  it("variables persist between calls and assigns update them", () => {
    const counter = new Variable([], "float32", { name: "counter" });
    const inc = fn((x: SymbolicTensor) => {
      const next = read(counter).add(x.sum());
      // assign via the builder-level API
      (next as SymbolicTensor).builder.assign(counter, next.id);
      return next;
    });
    inc(tensor([1, 2]));
    inc(tensor([1, 2]));
    expect(counter.data[0]).toBe(6);
    inc.dispose();
    counter.dispose();
  });
});

describe("gradients as a graph transform", () => {
  it("grad of tanh and its second derivative", () => {
    const d1 = fn(grad((x: SymbolicTensor) => x.tanh().sum()));
    const d2 = fn(grad((x: SymbolicTensor) => grad((y: SymbolicTensor) => y.tanh().sum())(x).sum()));
    const xs = [-1.5, -0.3, 0, 0.7, 2];
    const x = tensor(new Float64Array(xs));
    const g1 = d1(x) as HostTensor;
    const g2 = d2(x) as HostTensor;
    xs.forEach((v, i) => {
      const t = Math.tanh(v);
      expect(g1.data[i]).toBeCloseTo(1 - t * t, 14);
      expect(g2.data[i]).toBeCloseTo(-2 * t * (1 - t * t), 14);
    });
    d1.dispose();
    d2.dispose();
  });

  it("second derivative of a small MLP's loss along a direction matches finite differences of its gradient", () => {
    const gen = () => new Float64Array(Array.from({ length: 6 }, (_, i) => Math.sin(i + 1)));
    const w = new Variable([2, 3], "float64", { name: "w2nd", init: gen() });
    const x = tensor(new Float64Array([0.5, -1, 2, 0.1, 0.3, -0.7]), [2, 3]);
    const dir = tensor(new Float64Array([1, -0.5, 0.25, 0.3, 0.2, -1]), [2, 3]);
    // Hessian-vector product: d/deps <grad L(w + eps d), d> = d^T H d, computed as grad of (grad . d).
    const loss = (wt: SymbolicTensor, xx: SymbolicTensor) => xx.matmul(wt, { transB: true }).tanh().pow(2).sum();
    const hvp = fn((xx: SymbolicTensor, d: SymbolicTensor) => {
      const wt = read(w);
      const [g] = gradients(loss(wt, xx), [wt]);
      const [h] = gradients(g.mul(d).sum(), [wt]);
      return h.mul(d).sum();
    });
    const gradAt = fn((xx: SymbolicTensor, d: SymbolicTensor, eps: number) => {
      const wt = read(w).add(d.mul(eps));
      const [g] = gradients(loss(wt, xx), [wt]);
      return g.mul(d).sum();
    });
    const exact = (hvp(x, dir) as HostTensor).item();
    const eps = 1e-5;
    const fd = ((gradAt(x, dir, eps) as HostTensor).item() - (gradAt(x, dir, -eps) as HostTensor).item()) / (2 * eps);
    expect(Math.abs(exact - fd)).toBeLessThan(1e-6 * Math.max(1, Math.abs(exact)));
    hvp.dispose();
    gradAt.dispose();
    w.dispose();
  });
});

describe("compiled training steps", () => {
  it("one call does forward, loss, backward and update; memory is planned and nothing is allocated per step", () => {
    const layer = new Linear(1, 1, { name: "lr1", dtype: "float64" });
    layer.weight.assign([0]);
    layer.bias!.assign([0]);
    const opt = new SGD({ lr: 0.1 });
    const xs = new Float64Array(64).map((_, i) => (i / 32) - 1);
    const x = tensor(xs, [64, 1]);
    const y = tensor(xs.map((v) => 3 * v + 2), [64, 1]);
    const step = fn((xx: SymbolicTensor, yy: SymbolicTensor) => {
      const loss = mseLoss(layer.forward(xx), yy);
      opt.minimize(loss, layer.parameters());
      return loss;
    });
    step(x, y);
    const before = allocator.stats();
    let last = 0;
    for (let i = 0; i < 300; i++) last = (step(x, y) as HostTensor).item();
    const after = allocator.stats();
    expect(after.allocations - before.allocations).toBe(0);
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(last).toBeLessThan(1e-4);
    expect(layer.weight.data[0]).toBeCloseTo(3, 2);
    expect(layer.bias!.data[0]).toBeCloseTo(2, 2);
    const lowered = step.lower(x, y);
    expect(lowered.compiled.arenaBytes).toBeGreaterThan(0);
    expect(lowered.compiled.arenaBytes).toBeLessThanOrEqual(lowered.compiled.plan.unplannedBytes);
    expect(lowered.compiled.printPlan()).toMatch(/^plan: arena \d+ bytes/);
    step.dispose();
    opt.dispose();
    layer.parameters().forEach((p) => p.dispose());
  });
});
