import { tensor, utils } from "@dualgrad/eager";
import { describe, expect, it } from "vitest";
import { batches, resolveDataset, shuffleGenerator } from "../src/datasets/index.js";
import { WORKLOADS } from "../src/models.js";

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
