/**
 * Regression from a CSV file: writes a small table of house prices to a temporary directory,
 * loads it with the workbench's CSV loader (header row, a target column, a seeded train/test
 * split; the same loader as `pnpm dualgrad train --dataset csv:FILE --target price`), and trains
 * an eager model on it with a DataLoader, standardising the features first.
 *
 * Run: pnpm example csv-regression
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCsv } from "@dualgrad/bench-cli";
import { PhiloxGenerator, nn, noGrad, optim, tensor, tidy, utils, type Tensor } from "@dualgrad/eager";

const QUICK = process.env.DUALGRAD_EXAMPLE_QUICK === "1";

// price = 3 * area + 20 * rooms - 0.5 * age + 50, in thousands, with a deterministic wobble.
const lines = ["area,rooms,age,price"];
for (let i = 0; i < 200; i++) {
  const area = 40 + ((i * 37) % 120);
  const rooms = 1 + ((i * 7) % 5);
  const age = (i * 13) % 60;
  const price = 3 * area + 20 * rooms - 0.5 * age + 50 + 5 * Math.sin(i);
  lines.push(`${area},${rooms},${age},${price.toFixed(2)}`);
}
const dir = mkdtempSync(join(tmpdir(), "dualgrad-csv-example-"));
const file = join(dir, "houses.csv");
writeFileSync(file, lines.join("\n") + "\n");
const data = loadCsv(file, { target: "price", seed: 0 });
rmSync(dir, { recursive: true, force: true });
console.log(`${data.summary ?? data.name}`);

/** Standardises columns with the training rows' mean and standard deviation (as sklearn's StandardScaler). */
function standardiser(x: Tensor): (t: Tensor) => Tensor {
  const mean = x.mean({ axis: 0 });
  const std = x.sub(mean).square().mean({ axis: 0 }).sqrt();
  return (t) => t.sub(mean).div(std);
}

const train = data.train;
const testSet = data.test!;
const [xTrain, xTest] = tidy(() => {
  const raw = tensor(train.x, { shape: train.xShape });
  const scale = standardiser(raw);
  return [scale(raw), scale(tensor(testSet.x, { shape: testSet.xShape }))];
});
const yTrain = tensor(train.y, { shape: [train.xShape[0], 1] });
const yTest = tensor(testSet.y, { shape: [testSet.xShape[0], 1] });

const gen = new PhiloxGenerator(0);
const model = new nn.Sequential(new nn.Linear(3, 16, { generator: gen }), new nn.ReLU(), new nn.Linear(16, 1, { generator: gen }));
const optimizer = new optim.Adam(model.parameters(), { lr: 0.05 });
const loader = new utils.data.DataLoader(new utils.data.TensorDataset(xTrain, yTrain), { batchSize: 16, shuffle: true, generator: gen });
const epochs = QUICK ? 50 : 300;
for (let epoch = 0; epoch < epochs; epoch++) {
  for (const [xb, yb] of loader) {
    tidy(() => {
      optimizer.zeroGrad();
      nn.mseLoss(model.forward(xb), yb).backward();
      optimizer.step();
    });
  }
}
const rmse = noGrad(() => tidy(() => Math.sqrt(nn.mseLoss(model.forward(xTest), yTest).item())));
console.log(`test RMSE ${rmse.toFixed(2)} (prices ${Math.min(...train.y).toFixed(0)}..${Math.max(...train.y).toFixed(0)})`);

optimizer.dispose();
model.dispose();
for (const t of [xTrain, xTest, yTrain, yTest]) t.dispose();
// The example checks itself (predicting the mean price would give an RMSE near 100).
if (!(rmse < 15)) throw new Error(`did not learn: test RMSE ${rmse}`);
