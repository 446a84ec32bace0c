import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PhiloxGenerator, allocator, readSafetensors } from "@dualgrad/core";
import { HostTensor, data as tfdata, fn, tensor, type SymbolicTensor } from "../src/index.js";
import { layers, sequential, type Dropout } from "../src/layers/index.js";

/** Keras-style image layers on the graph frontend (channels first, PyTorch's weight layout). */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dualgrad-conv-layers-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The `cnn` workload's stack, Keras-style, on 1x8x8 images with 3 classes. */
const smallCnn = (seed: number, dropout = 0) =>
  sequential(
    [
      layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu", inputShape: [1, 8, 8] }),
      layers.maxPooling2d({ poolSize: 2 }),
      layers.conv2d({ filters: 6, kernelSize: 3, padding: 1, activation: "relu" }),
      layers.averagePooling2d({ poolSize: 2 }),
      layers.flatten(),
      ...(dropout > 0 ? [layers.dropout({ rate: dropout, seed: 5 })] : []),
      layers.dense({ units: 3 }),
    ],
    { seed },
  );

/** Images whose class is the quadrant-free brightest row third, learnable by a small CNN. */
function data(n: number, seed: number): { x: HostTensor; y: HostTensor } {
  const g = new PhiloxGenerator(seed);
  const x = new Float32Array(n * 64);
  g.fillUniform(x, 0, 0.2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    for (let r = 0; r < 2; r++) for (let c = 0; c < 8; c++) x[i * 64 + (y[i] * 3 + r) * 8 + c] += 1;
  }
  return { x: tensor(x, [n, 1, 8, 8]), y: tensor(y, [n], "int32") };
}

describe("layers.conv2d / pooling / flatten / dropout in a sequential model", () => {
  it("builds with PyTorch names and layouts, prints a summary, and saves what PyTorch's Sequential would name", () => {
    const model = smallCnn(1);
    const lines: string[] = [];
    model.summary((l) => lines.push(l));
    const text = lines.join("\n");
    expect(text).toMatch(/conv2d(_\d+)? \(Conv2D\)\s+\(None, 4, 8, 8\)\s+40\n/);
    expect(text).toMatch(/max_pooling2d(_\d+)? \(MaxPooling2D\)\s+\(None, 4, 4, 4\)\s+0\n/);
    expect(text).toMatch(/flatten(_\d+)? \(Flatten\)\s+\(None, 24\)\s+0\n/);
    expect(model.countParams()).toBe(40 + 222 + 75);
    const file = path.join(dir, "cnn.safetensors");
    model.save(file);
    const st = readSafetensors(file);
    // conv2d(relu) = modules 0,1; maxPool 2; conv2d(relu) 3,4; avgPool 5; flatten 6; dense 7.
    expect([...st.tensors].map(([k, t]) => `${k}${JSON.stringify(t.shape)}`)).toEqual([
      "0.weight[4,1,3,3]", "0.bias[4]", "3.weight[6,4,3,3]", "3.bias[6]", "7.weight[3,24]", "7.bias[3]",
    ]);
    const other = smallCnn(2);
    other.load(file);
    const x = data(4, 3).x;
    expect(Array.from(other.predict(x).data)).toEqual(Array.from(model.predict(x).data));
    // Keras layout round trip: kernel [kh, kw, in, out].
    const w = model.getWeights();
    expect(w.map((t) => t.shape)).toEqual([[3, 3, 1, 4], [4], [3, 3, 4, 6], [6], [24, 3], [3]]);
    const third = smallCnn(3);
    third.setWeights(w);
    expect(Array.from(third.predict(x).data)).toEqual(Array.from(model.predict(x).data));
    [model, other, third].forEach((m) => m.dispose());
  });

  it("fit learns; dropout is active in fit only (evaluate and predict are deterministic and mask-free)", async () => {
    const before = allocator.stats().liveBytes;
    const model = smallCnn(4, 0.25);
    model.compile({ optimizer: "adam", loss: "sparseCategoricalCrossentropy" });
    const { x, y } = data(60, 7);
    const first = model.evaluate(x, y);
    expect(model.evaluate(x, y)).toEqual(first);
    // The same model and data without the Dropout layer (it has no weights, so the same init) trains differently.
    const plain = smallCnn(4);
    plain.compile({ optimizer: "adam", loss: "sparseCategoricalCrossentropy" });
    expect(plain.evaluate(x, y)).toEqual(first);
    const hist = await model.fit(x, y, { epochs: 30, batchSize: 16, seed: 1 });
    const plainHist = await plain.fit(x, y, { epochs: 1, batchSize: 16, seed: 1 });
    expect(plainHist.history.loss[0]).not.toBe(hist.history.loss[0]);
    plain.dispose();
    expect(hist.history.loss[29]).toBeLessThan(hist.history.loss[0]);
    const after = model.evaluate(x, y);
    expect(after.loss).toBeLessThan(first.loss);
    expect(after.acc).toBeGreaterThan(0.9);
    expect(Array.from(model.predict(x).data)).toEqual(Array.from(model.predict(x).data));
    // The flat [N, C*H*W] form of x is the same input.
    expect(Array.from(model.predict(tensor(x.data, [60, 64])).data)).toEqual(Array.from(model.predict(x).data));
    model.dispose();
    expect(allocator.stats().liveBytes).toBe(before);
  });

  it("fit over a Dataset draws dropout masks too; model.call takes them as traced inputs", async () => {
    const model = smallCnn(6, 0.5);
    model.compile({ optimizer: "sgd", loss: "sparseCategoricalCrossentropy" });
    const { x, y } = data(32, 8);
    const hist = await model.fit(tfdata.Dataset.fromTensorSlices([x, y]).batch(16), { epochs: 2 });
    expect(hist.history.loss.every(Number.isFinite)).toBe(true);
    const drop = model.layers[5] as Dropout;
    const noMask = fn((xs: SymbolicTensor) => model.call(xs, { training: true }));
    expect(() => noMask(x)).toThrow(/Dropout\): a training call needs its mask as a traced input/);
    noMask.dispose();
    // With the mask as a traced input, a training call differs from inference.
    const withMask = fn((xs: SymbolicTensor, m: SymbolicTensor) => model.call(xs, { training: true, masks: [m] }));
    const out = withMask(x, drop.maskFor(32)) as HostTensor;
    expect(out.shape).toEqual([32, 3]);
    expect(Array.from(out.data)).not.toEqual(Array.from(model.predict(x).data));
    withMask.dispose();
    model.dispose();
  });

  it("errors name the layer and the shapes", () => {
    expect(() => sequential([layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [1, 8, 8] }), layers.dense({ units: 2 })])).toThrow(
      /sequential: layer 'dense(_\d+)?' \(Dense\) takes \[features\] per sample, but its input is \[2,6,6\]; add layers.flatten\(\) before it/,
    );
    expect(() => sequential([layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [1, 8, 8] })])).toThrow(/must end in \[features\] \(add layers.flatten\(\)\)/);
    expect(() => layers.conv2d({ filters: 2, kernelSize: 3, dataFormat: "channelsLast" as never })).toThrow(/dataFormat must be 'channelsFirst'/);
    expect(() => sequential([layers.conv2d({ filters: 2, kernelSize: 9, inputShape: [1, 8, 8] }), layers.flatten()])).toThrow(/the 9x9 kernel does not fit its 8x8 input/);
    expect(() => layers.dropout({ rate: 2 })).toThrow("layers.dropout: dropout probability has to be between 0 and 1, but got 2");
    const m = smallCnn(1);
    m.compile({ optimizer: "sgd", loss: "sparseCategoricalCrossentropy" });
    expect(() => m.predict(tensor(new Float32Array(2 * 49), [2, 1, 7, 7]))).toThrow("predict: x must have shape [N, 1, 8, 8] or [N, 64], got [2,1,7,7]");
    m.dispose();
  });
});
