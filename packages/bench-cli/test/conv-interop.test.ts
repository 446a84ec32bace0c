import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PhiloxGenerator } from "@dualgrad/core";
import * as eager from "@dualgrad/eager";
import { layers, sequential, tensor } from "@dualgrad/graph";

/**
 * The `cnn` architecture built with graph's Keras-style layers and with eager's nn modules: the
 * same seed gives the same parameters (PyTorch's Conv2d/Linear law, same Philox draws), and
 * weights saved by either load in the other with identical predictions. The saved names and
 * layouts are PyTorch's state_dict (`0.weight` [8,1,3,3], `3.weight`, `7.weight`).
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dualgrad-conv-interop-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const kerasCnn = (seed: number) =>
  sequential(
    [
      layers.conv2d({ filters: 8, kernelSize: 3, padding: 1, activation: "relu", inputShape: [1, 28, 28] }),
      layers.maxPooling2d({ poolSize: 2 }),
      layers.conv2d({ filters: 16, kernelSize: 3, padding: 1, activation: "relu" }),
      layers.maxPooling2d({ poolSize: 2 }),
      layers.flatten(),
      layers.dense({ units: 10 }),
    ],
    { seed },
  );

const eagerCnn = (seed: number) => {
  const generator = new PhiloxGenerator(seed);
  return new eager.nn.Sequential(
    new eager.nn.Conv2d(1, 8, 3, { padding: 1, generator }), new eager.nn.ReLU(), new eager.nn.MaxPool2d(2),
    new eager.nn.Conv2d(8, 16, 3, { padding: 1, generator }), new eager.nn.ReLU(), new eager.nn.MaxPool2d(2),
    new eager.nn.Flatten(), new eager.nn.Linear(784, 10, { generator }),
  );
};

describe("cnn weights move between the frontends", () => {
  const x = new Float32Array(3 * 784);
  new PhiloxGenerator(9).fillUniform(x, 0, 1);

  it("same seed, same parameters; graph-saved weights load in eager and predict the same", () => {
    const g = kerasCnn(11);
    const e = eagerCnn(11);
    expect(g.parameters().map((v) => Array.from(v.data))).toEqual(e.parameters().map((p) => Array.from(p.data)));
    const other = kerasCnn(12);
    const file = path.join(dir, "graph.safetensors");
    other.save(file);
    eager.nn.load(e, file);
    const ours = eager.tidy(() => eager.noGrad(() => e.forward(eager.tensor(x, { shape: [3, 1, 28, 28] })).data.slice()));
    expect(Array.from(ours)).toEqual(Array.from(other.predict(tensor(x, [3, 1, 28, 28])).data));
    [g, other].forEach((m) => m.dispose());
    e.dispose();
  });

  it("eager-saved weights load in graph and predict the same", () => {
    const e = eagerCnn(13);
    const file = path.join(dir, "eager.safetensors");
    eager.nn.save(e, file);
    const g = kerasCnn(14);
    g.load(file);
    const ours = eager.tidy(() => eager.noGrad(() => e.forward(eager.tensor(x, { shape: [3, 1, 28, 28] })).data.slice()));
    expect(Array.from(g.predict(tensor(x, [3, 784])).data)).toEqual(Array.from(ours));
    g.dispose();
    e.dispose();
  });
});
