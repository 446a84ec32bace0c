import { afterEach, describe, expect, it, vi } from "vitest";
import {
  HostTensor, MAX_FUSED_OPS, Variable, fn, read, tensor, type FusedAttrs, type GraphFunction, type SymbolicTensor,
} from "../src/index.js";

/** The functions a test made, disposed after it (their arenas are core allocations). */
const made: GraphFunction<unknown>[] = [];
function track<R>(f: GraphFunction<R>): GraphFunction<R> {
  made.push(f as GraphFunction<unknown>);
  return f;
}
afterEach(() => {
  made.splice(0).forEach((f) => f.dispose());
  vi.restoreAllMocks();
});

const values = (t: unknown) => Array.from((t as HostTensor).data);

describe("fn keys static arguments exactly", () => {
  it("NaN, Infinity, -0 and 0 each get their own trace", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const f = track(fn((t: SymbolicTensor, k: number) => t.mul(k), { name: "scale" }));
    const x = tensor([1, 2]);
    expect(values(f(x, Infinity))).toEqual([Infinity, Infinity]);
    expect(values(f(x, NaN))).toEqual([NaN, NaN]);
    expect(values(f(x, -Infinity))).toEqual([-Infinity, -Infinity]);
    expect(values(f(x, -0)).every((v) => Object.is(v, -0))).toBe(true);
    expect(values(f(x, 0)).every((v) => Object.is(v, 0))).toBe(true);
    expect(f.traceCount).toBe(5);
    expect(warn).toHaveBeenCalledOnce(); // five signatures: the retracing warning, as with any five
    f(x, NaN);
    expect(f.traceCount).toBe(5);
  });

  it("functions are keyed by identity: a different activation is a different trace", () => {
    const apply = track(fn((t: SymbolicTensor, act: (s: SymbolicTensor) => SymbolicTensor) => act(t)));
    const x = tensor([0.5, -1]);
    const tanh = (s: SymbolicTensor) => s.tanh();
    const sigmoid = (s: SymbolicTensor) => s.sigmoid();
    expect(values(apply(x, tanh))).toEqual(Array.from(Float32Array.from([0.5, -1], Math.tanh)));
    expect(values(apply(x, sigmoid))).toEqual(Array.from(Float32Array.from([0.5, -1], (v) => 1 / (1 + Math.exp(-v)))));
    apply(x, tanh);
    expect(apply.traceCount).toBe(2);
  });

  it("Maps and class instances are keyed by identity, plain objects and arrays by value", () => {
    const f = track(fn((t: SymbolicTensor, cfg: Map<string, number>) => t.mul(cfg.get("k")!)));
    const x = tensor([1, 2]);
    const two = new Map([["k", 2]]);
    expect(values(f(x, two))).toEqual([2, 4]);
    expect(values(f(x, new Map([["k", 3]])))).toEqual([3, 6]);
    f(x, two);
    expect(f.traceCount).toBe(2);

    const g = track(fn((t: SymbolicTensor, o: { k: (number | null)[] }) => t.mul(o.k[0] ?? 5)));
    expect(values(g(x, { k: [2] }))).toEqual([2, 4]);
    expect(values(g(x, { k: [2] }))).toEqual([2, 4]);
    expect(g.traceCount).toBe(1);
    expect(values(g(x, { k: [NaN] }))).toEqual([NaN, NaN]);
    expect(values(g(x, { k: [null] }))).toEqual([5, 10]);
    expect(g.traceCount).toBe(3);
  });

  it("a cyclic static argument is a clear error", () => {
    const f = track(fn((t: SymbolicTensor) => t.neg(), { name: "cyc" }));
    const loop: unknown[] = [];
    loop.push(loop);
    expect(() => f(tensor([1]), loop)).toThrow(/^graph\.function: a static argument cannot be a cache key: .*cyclic/);
  });
});

describe("attributes are checked at the op boundary", () => {
  it("pow with a string exponent is an error naming the op, and later pows are unaffected", () => {
    const bad = track(fn((t: SymbolicTensor) => t.pow("2" as never)));
    expect(() => bad(tensor([2, 3]))).toThrow(/^pow: attribute exponent must be a number, got "2" \(traced at /);
    const square = track(fn((t: SymbolicTensor) => t.pow(2)));
    expect(values(square(tensor([2, 3])))).toEqual([4, 9]);
  });
});

describe("nested functions", () => {
  it("an fn called while another is traced is inlined into that trace", () => {
    const inner = track(fn((t: SymbolicTensor) => t.mul(2)));
    const outer = track(fn((t: SymbolicTensor) => (inner(t) as unknown as SymbolicTensor).add(1)));
    expect(values(outer(tensor([1, 2])))).toEqual([3, 5]);
    expect(outer.traceCount).toBe(1);
    expect(inner.traceCount).toBe(0);
    // Still an ordinary compiled function when called on its own.
    expect(values(inner(tensor([4])))).toEqual([8]);
    expect(inner.traceCount).toBe(1);
  });

  it("concrete tensors passed to an inlined call become constants; variables stay variables", () => {
    const w = new Variable([2], "float32", { name: "nested_w", init: [10, 20] });
    const addTo = track(fn((a: SymbolicTensor, b: SymbolicTensor) => read(w).add(a).add(b)));
    const outer = track(fn((t: SymbolicTensor) => addTo(t, tensor([1, 1])) as unknown as SymbolicTensor));
    expect(values(outer(tensor([1, 2])))).toEqual([12, 23]);
    w.assign([0, 0]);
    expect(values(outer(tensor([1, 2])))).toEqual([2, 3]);
    const viaVariable = track(fn((t: SymbolicTensor) => addTo(t, w) as unknown as SymbolicTensor));
    expect(values(viaVariable(tensor([1, 2])))).toEqual([1, 2]);
    w.dispose();
  });
});

/** A traced chain of `length` elementwise ops on x, alternately `* 1.0001` and tanh. */
const chain = (length: number) => (x: SymbolicTensor) => {
  let y = x;
  for (let i = 0; i < length; i++) y = i % 2 === 0 ? y.mul(1.0001) : y.tanh();
  return y;
};

/** The same chain in plain JavaScript, rounding to float32 after every op as the kernels do. */
function chainReference(xs: readonly number[], length: number): number[] {
  const c = Math.fround(1.0001);
  return xs.map((x0) => {
    let y = Math.fround(x0);
    for (let i = 0; i < length; i++) y = Math.fround(i % 2 === 0 ? y * c : Math.tanh(y));
    return y;
  });
}

describe("long elementwise chains", () => {
  it(`are split into fused kernels of at most MAX_FUSED_OPS (${MAX_FUSED_OPS}) ops, bit-identical to unfused`, () => {
    const length = 3 * MAX_FUSED_OPS + 5;
    const fused = track(fn(chain(length)));
    const plain = track(fn(chain(length), { disable: ["fuse"] }));
    const x = tensor([0.1, -0.2, 0.3, 2]);
    const kernels = fused.lower(x).fused.nodes.filter((n) => n.op === "fused").map((n) => (n.attrs as unknown as FusedAttrs).ops.length);
    expect(kernels).toEqual([5, MAX_FUSED_OPS, MAX_FUSED_OPS, MAX_FUSED_OPS]);
    expect(values(fused(x))).toEqual(values(plain(x)));
    expect(values(fused(x))).toEqual(chainReference([0.1, -0.2, 0.3, 2], length));
  });

  it("a 100k-op chain compiles and runs (one kernel of 100k ops overflowed the stack)", () => {
    const length = 100_000;
    const f = track(fn(chain(length)));
    expect(values(f(tensor([0.1, -0.2, 0.3, 2])))).toEqual(chainReference([0.1, -0.2, 0.3, 2], length));
  });
});
