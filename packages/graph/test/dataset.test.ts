import { describe, expect, it } from "vitest";
import { DualgradError, manualSeed } from "@dualgrad/core";
import { data, layers, optimizers, sequential, tensor, type HostTensor, type SymbolicTensor } from "../src/index.js";

const { Dataset } = data;
const arr = (t: HostTensor) => Array.from(t.data);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** A dataset of the numbers 0..n-1 as rank-0 float32 elements. */
const numbers = (n: number) => Dataset.fromTensorSlices(tensor(range(n)));
const values = (ds: Iterable<HostTensor>) => [...ds].map((t) => t.item());

describe("Dataset.fromTensorSlices", () => {
  it("slices x, [x, y], { x, y } and nested number arrays along the first dimension, copying each row", () => {
    const x = tensor([[1, 2], [3, 4], [5, 6]]);
    const y = tensor([0, 1, 2], [3], "int32");
    const single = [...Dataset.fromTensorSlices(x)];
    expect(single.map((t) => [t.shape, arr(t)])).toEqual([[[2], [1, 2]], [[2], [3, 4]], [[2], [5, 6]]]);
    const pairs = [...Dataset.fromTensorSlices([x, y])];
    expect(pairs.map(([a, b]) => [arr(a), b.dtype, b.shape, b.item()])).toEqual([[[1, 2], "int32", [], 0], [[3, 4], "int32", [], 1], [[5, 6], "int32", [], 2]]);
    const dicts = [...Dataset.fromTensorSlices({ x, y })];
    expect(Object.keys(dicts[1])).toEqual(["x", "y"]);
    expect(arr(dicts[1].x)).toEqual([3, 4]);
    expect(values(Dataset.fromTensorSlices([1, 2, 3]))).toEqual([1, 2, 3]);
    single[0].data[0] = 99;
    expect(x.data[0]).toBe(1);
  });

  it("rejects components with different first dimensions, scalars and non-tensors", () => {
    expect(() => Dataset.fromTensorSlices([tensor([1, 2, 3]), tensor([1, 2])])).toThrow(/component 0 has 3 rows, component 1 has shape \[2\]/);
    expect(() => Dataset.fromTensorSlices(tensor(5, []))).toThrow(/component 0 is a scalar/);
    expect(() => Dataset.fromTensorSlices({ x: "text" } as never)).toThrow(DualgradError);
  });
});

describe("Dataset transformations", () => {
  it("batch stacks consecutive elements, keeping the structure; dropRemainder drops a short last batch", () => {
    const x = tensor(range(10).map((i) => [i, -i]));
    const ds = Dataset.fromTensorSlices({ x, y: tensor(range(10), [10], "int32") });
    const batches = [...ds.batch(4)];
    expect(batches.map((b) => b.x.shape)).toEqual([[4, 2], [4, 2], [2, 2]]);
    expect(batches.map((b) => [b.y.dtype, arr(b.y)])).toEqual([["int32", [0, 1, 2, 3]], ["int32", [4, 5, 6, 7]], ["int32", [8, 9]]]);
    expect(arr(batches[2].x)).toEqual([8, -8, 9, -9]);
    expect([...ds.batch(4, { dropRemainder: true })].map((b) => b.x.shape[0])).toEqual([4, 4]);
    expect(() => ds.batch(0)).toThrow(/Dataset.batch: batchSize: expected an integer >= 1, got 0/);
  });

  it("shuffle with a full buffer permutes every element; the same seed repeats the orders; each iteration reshuffles", () => {
    const ds = numbers(20).shuffle(20, { seed: 42 });
    const first = values(ds);
    const second = values(ds);
    expect([...first].sort((a, b) => a - b)).toEqual(range(20));
    expect([...second].sort((a, b) => a - b)).toEqual(range(20));
    expect(second).not.toEqual(first);
    expect(first).not.toEqual(range(20));
    const again = numbers(20).shuffle(20, { seed: 42 });
    expect(values(again)).toEqual(first);
    expect(values(again)).toEqual(second);
    const fixed = numbers(20).shuffle(20, { seed: 42, reshuffleEachIteration: false });
    expect(values(fixed)).toEqual(values(fixed));
    expect(values(numbers(20).shuffle(20, { seed: 43 }))).not.toEqual(first);
  });

  it("shuffle has TF's buffer semantics: output j comes from the first j + bufferSize inputs; a buffer of 1 keeps the order", () => {
    for (const seed of [1, 2, 3]) {
      const out = values(numbers(50).shuffle(5, { seed }));
      expect([...out].sort((a, b) => a - b)).toEqual(range(50));
      out.forEach((v, j) => expect(v).toBeLessThan(j + 5));
    }
    expect(values(numbers(10).shuffle(1, { seed: 0 }))).toEqual(range(10));
  });

  it("shuffle picks uniformly: each of 4 elements comes first about a quarter of the time", () => {
    const ds = numbers(4).shuffle(4, { seed: 7 });
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 2000; i++) counts[values(ds)[0]]++;
    for (const c of counts) expect(Math.abs(c - 500)).toBeLessThan(90); // ~4.5 standard deviations
  });

  it("shuffle without a seed draws it from core's default generator (manualSeed reproduces it)", () => {
    manualSeed(11);
    const a = values(numbers(10).shuffle(10));
    manualSeed(11);
    expect(values(numbers(10).shuffle(10))).toEqual(a);
  });

  it("map traces its function once into a compiled graph; a tuple element is unpacked into arguments", () => {
    const x = tensor([[1, 2], [3, 4], [5, 6], [7, 8]]);
    const y = tensor([[1], [0], [1], [0]]);
    let traces = 0;
    const ds = Dataset.fromTensorSlices([x, y]).map((xi: SymbolicTensor, yi: SymbolicTensor) => {
      traces++;
      return { features: xi.mul(2).sum(), label: yi.add(10) };
    });
    const out = [...ds];
    expect(out.map((e) => [e.features.item(), arr(e.label)])).toEqual([[6, [11]], [14, [10]], [22, [11]], [30, [10]]]);
    expect(traces).toBe(1);
    const batched = [...ds.batch(2)];
    expect(arr(batched[1].features)).toEqual([22, 30]);
    expect(traces).toBe(1); // iterating again reuses the compiled function
    ds.dispose();
  });

  it("take, repeat(n) and repeat() compose; an empty dataset repeated forever ends", () => {
    expect(values(numbers(5).take(3))).toEqual([0, 1, 2]);
    expect(values(numbers(5).take(0))).toEqual([]);
    expect(values(numbers(3).repeat(2))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(values(numbers(3).repeat().take(7))).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(values(numbers(3).take(0).repeat())).toEqual([]);
    // Each repetition is a new iteration, so a shuffle inside reshuffles.
    const twice = values(numbers(8).shuffle(8, { seed: 5 }).repeat(2));
    expect(twice.slice(0, 8)).not.toEqual(twice.slice(8));
    expect(() => numbers(3).take(-1)).toThrow(/Dataset.take: expected an integer >= 0, got -1/);
  });

  it("is async-iterable", async () => {
    const seen: number[] = [];
    for await (const t of numbers(4).batch(2)) seen.push(...arr(t));
    expect(seen).toEqual([0, 1, 2, 3]);
  });
});

describe("model.fit(dataset)", () => {
  const xs = new Float32Array(40).map((_, i) => i / 20 - 1);
  const x = tensor(xs, [40, 1]);
  const y = tensor(xs.map((v) => 3 * v + 2), [40, 1]);

  it("trains one epoch per iteration of a shuffled, batched dataset", async () => {
    const model = sequential([layers.dense({ units: 1, inputShape: [1] })], { seed: 4 });
    model.compile({ optimizer: optimizers.sgd(0.2), loss: "mse" });
    const ds = Dataset.fromTensorSlices([x, y]).shuffle(40, { seed: 1 }).batch(8);
    const h = await model.fit(ds, { epochs: 40 });
    expect(h.history.loss).toHaveLength(40);
    expect(h.history.loss[39]).toBeLessThan(h.history.loss[0] * 1e-3);
    const [k, b] = model.getWeights();
    expect(Math.abs(k.data[0] - 3)).toBeLessThan(0.01);
    expect(Math.abs(b.data[0] - 2)).toBeLessThan(0.01);
    model.dispose();
  });

  it("stepsPerEpoch draws from one iterator across epochs; { xs, ys } elements and int32 labels work", async () => {
    const model = sequential([layers.dense({ units: 2, inputShape: [1] })], { seed: 4 });
    model.compile({ optimizer: optimizers.adam(0.1), loss: "sparseCategoricalCrossentropy" });
    const labels = tensor(Array.from(xs, (v) => (v > 0 ? 1 : 0)), [40], "int32");
    const ds = Dataset.fromTensorSlices({ xs: x, ys: labels }).shuffle(40, { seed: 2 }).batch(10).repeat();
    const h = await model.fit(ds, { epochs: 30, stepsPerEpoch: 3 });
    expect(h.history.acc![29]).toBeGreaterThan(0.9);
    await expect(model.fit(Dataset.fromTensorSlices({ xs: x, ys: labels }).batch(10), { epochs: 2, stepsPerEpoch: 3 })).rejects.toThrow(
      /the dataset ran out after 1 of epoch 1's 3 steps \(stepsPerEpoch\); repeat\(\) it/,
    );
    model.dispose();
  });

  it("rejects an unbatched dataset and the array-only options", async () => {
    const model = sequential([layers.dense({ units: 1, inputShape: [1] })], { seed: 4 });
    model.compile({ optimizer: "sgd", loss: "mse" });
    await expect(model.fit(Dataset.fromTensorSlices([x, y]))).rejects.toThrow(/x is a single row \[1\]; batch the dataset first/);
    await expect(model.fit(Dataset.fromTensorSlices([x, y]).batch(4), { batchSize: 4 } as never)).rejects.toThrow(/batchSize does not apply to a Dataset/);
    model.dispose();
  });
});
