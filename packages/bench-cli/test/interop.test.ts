import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nn, noGrad, tensor as eagerTensor, tidy } from "@dualgrad/eager";
import { layers, sequential, tensor } from "@dualgrad/graph";

/** One weights file, both frontends: safetensors in PyTorch's names and layout. */
const dir = mkdtempSync(join(tmpdir(), "dualgrad-interop-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const inputs = [0.1, -0.4, 0.9, 0.3, 0.5, -0.7, -1, 0.2, 0.6, 0.8, -0.3, 0.05];

describe("weights move between the Keras-style graph API and the eager nn API", () => {
  it("graph model -> safetensors -> eager nn.Sequential gives the same predictions", () => tidy(() => {
    const model = sequential([layers.dense({ units: 5, activation: "tanh", inputShape: [3] }), layers.dense({ units: 2 })], { seed: 9 });
    const path = join(dir, "keras.safetensors");
    model.save(path);
    const eager = new nn.Sequential(new nn.Linear(3, 5), new nn.Tanh(), new nn.Linear(5, 2));
    nn.load(eager, path);
    const x = tensor(new Float32Array(inputs), [4, 3]);
    const fromGraph = Array.from(model.predict(x).data);
    const fromEager = noGrad(() => Array.from(eager.forward(eagerTensor(new Float32Array(inputs), { shape: [4, 3] })).data));
    expect(fromEager).toEqual(fromGraph);
    model.dispose();
    eager.dispose();
  }));

  it("eager nn.Sequential -> safetensors -> graph model gives the same predictions", () => tidy(() => {
    const eager = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 1));
    const path = join(dir, "eager.safetensors");
    nn.save(eager, path);
    const model = sequential([layers.dense({ units: 4, activation: "relu", inputShape: [3] }), layers.dense({ units: 1 })]);
    model.load(path);
    const x = tensor(new Float32Array(inputs), [4, 3]);
    const fromEager = noGrad(() => Array.from(eager.forward(eagerTensor(new Float32Array(inputs), { shape: [4, 3] })).data));
    expect(Array.from(model.predict(x).data)).toEqual(fromEager);
    // Keras layout on the graph side: kernel [in, out].
    expect(model.getWeights()[0].shape).toEqual([3, 4]);
    model.dispose();
    eager.dispose();
  }));
});
