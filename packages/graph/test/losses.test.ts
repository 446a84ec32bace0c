import { describe, expect, it } from "vitest";
import {
  Adam, SGD, fn, gradients, layers, losses, mseLoss, sequential, tensor, type HostTensor, type SymbolicTensor,
} from "../src/index.js";

/** Runs `f` once as a compiled function on `args` and returns its scalar output. */
function value(f: (...a: SymbolicTensor[]) => SymbolicTensor, ...args: HostTensor[]): number {
  const g = fn(f as never);
  const out = (g(...args) as HostTensor).item();
  g.dispose();
  return out;
}

const f64 = (rows: number[][]) => tensor(rows, undefined, "float64");
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const clip = (p: number) => Math.min(Math.max(p, 1e-7), 1 - 1e-7);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("losses: Keras's loss objects, (yTrue, yPred)", () => {
  const yTrue = f64([[1, 0], [0, 1], [1, 1]]);
  const logits = f64([[2, -1], [0.5, 3], [-0.3, 0.7]]);
  const probs = f64([[0.9, 0.2], [0, 1], [0.6, 0.3]]); // contains 0 and 1: clipping matters

  it("MeanSquaredError is mseLoss with the arguments swapped, bit for bit", () => {
    const a = tensor([[1.5], [2], [-3]]);
    const b = tensor([[1], [2.25], [0.5]]);
    const keras = value((t, p) => new losses.MeanSquaredError().call(t, p), a, b);
    expect(keras).toBe(value((t, p) => mseLoss(p, t), a, b));
    expect(keras).toBeCloseTo(mean([0.25, 0.0625, 12.25]), 6);
  });

  it("BinaryCrossentropy: from logits, and from probabilities clipped to [1e-7, 1 - 1e-7] as Keras", () => {
    const z = (yTrue.data as Float64Array);
    const fromLogits = value((t, p) => new losses.BinaryCrossentropy({ fromLogits: true }).call(t, p), yTrue, logits);
    const refLogits = mean(Array.from(logits.data, (x, i) => -(z[i] * Math.log(sigmoid(x)) + (1 - z[i]) * Math.log(1 - sigmoid(x)))));
    expect(fromLogits).toBeCloseTo(refLogits, 12);
    const fromProbs = value((t, p) => new losses.BinaryCrossentropy().call(t, p), yTrue, probs);
    const refProbs = mean(Array.from(probs.data, (p, i) => -(z[i] * Math.log(clip(p)) + (1 - z[i]) * Math.log(1 - clip(p)))));
    expect(fromProbs).toBeCloseTo(refProbs, 12);
    expect(Number.isFinite(fromProbs)).toBe(true);
  });

  it("CategoricalCrossentropy: probabilities are normalised per row and clipped; logits go through log-softmax", () => {
    const rows = [[0.9, 0.2], [0, 1], [0.6, 0.3]];
    const onehot = [[1, 0], [0, 1], [0, 1]];
    const probsRef = mean(rows.map((r, i) => {
      const s = r[0] + r[1];
      return -onehot[i].reduce((acc, y, j) => acc + y * Math.log(clip(r[j] / s)), 0);
    }));
    expect(value((t, p) => new losses.CategoricalCrossentropy().call(t, p), f64(onehot), probs)).toBeCloseTo(probsRef, 12);
    const l = [[2, -1], [0.5, 3], [-0.3, 0.7]];
    const logitsRef = mean(l.map((r, i) => {
      const lse = Math.log(Math.exp(r[0]) + Math.exp(r[1]));
      return -onehot[i].reduce((acc, y, j) => acc + y * (r[j] - lse), 0);
    }));
    expect(value((t, p) => new losses.CategoricalCrossentropy({ fromLogits: true }).call(t, p), f64(onehot), logits)).toBeCloseTo(logitsRef, 12);
  });

  it("SparseCategoricalCrossentropy equals the categorical one on one-hot targets, bit for bit, both ways", () => {
    const labels = tensor([0, 1, 1], [3], "int32");
    const onehot = f64([[1, 0], [0, 1], [0, 1]]);
    for (const fromLogits of [true, false]) {
      const input = fromLogits ? logits : probs;
      const sparse = value((t, p) => new losses.SparseCategoricalCrossentropy({ fromLogits }).call(t, p), labels, input);
      const dense = value((t, p) => new losses.CategoricalCrossentropy({ fromLogits }).call(t, p), onehot, input);
      expect(sparse).toBe(dense);
    }
  });

  it("gradients through the probability forms match central differences (away from the clip)", () => {
    const target = f64([[0, 1, 0], [1, 0, 0]]);
    const p0 = [0.2, 0.5, 0.3, 0.6, 0.1, 0.3];
    for (const loss of [new losses.BinaryCrossentropy(), new losses.CategoricalCrossentropy()]) {
      const at = (ps: number[]) => value((t, p) => loss.call(t, p), target, f64([ps.slice(0, 3), ps.slice(3)]));
      const g = fn((t: SymbolicTensor, p: SymbolicTensor) => gradients(loss.call(t, p), [p])[0]);
      const analytic = Array.from((g(target, f64([p0.slice(0, 3), p0.slice(3)])) as HostTensor).data);
      g.dispose();
      const h = 1e-6;
      const numeric = p0.map((_, i) => (at(p0.map((q, j) => (j === i ? q + h : q))) - at(p0.map((q, j) => (j === i ? q - h : q)))) / (2 * h));
      analytic.forEach((a, i) => expect(a).toBeCloseTo(numeric[i], 6));
    }
  });

  it("bad calls are one-line errors naming the loss", () => {
    const labels = tensor([0, 1, 1], [3], "int32");
    expect(() => value((t, p) => new losses.CategoricalCrossentropy().call(t, p), labels, probs)).toThrow(/CategoricalCrossentropy: targets must be one-hot/);
    expect(() => value((t, p) => new losses.SparseCategoricalCrossentropy().call(t, p), yTrue, probs)).toThrow(/labels must be int32 class indices/);
    expect(() => value((t, p) => new losses.BinaryCrossentropy().call(t, p), f64([[1]]), probs)).toThrow(/binaryCrossEntropy: probabilities \[3,2\] and target \[1,1\]/);
    expect(() => new losses.BinaryCrossentropy({ fromLogits: "yes" as never })).toThrow(/BinaryCrossentropy: fromLogits must be a boolean/);
    expect(() => value((t) => new losses.MeanSquaredError().call(t, tensor([1]) as never), yTrue)).toThrow(/yPred must be a symbolic tensor \(Keras's order/);
  });
});

describe("Keras's optimizer names and compile forms", () => {
  it("Keras's names give the same configuration as PyTorch's; conflicts, misspellings and a missing rate are errors", () => {
    expect(new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true }).config).toEqual(new SGD({ lr: 0.1, momentum: 0.9, nesterov: true }).config);
    const keras = new Adam({ learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-7 });
    const torch = new Adam({ lr: 0.01, betas: [0.8, 0.99], eps: 1e-7 });
    expect([keras.lr, keras.beta1, keras.beta2, keras.eps]).toEqual([torch.lr, torch.beta1, torch.beta2, torch.eps]);
    expect(new Adam({ beta2: 0.9 }).beta1).toBe(0.9);
    expect(() => new SGD({ lr: 0.1, learningRate: 0.2 })).toThrow(/lr 0.1 and learningRate 0.2 name the same hyper-parameter/);
    expect(() => new Adam({ learning_rate: 0.1 } as never)).toThrow(/Adam: unknown option 'learning_rate'; valid options: lr, learningRate/);
    expect(() => new SGD({})).toThrow(/SGD: invalid learning rate undefined \(give lr or learningRate/);
  });

  it("compile takes loss objects and Keras's { className, config }; fit trains with them", async () => {
    const xs = new Float32Array(32).map((_, i) => i / 16 - 1);
    const x = tensor(xs, [32, 1]);
    const mseModel = sequential([layers.dense({ units: 1, inputShape: [1] })], { seed: 2 });
    mseModel.compile({ optimizer: { className: "SGD", config: { learningRate: 0.2 } }, loss: new losses.MeanSquaredError() });
    await mseModel.fit(x, tensor(xs.map((v) => 3 * v + 2), [32, 1]), { epochs: 150, batchSize: 32 });
    const [k, b] = mseModel.getWeights();
    expect(Math.abs(k.data[0] - 3)).toBeLessThan(0.02);
    expect(Math.abs(b.data[0] - 2)).toBeLessThan(0.02);
    mseModel.dispose();

    const clf = sequential([layers.dense({ units: 1, activation: "sigmoid", inputShape: [1] })], { seed: 2 });
    clf.compile({ optimizer: { className: "Adam", config: { learningRate: 0.1 } }, loss: new losses.BinaryCrossentropy() });
    const h = await clf.fit(x, tensor(xs.map((v) => (v > 0 ? 1 : 0)), [32, 1]), { epochs: 40, batchSize: 32 });
    expect(h.history.loss[39]).toBeLessThan(h.history.loss[0] / 3);
    expect(() => clf.compile({ optimizer: { className: "Nadam" } as never, loss: "mse" })).toThrow(/unknown optimizer className "Nadam"/);
    clf.dispose();
  });
});
