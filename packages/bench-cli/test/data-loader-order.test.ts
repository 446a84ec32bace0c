import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allocator } from "@dualgrad/core";
import { tensor, utils } from "@dualgrad/eager";
import { afterAll, describe, expect, it } from "vitest";
import { batches, resolveDataset, shuffleGenerator, type Batch } from "../src/datasets/index.js";
import { WORKLOADS, type ModelSpec } from "../src/models.js";
import { makeEpochs, FRONTENDS } from "../src/runners/index.js";

// The CLI's minibatches (host arrays shared by both frontends) and the eager DataLoader draw their
// shuffles from the same core randperm, so a DataLoader given shuffleGenerator(seed) replays the
// CLI's batches bit for bit, epoch after epoch: one order, written once.
describe("eager DataLoader == the CLI's batches()", () => {
  it.each([
    ["synthetic mlp-small", "mlp-small", "synthetic", 3],
    ["synthetic linreg", "linreg", "synthetic", 11],
  ])("%s: same rows in the same batches for epochs 0..2", (_, model, dataset, seed) => {
    const spec = WORKLOADS[model];
    const data = resolveDataset(spec, dataset, { seed, samples: 300 }).train;
    const x = tensor(data.x, { shape: data.xShape });
    const y = tensor(data.y, { shape: data.yShape });
    const loader = new utils.data.DataLoader(new utils.data.TensorDataset(x, y), { batchSize: spec.batch, shuffle: true, generator: shuffleGenerator(seed) });
    for (let epoch = 0; epoch < 3; epoch++) {
      const cli = [...batches(data, spec.batch, { shuffle: true, seed, epoch, reuse: false })];
      let i = 0;
      for (const [xb, yb] of loader) {
        expect(xb.shape).toEqual(cli[i].xShape);
        expect(xb.data).toEqual(cli[i].x);
        expect(yb.data).toEqual(cli[i].y);
        i++;
      }
      expect(i).toBe(cli.length);
    }
    x.dispose();
    y.dispose();
  });
});

// `dualgrad train` iterates makeEpochs: the eager DataLoader over a TensorDataset, the graph
// Dataset.fromTensorSlices(...).batch(...). Both must yield exactly the batches above, for every
// source, in any epoch order (train starts at epoch 0, a resumed run would not).
describe("the CLI's pipelines (makeEpochs) == batches()", () => {
  const dir = mkdtempSync(join(tmpdir(), "dualgrad-pipelines-"));
  const csv = join(dir, "d.csv");
  writeFileSync(csv, `a,b,t\n${Array.from({ length: 37 }, (_, i) => `${i},${(i * 7) % 5},${(i * 3) % 4}`).join("\n")}\n`);
  const custom: ModelSpec = { ...WORKLOADS["mlp-small"], id: "custom", layers: [2, 4, 1], loss: "mse", batch: 8 };
  const cases: [string, ModelSpec, string, number][] = [
    ["synthetic mlp-small", WORKLOADS["mlp-small"], "synthetic", 3],
    ["mnist", { ...WORKLOADS.mlp, batch: 16 }, "mnist", 2],
    ["mnist, images for the cnn", { ...WORKLOADS.cnn, batch: 16 }, "mnist", 4],
    ["csv", custom, `csv:${csv}`, 5],
  ];
  const rowsOf = (b: Batch) => ({ x: Array.from(b.x), xShape: b.xShape, y: Array.from(b.y), yShape: b.yShape, xType: b.x.constructor.name, yType: b.y.constructor.name });
  it.each(cases.flatMap(([name, spec, dataset, seed]) => FRONTENDS.map((f) => [`${f} on ${name}`, f, spec, dataset, seed] as const)))(
    "%s: same batches for epochs 2, 0, 1, and nothing left allocated",
    (_, frontend, spec, dataset, seed) => {
      const data = resolveDataset(spec, dataset, { seed, samples: 100, target: "t" }).train;
      const live = allocator.stats().liveBytes;
      const pipeline = makeEpochs(frontend, data, spec, seed);
      for (const epoch of [2, 0, 1]) {
        const want = [...batches(data, spec.batch, { shuffle: true, seed, epoch, reuse: false })].map(rowsOf);
        expect([...pipeline.epoch(epoch)].length).toBe(want.length);
        // Compared as each batch is drawn: the eager loader frees a batch when the loop advances.
        const got: ReturnType<typeof rowsOf>[] = [];
        for (const b of pipeline.epoch(epoch)) got.push(rowsOf(b));
        expect(got).toEqual(want);
      }
      pipeline.dispose();
      expect(allocator.stats().liveBytes).toBe(live);
    },
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});
