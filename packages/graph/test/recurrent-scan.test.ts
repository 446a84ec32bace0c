import { describe, expect, it } from "vitest";
import { PhiloxGenerator, composites as C } from "@dualgrad/core";
import { HostTensor, LSTM, RNN, fn, gradients, rnn, traceGraph, type FunctionOptions, type RNNCallOptions, type SymbolicTensor, type Variable } from "../src/index.js";
import { composite } from "../src/symbolic.js";

/**
 * The graph `rnn` and `LSTM` run on `scan`; core's sequences unrolled in the same trace are the
 * reference (what the eager `nn.RNN` / `nn.LSTM` run). Values and weight gradients must be the same
 * bits whatever the options (layers, T = 1 (no scan at all), h0, time-major input, mask,
 * sequences), with the compiler's scan unrolling on (short scans become straight-line code) and off
 * (the loop).
 */

const bits = (a: ArrayLike<number>) => Array.from(a, (x) => (Object.is(x, -0) ? "-0" : String(x)));

function data(shape: number[], seed: number): HostTensor {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  new PhiloxGenerator(seed).fillUniform(out, -1, 1);
  return new HostTensor(shape, "float32", out);
}

/** Core's unrolled sequence as one composite: the same operands and options as {@link rnn}. */
function unrolled(x: SymbolicTensor, r: RNN, o: RNNCallOptions): SymbolicTensor {
  const params = r.parameters();
  const extra = [...(o.mask === undefined ? [] : [o.mask]), ...(o.h0 ?? [])];
  return composite([x, ...extra, ...params], (b, ids) => {
    let k = 1;
    const mask = o.mask === undefined ? undefined : ids[k++];
    const h0 = o.h0 === undefined ? null : o.h0.map(() => ids[k++]);
    const take = (v: unknown) => (v === null ? null : ids[k++]);
    const ls = r.layers.map((p) => ({ weightIh: take(p.weightIh)!, weightHh: take(p.weightHh)!, biasIh: take(p.biasIh), biasHh: take(p.biasHh) }));
    const s = C.rnnSequence(b, ids[0], h0, ls, { nonlinearity: r.nonlinearity, batchFirst: o.batchFirst ?? true, mask });
    return o.returnSequences ? C.stack(b, s.steps, (o.batchFirst ?? true) ? 1 : 0) : s.last[ls.length - 1];
  });
}

/** Compiles `model` with its weights' gradients of sum(y²), runs it on `args`; each result's bits. */
function withGradients(model: (...xs: SymbolicTensor[]) => SymbolicTensor, params: readonly Variable[], args: readonly HostTensor[], disable: FunctionOptions["disable"]): string[][] {
  const f = fn<HostTensor[]>((...xs: SymbolicTensor[]) => {
    const y = model(...xs);
    return [y, ...gradients(y.square().sum(), [...params])];
  }, { disable });
  const out = f(...args).map((t) => bits(t.data));
  f.dispose();
  return out;
}

interface Case { name: string; t: number; layers: number; relu?: boolean; h0?: boolean; timeMajor?: boolean; mask?: number[]; seq?: boolean }
const cases: Case[] = [
  { name: "2 layers, last state", t: 6, layers: 2 },
  { name: "T = 1, sequences", t: 1, layers: 2, seq: true },
  { name: "relu, h0, sequences", t: 4, layers: 2, relu: true, h0: true, seq: true },
  { name: "time-major input, sequences", t: 5, layers: 1, timeMajor: true, seq: true },
  { name: "mask with padding, sequences", t: 7, layers: 2, mask: [1, 1, 1, 1, 0, 0, 0], seq: true },
  { name: "mask starting with 0", t: 3, layers: 1, mask: [0, 1, 1] },
];

describe("graph rnn on scan agrees with core's unrolled sequence bit for bit", () => {
  for (const c of cases) {
    it(`${c.name}: value and weight gradients`, () => {
      const B = 3;
      const r = new RNN(4, 5, { numLayers: c.layers, nonlinearity: c.relu ? "relu" : "tanh", generator: new PhiloxGenerator(7) });
      const x = data(c.timeMajor ? [c.t, B, 4] : [B, c.t, 4], 1);
      const h0 = Array.from({ length: c.layers }, (_, l) => data([B, 5], 10 + l));
      const mask = c.mask === undefined ? undefined : new HostTensor([c.t], "float32", Float32Array.from(c.mask));
      const args = [x, mask ?? new HostTensor([1], "float32", new Float32Array(1)), ...h0];
      const run = (impl: typeof rnn | typeof unrolled, disable: FunctionOptions["disable"] = []) => withGradients((xi: SymbolicTensor, m: SymbolicTensor, ...hs: SymbolicTensor[]) => {
        const o: RNNCallOptions = { batchFirst: !c.timeMajor, returnSequences: c.seq, h0: c.h0 ? hs : undefined, mask: mask === undefined ? undefined : m };
        return impl === rnn ? r.forward(xi, o) : unrolled(xi, r, o);
      }, r.parameters(), args, disable);
      const want = run(unrolled);
      expect(run(rnn)).toEqual(want);
      expect(run(rnn, ["unrollScan"])).toEqual(want);
      for (const v of r.parameters()) v.dispose();
    });
  }

  it("LSTM (2 layers, sequences and last state): values and weight gradients, scan unrolled and as a loop", () => {
    const l = new LSTM(4, 5, { numLayers: 2, generator: new PhiloxGenerator(7) });
    const x = data([3, 5, 4], 1);
    for (const seq of [false, true]) {
      const run = (scanned: boolean, disable: FunctionOptions["disable"] = []) => withGradients((xi: SymbolicTensor) => scanned ? l.forward(xi, { returnSequences: seq }) : composite([xi, ...l.parameters()], (b, [xid, ...ids]) => {
        let k = 0;
        const take = (v: unknown) => (v === null ? null : ids[k++]);
        const ls = l.layers.map((p) => ({ weightIh: take(p.weightIh)!, weightHh: take(p.weightHh)!, biasIh: take(p.biasIh), biasHh: take(p.biasHh) }));
        const s = C.lstmSequence(b, xid, null, ls, true);
        return seq ? C.stack(b, s.steps, 1) : s.last[ls.length - 1].h;
      }), l.parameters(), [x], disable);
      const want = run(false);
      expect(run(true)).toEqual(want);
      expect(run(true, ["unrollScan"])).toEqual(want);
    }
    for (const v of l.parameters()) v.dispose();
  });

  it("traces one step whatever the length: the graph does not grow with T", () => {
    const r = new RNN(4, 5, { numLayers: 2, generator: new PhiloxGenerator(7) });
    const size = (t: number) => traceGraph(((xi: SymbolicTensor) => r.forward(xi)) as never, [data([2, t, 4], 1)]).graph.nodes.length;
    expect(size(50)).toBe(size(3));
    expect(size(3)).toBeLessThan(traceGraph(((xi: SymbolicTensor) => unrolled(xi, r, {})) as never, [data([2, 3, 4], 1)]).graph.nodes.length * 2);
    for (const v of r.parameters()) v.dispose();
  });

  it("rejects a mask that is not one value per step", () => {
    const r = new RNN(4, 5, { generator: new PhiloxGenerator(7) });
    const f = fn<HostTensor>((xi: SymbolicTensor, m: SymbolicTensor) => r.forward(xi, { mask: m }));
    expect(() => f(data([2, 3, 4], 1), new HostTensor([4], "float32", new Float32Array(4)))).toThrow("RNN: mask must be [3] (one 1/0 per step), got [4]");
    f.dispose();
    for (const v of r.parameters()) v.dispose();
  });
});
