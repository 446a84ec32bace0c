import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PhiloxGenerator, readSafetensors, toDTypeArray } from "@dualgrad/core";
import { nn, noGrad, tensor, tidy } from "@dualgrad/eager";
import { syntheticBatch } from "../src/datasets/synthetic.js";
import { workload } from "../src/models.js";
import { RNNRegressor } from "../src/runners/eager-model.js";
import { graphTrainer } from "../src/runners/graph-trainer.js";

const dir = mkdtempSync(join(tmpdir(), "dualgrad-rnn-weights-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** RNN weights move between the frontends through safetensors under PyTorch's names. */
describe("rnn weights: eager nn.save -> graph", () => {
  it("the graph model loaded from the eager file predicts eager's outputs bit for bit", () => {
    const spec = workload("rnn");
    const eager = new RNNRegressor(spec, "float32", new PhiloxGenerator(11));
    const path = join(dir, "rnn.safetensors");
    nn.save(eager, path);
    const file = readSafetensors(path);
    expect([...file.tensors.keys()].sort()).toEqual(["head.bias", "head.weight", "rnn.bias_hh_l0", "rnn.bias_ih_l0", "rnn.weight_hh_l0", "rnn.weight_ih_l0"]);
    expect(file.tensors.get("rnn.weight_ih_l0")!.shape).toEqual([32, 4]);
    // A different seed, so only the loaded values can make the graph agree.
    const graph = graphTrainer(spec, { seed: 99 });
    graph.setParameters(new Map([...file.tensors].map(([n, t]) => [n, toDTypeArray(t, "float64", n)])));
    const batch = syntheticBatch(spec, spec.batch, 4);
    const want = Array.from(eagerPredict(eager, batch.x));
    expect(Array.from(graph.predict(batch))).toEqual(want);
    graph.dispose();
    eager.dispose();
  });
});

/** Eager outputs for a [32, 16, 4] batch. */
function eagerPredict(model: RNNRegressor, x: Float32Array | Float64Array): Float32Array {
  return noGrad(() => tidy(() => model.forward(tensor(x, { shape: [32, 16, 4] })).data.slice() as Float32Array));
}
