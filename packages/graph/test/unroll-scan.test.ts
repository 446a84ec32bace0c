import { afterEach, describe, expect, it } from "vitest";
import { PhiloxGenerator } from "@dualgrad/core";
import { HostTensor, fn as makeFn, fromJSON, gradients, layers, printGraph, scan, toJSON, trace, type FunctionOptions, type Graph, type GraphFunction, type ScanOptions, type SymbolicTensor } from "../src/index.js";
import { UNROLL_BUDGET, bodySize, unrollFactor, unrollScans } from "../src/passes/unroll-scan.js";

/**
 * The scan-unrolling pass: which scans it unrolls (budget, the `unroll` option), and that the
 * unrolled program gives the loop's bits, values and gradients (forward and reverse, with the
 * gradient's reverse scan, partial unrolling with a left-over).
 */

const made: GraphFunction<unknown>[] = [];
const fn = <R>(f: Parameters<typeof makeFn>[0], options?: FunctionOptions) => {
  const g = makeFn<R>(f, options);
  made.push(g as GraphFunction<unknown>);
  return g;
};
afterEach(() => made.splice(0).forEach((f) => f.dispose()));

const bits = (a: ArrayLike<number>) => Array.from(a, (x) => (Object.is(x, -0) ? "-0" : String(x)));

function data(shape: number[], seed: number): HostTensor {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  new PhiloxGenerator(seed).fillUniform(out, -1, 1);
  return new HostTensor(shape, "float32", out);
}

/** Scans anywhere in `g`, bodies included. */
const scans = (g: Graph): { length: number }[] =>
  g.nodes.flatMap((n) => (n.op === "scan" ? [n.attrs, ...scans(n.attrs.body)] : n.op === "cond" ? n.attrs.branches.flatMap(scans) : []));

/**
 * An RNN-like scan over `xs [T, 3]` with a captured weight, a second carry and stacked ys, and
 * its loss's gradients for xs, the initial carry and the weight.
 */
const program = (options: ScanOptions) => (xs: SymbolicTensor, h0: SymbolicTensor, w: SymbolicTensor) => {
  const [[h, k], ys] = scan(([h, k], x) => {
    const n = h.mul(w).add(x).tanh();
    return [[n, k.add(n.sum())], [n.square(), k]];
  }, [h0, h0.sum()], xs, options) as unknown as [SymbolicTensor[], SymbolicTensor[]];
  const loss = h.sum().add(k).add(ys[0].mul(ys[1].reshape([ys[1].shape[0], 1])).sum());
  return [h, k, ys[0], loss, ...gradients(loss, [xs, h0, w])];
};

/** Runs `options`'s program compiled with and without the pass; both results and the optimised graph. */
function both(options: ScanOptions, t: number) {
  const args = [data([t, 3], 1), data([3], 2), data([3], 3)];
  const run = (disable: FunctionOptions["disable"]) => {
    const f = fn<HostTensor[]>(program(options), { disable });
    return { out: f(...args).map((x) => bits(x.data)), lowered: f.lower(...args) };
  };
  return { loop: run(["unrollScan"]), unrolled: run([]) };
}

describe("unrolling scans", () => {
  for (const reverse of [false, true]) {
    it(`fully unrolls a short static scan and its gradient scan, with the loop's bits (${reverse ? "reverse" : "forward"})`, () => {
      const { loop, unrolled } = both({ reverse }, 6);
      expect(scans(unrolled.lowered.traced)).toHaveLength(2);
      expect(scans(unrolled.lowered.optimized)).toHaveLength(0);
      expect(scans(loop.lowered.optimized)).toHaveLength(2);
      expect(unrolled.out).toEqual(loop.out);
    });

    it(`unroll: k runs k steps per iteration, the left-over steps after the loop (${reverse ? "reverse" : "forward"})`, () => {
      for (const [t, k] of [[7, 3], [6, 3], [2, 5]]) {
        const { loop, unrolled } = both({ reverse, unroll: k }, t);
        expect(scans(unrolled.lowered.optimized).map((s) => s.length)).toEqual(k >= t ? [] : [Math.floor(t / k), Math.floor(t / k)]);
        expect(unrolled.out).toEqual(loop.out);
      }
    });
  }

  it("keeps a long scan a loop, and follows unroll: true / false whatever the size", () => {
    const long = UNROLL_BUDGET; // with a body of more than one node, over the budget
    const f = (options: ScanOptions) => trace((xs: SymbolicTensor) => scan((c, x) => [c.add(x).tanh(), null], xs.sum({ axis: 0 }), xs, options)[0], [{ shape: [long, 2] }]);
    const auto = f({});
    const attrs = auto.nodes.find((n) => n.op === "scan")!.attrs as Parameters<typeof unrollFactor>[0];
    expect(bodySize(attrs.body)).toBe(2);
    expect(unrollFactor(attrs)).toBeNull();
    expect(unrollFactor(attrs, 2 * long)).toBe("full");
    expect(scans(unrollScans(auto))).toHaveLength(1);
    expect(scans(unrollScans(f({ unroll: true })))).toHaveLength(0);
    expect(scans(unrollScans(f({ unroll: 64 }))).map((s) => s.length)).toEqual([long / 64]);
    const short = (unroll?: boolean | number) => trace((xs: SymbolicTensor) => scan((c, x) => [c.add(x), null], xs.sum({ axis: 0 }), xs, { unroll })[0], [{ shape: [3, 2] }]);
    expect(scans(unrollScans(short()))).toHaveLength(0);
    expect(scans(unrollScans(short(false)))).toHaveLength(1);
    expect(scans(unrollScans(short(1)))).toHaveLength(1);
  });

  it("slices each step from a batch-first input, so the transpose to time-major goes", () => {
    const f = fn<HostTensor>((x: SymbolicTensor) => scan((c, xt) => [c.add(xt), null], x.sum({ axis: 1 }).mul(0), x.transpose(0, 1))[0]);
    const x = data([2, 4, 3], 5);
    const { optimized } = f.lower(x);
    expect(optimized.nodes.map((n) => n.op)).not.toContain("transpose");
    const want = new Float32Array(6);
    for (let b = 0; b < 2; b++) for (let t = 0; t < 4; t++) for (let j = 0; j < 3; j++) want[b * 3 + j] = Math.fround(want[b * 3 + j] + x.data[(b * 4 + t) * 3 + j]);
    expect(bits(f(x).data)).toEqual(bits(want));
  });

  it("validates the option, prints it, and keeps it through JSON", () => {
    const g = (unroll: number | boolean) => trace((xs: SymbolicTensor) => scan((c, x) => [c.add(x), null], xs.sum({ axis: 0 }), xs, { unroll })[0], [{ shape: [3, 2] }]);
    expect(() => g(0)).toThrow("scan: unroll must be true, false or a positive integer (steps per loop iteration), got 0");
    expect(() => g(2.5)).toThrow("got 2.5");
    expect(printGraph(g(2))).toContain("scan[length=3,reverse=false,numCarry=1,numXs=1,unroll=2]");
    expect(fromJSON(toJSON(g(2)))).toEqual(g(2));
    const doc = JSON.parse(toJSON(g(2)));
    doc.graph.nodes.find((n: { op: string }) => n.op === "scan").attrs.unroll = -1;
    expect(() => fromJSON(JSON.stringify(doc))).toThrow(/attrs\.unroll must be a boolean or a positive integer, got -1/);
  });
});

describe("recurrent layers are built on scan", () => {
  it("layers.simpleRNN traces a scan (and its gradient scan), which the compiler unrolls for a short sequence", () => {
    const layer = layers.simpleRNN({ units: 5, inputShape: [null, 4] });
    layer.build(undefined, "float32", new PhiloxGenerator(3));
    const f = fn<HostTensor[]>((x: SymbolicTensor) => {
      const y = layer.apply(x);
      return [y, ...gradients(y.square().sum(), layer.parameters())];
    });
    const x = data([2, 6, 4], 1);
    const { traced, optimized } = f.lower(x);
    expect(scans(traced)).toHaveLength(2);
    expect(scans(optimized)).toHaveLength(0);
    const loop = fn<HostTensor[]>((xi: SymbolicTensor) => {
      const y = layer.apply(xi);
      return [y, ...gradients(y.square().sum(), layer.parameters())];
    }, { disable: ["unrollScan"] });
    expect(scans(loop.lower(x).optimized)).toHaveLength(2);
    expect(f(x).map((t) => bits(t.data))).toEqual(loop(x).map((t) => bits(t.data)));
    layer.dispose();
  });
});
