import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PhiloxGenerator, readSafetensors, toDTypeArray } from "@dualgrad/core";
import { relativeError } from "../../core/test/helpers.js";
import { HostTensor, LSTM, Linear, RNN, fn, gradients, layers, mseLoss, rnn, type SymbolicTensor } from "../src/index.js";

/** Graph-side RNN: init draws, unrolled trace, masks and the Keras-style layer. */
function input(b: number, t: number, f: number, seed = 1): HostTensor {
  const data = new Float32Array(b * t * f);
  new PhiloxGenerator(seed).fillUniform(data, -1, 1);
  return new HostTensor([b, t, f], "float32", data);
}

describe("graph RNN", () => {
  it("names and draws its variables like PyTorch's nn.RNN, every value within ±1/sqrt(hidden)", () => {
    const r = new RNN(3, 16, { numLayers: 2, generator: new PhiloxGenerator(5) });
    expect(r.names).toEqual(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"]);
    expect(r.parameters().map((v) => v.shape)).toEqual([[16, 3], [16, 16], [16], [16], [16, 16], [16, 16], [16], [16]]);
    for (const v of r.parameters()) for (const x of v.data) expect(Math.abs(x)).toBeLessThan(0.25);
    const again = new RNN(3, 16, { numLayers: 2, generator: new PhiloxGenerator(5) });
    expect(again.parameters().map((v) => Array.from(v.data))).toEqual(r.parameters().map((v) => Array.from(v.data)));
    for (const v of [...r.parameters(), ...again.parameters()]) v.dispose();
  });

  it("a masked, padded sequence ends in the state of its last real step, bit for bit; sequences stack in time order", () => {
    const r = new RNN(4, 8, { generator: new PhiloxGenerator(2) });
    const last = fn<HostTensor>((x: SymbolicTensor) => r.forward(x));
    const masked = fn<HostTensor>((x: SymbolicTensor, m: SymbolicTensor) => r.forward(x, { mask: m }));
    const seq = fn<HostTensor>((x: SymbolicTensor) => r.forward(x, { returnSequences: true }));
    const x5 = input(3, 5, 4);
    // Pad 5 steps to 9 with garbage the mask must ignore.
    const padded = new Float32Array(3 * 9 * 4).fill(7);
    for (let i = 0; i < 3; i++) padded.set(x5.data.subarray(i * 20, (i + 1) * 20), i * 36);
    const mask = new HostTensor([9], "float32", Float32Array.from([1, 1, 1, 1, 1, 0, 0, 0, 0]));
    const want = Array.from(last(x5).data);
    expect(Array.from(masked(new HostTensor([3, 9, 4], "float32", padded), mask).data)).toEqual(want);
    const all = seq(x5);
    expect(all.shape).toEqual([3, 5, 8]);
    // The last step of each row of the sequence is the last state.
    const lastSteps = [0, 1, 2].flatMap((i) => Array.from(all.data.subarray(i * 40 + 32, i * 40 + 40)));
    expect(lastSteps).toEqual(want);
    // One trace per length: T is static.
    last(input(3, 6, 4));
    expect(last.traceCount).toBe(2);
    for (const f of [last, masked, seq]) f.dispose();
    for (const v of r.parameters()) v.dispose();
  });

  it("layers.simpleRNN builds from its input shape, applies with relu, and checks its config", () => {
    const layer = layers.simpleRNN({ units: 6, activation: "relu", inputShape: [null, 4] });
    layer.build(undefined, "float32", new PhiloxGenerator(3));
    expect(layer.namedParameters().map(([n]) => n)).toEqual(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]);
    const f = fn<HostTensor>((x: SymbolicTensor) => layer.apply(x));
    const out = f(input(2, 3, 4));
    expect(out.shape).toEqual([2, 6]);
    expect(Math.min(...out.data)).toBeGreaterThanOrEqual(0);
    f.dispose();
    layer.dispose();
    expect(() => layers.simpleRNN({ units: 0 })).toThrow("layers.simpleRNN: units must be a positive integer, got 0");
    expect(() => layers.simpleRNN({ units: 2, activation: "sigmoid" as "relu" })).toThrow(/unknown activation "sigmoid"/);
    expect(() => layers.simpleRNN({ units: 2 }).apply(null as unknown as SymbolicTensor)).toThrow(/not built yet/);
    expect(() => rnn(input(1, 2, 4) as unknown as SymbolicTensor, [])).toThrow("rnn: needs at least one layer");
  });
});

describe("graph LSTM against PyTorch (torch-lstm-mse-f64)", () => {
  it("gives PyTorch's output, loss and gradients within 1e-10", () => {
    const file = readSafetensors(fileURLToPath(new URL("../../eager/test/fixtures/torch-lstm-mse-f64.safetensors", import.meta.url)));
    const m = file.metadata;
    const get = (n: string) => toDTypeArray(file.tensors.get(n)!, "float64", n);
    const lstm = new LSTM(+m.input_size, +m.hidden_size, { dtype: "float64" });
    const head = new Linear(+m.hidden_size, +m.output_size, { dtype: "float64" });
    expect(lstm.parameters().map((v) => v.shape)).toEqual(lstm.names.map((n) => file.tensors.get(`params.rnn.${n}`)!.shape));
    lstm.parameters().forEach((v, i) => v.assign(get(`params.rnn.${lstm.names[i]}`)));
    head.weight.assign(get("params.head.weight"));
    head.bias!.assign(get("params.head.bias"));
    const params = [...lstm.parameters(), ...head.parameters()];
    const names = [...lstm.names.map((n) => `rnn.${n}`), "head.weight", "head.bias"];
    const x = new HostTensor(file.tensors.get("input")!.shape, "float64", get("input"));
    const y = new HostTensor(file.tensors.get("target")!.shape, "float64", get("target"));
    const forward = fn<HostTensor>((xi: SymbolicTensor) => head.forward(lstm.forward(xi)));
    const grads = fn<HostTensor[]>((xi: SymbolicTensor, yi: SymbolicTensor) => {
      const loss = mseLoss(head.forward(lstm.forward(xi)), yi);
      return [loss, ...gradients(loss, params)];
    });
    expect(relativeError(forward(x).data, get("output"))).toBeLessThanOrEqual(1e-10);
    const [loss, ...gs] = grads(x, y);
    expect(relativeError(loss.data, get("loss"))).toBeLessThanOrEqual(1e-10);
    gs.forEach((g, i) => expect(relativeError(g.data, get(`grad.${names[i]}`)), names[i]).toBeLessThanOrEqual(1e-10));
    forward.dispose();
    grads.dispose();
    for (const v of params) v.dispose();
  });
});
