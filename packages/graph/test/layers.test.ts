import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DualgradError, PhiloxGenerator, allocator, readSafetensors } from "@dualgrad/core";
import { HostTensor, Linear, optimizers, tensor } from "../src/index.js";
import { Dense, layers, sequential, type EpochLogs } from "../src/layers/index.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dualgrad-layers-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** y = 3x + 2 on an even grid of [-1, 1] (deterministic, noise-free). */
function lineData(n: number): { x: HostTensor; y: HostTensor } {
  const xs = new Float32Array(n);
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = -1 + (2 * i) / (n - 1);
    ys[i] = 3 * xs[i] + 2;
  }
  return { x: tensor(xs, [n, 1]), y: tensor(ys, [n, 1]) };
}

/** Three well-separated 2-D clusters, classes interleaved so any tail slice holds all of them. */
function blobs(n: number, seed = 1): { x: HostTensor; y: HostTensor } {
  const centers = [[2, 0], [-1, 1.7], [-1, -1.7]];
  const noise = new PhiloxGenerator(seed).normal(2 * n, 0, 0.35);
  const xs = new Float32Array(2 * n);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    ys[i] = c;
    xs[2 * i] = centers[c][0] + noise[2 * i];
    xs[2 * i + 1] = centers[c][1] + noise[2 * i + 1];
  }
  return { x: tensor(xs, [n, 2]), y: tensor(ys, [n], "int32") };
}

describe("layers.dense + sequential: training", () => {
  it("linear regression with sgd + mse recovers y = 3x + 2; loss decreases; onEpochEnd once per epoch", async () => {
    const model = sequential([layers.dense({ units: 1, inputShape: [1] })], { seed: 0 });
    model.compile({ optimizer: optimizers.sgd(0.1), loss: "mse" });
    const { x, y } = lineData(32);
    const seen: [number, EpochLogs][] = [];
    const epochs = 150;
    // Full-batch GD on a quadratic with a small enough step decreases the loss monotonically.
    const history = await model.fit(x, y, { epochs, batchSize: 32, onEpochEnd: (e, logs) => void seen.push([e, { ...logs }]) });
    const [kernel, bias] = model.getWeights();
    expect(kernel.shape).toEqual([1, 1]);
    expect(kernel.data[0]).toBeCloseTo(3, 1);
    expect(Math.abs(kernel.data[0] - 3)).toBeLessThan(0.05);
    expect(Math.abs(bias.data[0] - 2)).toBeLessThan(0.05);
    const loss = history.history.loss;
    expect(loss).toHaveLength(epochs);
    // (a float32 rounding allowance once the loss is near zero)
    for (let i = 1; i < loss.length; i++) expect(loss[i]).toBeLessThanOrEqual(loss[i - 1] * (1 + 1e-6) + 1e-9);
    expect(loss[epochs - 1]).toBeLessThan(loss[0] * 1e-3);
    expect(history.epoch).toEqual(Array.from({ length: epochs }, (_, i) => i));
    expect(history.history.valLoss).toBeUndefined();
    expect(seen.map(([e]) => e)).toEqual(history.epoch);
    expect(seen[5][1].loss).toBe(loss[5]);
    model.dispose();
  });

  it("a small classifier with sparse CE + adam reaches > 90% accuracy; validationSplit gives valLoss/valAcc", async () => {
    const model = sequential(
      [layers.dense({ units: 16, activation: "relu", inputShape: [2] }), layers.dense({ units: 3 })],
      { seed: 3 },
    );
    model.compile({ optimizer: optimizers.adam(0.02), loss: "sparseCategoricalCrossentropy" });
    const { x, y } = blobs(150);
    const history = await model.fit(x, y, { epochs: 15, batchSize: 16, validationSplit: 0.2, seed: 5 });
    const h = history.history;
    expect(h.valLoss).toHaveLength(15);
    expect(h.acc).toHaveLength(15);
    expect(h.valAcc).toHaveLength(15);
    expect(h.valLoss![14]).toBeLessThan(h.valLoss![0]);
    expect(h.valAcc![14]).toBeGreaterThan(0.9);
    const { loss, acc } = model.evaluate(x, y);
    expect(acc).toBeGreaterThan(0.9);
    expect(loss).toBeLessThan(0.5);
    // acc agrees with argmax of predict
    const out = model.predict(x);
    let correct = 0;
    for (let i = 0; i < 150; i++) {
      const row = Array.from(out.data.subarray(3 * i, 3 * i + 3));
      if (row.indexOf(Math.max(...row)) === y.data[i]) correct++;
    }
    expect(correct / 150).toBeCloseTo(acc!, 10);
    model.dispose();
  });

  it("the training step is compiled once per batch shape (full batch + short last batch)", async () => {
    const model = sequential([layers.dense({ units: 4, activation: "tanh", inputShape: [3] }), layers.dense({ units: 2 })], { seed: 1 });
    model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
    expect(model.traceCount).toBe(0);
    const n = 10;
    const x = tensor(Float32Array.from({ length: n * 3 }, (_, i) => Math.sin(i)), [n, 3]);
    const y = tensor(Float32Array.from({ length: n * 2 }, (_, i) => Math.cos(i)), [n, 2]);
    await model.fit(x, y, { epochs: 3, batchSize: 4 });
    expect(model.traceCount).toBe(2); // batches of 4, 4, 2
    await model.fit(x, y, { epochs: 2, batchSize: 4, shuffle: false });
    expect(model.traceCount).toBe(2);
    await model.fit(x, y, { epochs: 1, batchSize: 5 });
    expect(model.traceCount).toBe(3);
    model.dispose();
  });

  it("shuffling is reproducible from a seed, and the same seed trains to the same weights", async () => {
    const run = async () => {
      const m = sequential([layers.dense({ units: 2, activation: "sigmoid", inputShape: [2] }), layers.dense({ units: 1 })], { seed: 9 });
      m.compile({ optimizer: "adam", loss: "mse" });
      const x = tensor(Float32Array.from({ length: 40 }, (_, i) => Math.sin(3 * i)), [20, 2]);
      const y = tensor(Float32Array.from({ length: 20 }, (_, i) => Math.cos(i)), [20, 1]);
      await m.fit(x, y, { epochs: 3, batchSize: 3, seed: 42 });
      const w = m.getWeights().map((t) => Array.from(t.data));
      m.dispose();
      return w;
    };
    expect(await run()).toEqual(await run());
  });
});

describe("Sequential: inference, weights and summary", () => {
  it("initial weights follow the seed, layer by layer, weight then bias (as graph/eager Linear layers)", () => {
    const model = sequential([layers.dense({ units: 3, inputShape: [2] }), layers.dense({ units: 2 })], { seed: 7 });
    const gen = new PhiloxGenerator(7);
    const l1 = new Linear(2, 3, { generator: gen, name: "ref1" });
    const l2 = new Linear(3, 2, { generator: gen, name: "ref2" });
    const [k1, b1, k2, b2] = model.getWeights();
    expect(k1.shape).toEqual([2, 3]); // Keras layout [in, out]
    expect(k2.shape).toEqual([3, 2]);
    // kernel[i][o] == weight[o][i]
    for (let i = 0; i < 2; i++) for (let o = 0; o < 3; o++) expect(k1.data[i * 3 + o]).toBe(l1.weight.data[o * 2 + i]);
    for (let i = 0; i < 3; i++) for (let o = 0; o < 2; o++) expect(k2.data[i * 2 + o]).toBe(l2.weight.data[o * 3 + i]);
    expect(Array.from(b1.data)).toEqual(Array.from(l1.bias!.data));
    expect(Array.from(b2.data)).toEqual(Array.from(l2.bias!.data));
    for (const p of [...l1.parameters(), ...l2.parameters()]) p.dispose();
    model.dispose();
  });

  it("predict returns [N, units] and matches hand-set Keras-layout weights; setWeights round trips", () => {
    const model = sequential([layers.dense({ units: 2, inputShape: [3], activation: "relu" }), layers.dense({ units: 1, useBias: false })]);
    // kernel [in=3, out=2]: column o holds unit o's weights.
    const k1 = tensor([[1, -1], [2, 0], [0, 1]]);
    const b1 = tensor([0.5, -0.5]);
    const k2 = tensor([[1], [10]]);
    model.setWeights([k1, b1, k2]);
    const got = model.getWeights();
    expect(got.map((t) => t.shape)).toEqual([[3, 2], [2], [2, 1]]);
    expect(got.map((t) => t.toArray())).toEqual([k1.toArray(), b1.toArray(), k2.toArray()]);
    // PyTorch layout inside: weight [out, in]
    expect((model.layers[0] as Dense).weight.shape).toEqual([2, 3]);
    expect(Array.from((model.layers[0] as Dense).weight.data)).toEqual([1, 2, 0, -1, 0, 1]);
    const x = tensor([[1, 1, 1], [0, 0, 0], [-1, 2, 3], [1, 0, 0], [0, 1, 0]]);
    const out = model.predict(x, { batchSize: 2 });
    expect(out.shape).toEqual([5, 1]);
    const ref = (r: number[]) => {
      const h0 = Math.max(0, r[0] + 2 * r[1] + 0.5);
      const h1 = Math.max(0, -r[0] + r[2] - 0.5);
      return h0 + 10 * h1;
    };
    const rows = x.toArray() as number[][];
    rows.forEach((r, i) => expect(out.data[i]).toBeCloseTo(ref(r), 5));
    model.dispose();
  });

  it("summary prints layers, output shapes and parameter counts with totals", () => {
    const model = sequential(
      [layers.dense({ units: 16, activation: "relu", inputShape: [4], name: "hidden" }), layers.dense({ units: 3, name: "logits" })],
      { name: "clf" },
    );
    const lines: string[] = [];
    model.summary((l) => lines.push(l));
    const text = lines.join("\n");
    expect(text).toContain('Model: "clf"');
    expect(text).toMatch(/Layer \(type\)\s+Output Shape\s+Param #/);
    expect(text).toMatch(/hidden \(Dense\)\s+\(None, 16\)\s+80\n/);
    expect(text).toMatch(/logits \(Dense\)\s+\(None, 3\)\s+51\n/);
    expect(text).toContain("Total params: 131");
    expect(text).toContain("Trainable params: 131");
    expect(model.countParams()).toBe(131);
    model.dispose();
  });

  it("shape and configuration errors name the layer, the shapes and the valid choices", () => {
    const model = sequential([layers.dense({ units: 3, inputShape: [2], name: "first" }), layers.dense({ units: 1, name: "second" })]);
    const w = model.getWeights();
    // a PyTorch-layout kernel where Keras layout is expected
    expect(() => model.setWeights([tensor(new Float32Array(6), [3, 2]), w[1], w[2], w[3]])).toThrow(
      "setWeights: layer 'first' kernel (weight 0) must have shape [2,3] (Keras layout [in, out]), got [3,2]",
    );
    expect(() => model.setWeights([w[0], w[1], w[2], tensor([1, 2])])).toThrow("setWeights: layer 'second' bias (weight 3) must have shape [1], got [2]");
    expect(() => model.setWeights(w.slice(0, 3))).toThrow(/the model has 4 weight tensors \(first: \[2,3\] \[3\], second: \[3,1\] \[1\]\), got 3/);
    expect(() => model.layers[0].setWeights([w[1], w[0]])).toThrow(/layer 'first' kernel must have shape \[2,3\]/);
    // nothing was written by the failing calls
    expect(model.getWeights().map((t) => Array.from(t.data))).toEqual(w.map((t) => Array.from(t.data)));

    expect(() => model.compile({ optimizer: "sgd", loss: "crossEntropy" as never })).toThrow(
      /unknown loss "crossEntropy"; valid choices: 'mse', 'meanSquaredError', 'sparseCategoricalCrossentropy'/,
    );
    expect(() => model.compile({ optimizer: "rmsprop" as never, loss: "mse" })).toThrow(/unknown optimizer "rmsprop"; valid choices: 'sgd', 'adam' or a GraphOptimizer/);
    expect(() => model.evaluate(tensor([[1, 2]]), tensor([[1]]))).toThrow(/must be compiled first/);
    model.compile({ optimizer: "sgd", loss: "mse" });
    expect(() => model.predict(tensor([[1, 2, 3]]))).toThrow("predict: x must have shape [N, 2], got [1,3]");
    expect(() => model.evaluate(tensor([[1, 2]]), tensor([[1, 2]]))).toThrow("evaluate: y must have shape [1, 1] (the model's output), got [1,2]");
    expect(() => sequential([layers.dense({ units: 2 })])).toThrow(/first layer .* needs inputShape/);
    expect(() => layers.dense({ units: 2, activation: "gelu" as never })).toThrow(/valid choices: 'relu', 'tanh', 'sigmoid', 'linear'/);
    expect(() => layers.dense({ units: 0 })).toThrow(DualgradError);
    const used = model.layers[0];
    expect(() => sequential([used])).toThrow(/already built/);
    const fresh = layers.dense({ units: 2, name: "fresh" });
    expect(() => sequential([layers.dense({ units: 3, inputShape: [2] }), fresh, layers.dense({ units: 1, inputShape: [5] })])).toThrow(
      /layer 'dense(_\d+)?' has inputShape \[5\] but the previous layer outputs 2 units/,
    );
    expect(fresh.built).toBe(false); // nothing was built by the failed construction
    model.dispose();

    const clf = sequential([layers.dense({ units: 3, inputShape: [2] })]);
    clf.compile({ optimizer: "adam", loss: "sparseCategoricalCrossentropy" });
    expect(() => clf.evaluate(tensor([[1, 2]]), tensor([3], [1], "int32"))).toThrow(/label 3 at index 0 is not a class index in \[0, 3\)/);
    clf.dispose();
  });
});

describe("Sequential: save/load and disposal", () => {
  it("save writes PyTorch names and layout (0.weight [out,in], 0.bias, 2.weight, ...); load round trips", () => {
    const a = sequential(
      [layers.dense({ units: 4, activation: "tanh", inputShape: [3] }), layers.dense({ units: 5, activation: "relu" }), layers.dense({ units: 2 })],
      { seed: 11 },
    );
    const file = path.join(tmp, "model.safetensors");
    a.save(file);
    const st = readSafetensors(file);
    expect([...st.tensors.keys()]).toEqual(["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]);
    expect([...st.tensors.values()].map((t) => [t.dtype, t.shape])).toEqual([
      ["F32", [4, 3]], ["F32", [4]], ["F32", [5, 4]], ["F32", [5]], ["F32", [2, 5]], ["F32", [2]],
    ]);
    expect(Array.from(st.tensors.get("2.weight")!.data as Float32Array)).toEqual(Array.from((a.layers[1] as Dense).weight.data));
    expect(st.metadata.format).toBe("pt");
    // no temp file left behind by the atomic write
    expect(fs.readdirSync(tmp).filter((f) => f !== "model.safetensors")).toEqual([]);

    const b = sequential(
      [layers.dense({ units: 4, activation: "tanh", inputShape: [3] }), layers.dense({ units: 5, activation: "relu" }), layers.dense({ units: 2 })],
      { seed: 12, dtype: "float64" },
    );
    expect(Array.from(b.getWeights()[0].data)).not.toEqual(Array.from(a.getWeights()[0].data));
    b.load(file);
    expect(b.getWeights().map((t) => Array.from(t.data))).toEqual(a.getWeights().map((t) => Array.from(t.data)));
    const x = tensor(Float32Array.from({ length: 12 }, (_, i) => i / 6 - 1), [4, 3]);
    const pa = a.predict(x);
    const pb = b.predict(x);
    pa.data.forEach((v, i) => expect(pb.data[i]).toBeCloseTo(v, 5));

    const wrong = sequential([layers.dense({ units: 4, inputShape: [3] }), layers.dense({ units: 2 })]);
    expect(() => wrong.load(file)).toThrow(/missing keys \[\], unexpected keys \[4\.weight, 4\.bias\]/);
    const wrongShape = sequential([layers.dense({ units: 4, inputShape: [3] }), layers.dense({ units: 6 }), layers.dense({ units: 2 })]);
    expect(() => wrongShape.load(file)).toThrow(`load: '${file}': size mismatch for 2.weight: the file has shape [5,4], the model has [6,4] (PyTorch layout [out, in])`);
    for (const m of [a, b, wrong, wrongShape]) m.dispose();
  });

  it("dispose frees the variables, the optimizer slots and the compiled functions", async () => {
    const before = allocator.stats().liveBytes;
    const model = sequential([layers.dense({ units: 8, activation: "relu", inputShape: [4] }), layers.dense({ units: 2 })], { seed: 2 });
    model.compile({ optimizer: "adam", loss: "sparseCategoricalCrossentropy" });
    const x = tensor(Float32Array.from({ length: 40 }, (_, i) => Math.sin(i)), [10, 4]);
    const y = tensor(Int32Array.from({ length: 10 }, (_, i) => i % 2), [10], "int32");
    await model.fit(x, y, { epochs: 2, batchSize: 4, validationSplit: 0.3 });
    model.predict(x);
    expect(allocator.stats().liveBytes).toBeGreaterThan(before);
    model.dispose();
    expect(allocator.stats().liveBytes).toBe(before);
    await expect(model.fit(x, y)).rejects.toThrow(/was disposed/);
  });
});
