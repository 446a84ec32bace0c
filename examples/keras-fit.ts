/**
 * Keras-style training on the graph frontend, as a TF.js user writes it: `sequential`,
 * `layers.dense`, `compile`, `fit` (shuffled minibatches, a validation split), `evaluate`,
 * `predict`. Every training step is one compiled graph (forward, backward and the Adam update).
 *
 * Run: pnpm example keras-fit
 */
import { layers, sequential, tensor } from "@dualgrad/graph";

const QUICK = process.env.DUALGRAD_EXAMPLE_QUICK === "1";

// y = sin(3 x1) + 0.5 x2 on 512 points of [-1, 1]^2 (a deterministic grid-like spread).
const n = 512;
const xs = new Float32Array(n * 2);
const ys = new Float32Array(n);
for (let i = 0; i < n; i++) {
  const x1 = Math.sin(i * 0.37);
  const x2 = Math.cos(i * 0.91);
  xs.set([x1, x2], 2 * i);
  ys[i] = Math.sin(3 * x1) + 0.5 * x2;
}
const x = tensor(xs, [n, 2]);
const y = tensor(ys, [n, 1]);

const model = sequential(
  [layers.dense({ units: 32, activation: "tanh", inputShape: [2] }), layers.dense({ units: 32, activation: "tanh" }), layers.dense({ units: 1 })],
  { seed: 0 },
);
model.compile({ optimizer: "adam", loss: "mse" });
model.summary();

const epochs = QUICK ? 30 : 100;
const history = await model.fit(x, y, {
  epochs,
  batchSize: 32,
  validationSplit: 0.2,
  onEpochEnd: (epoch, logs) => {
    if ((epoch + 1) % 5 === 0) console.log(`epoch ${epoch + 1}: loss ${logs.loss.toFixed(4)}, val_loss ${logs.valLoss!.toFixed(4)}`);
  },
});
const { loss } = model.evaluate(x, y);
const pred = model.predict(tensor([[0.5, -0.5]], [1, 2])).data[0];
console.log(`first epoch loss ${history.history.loss[0].toFixed(4)}; prediction at (0.5, -0.5): ${pred.toFixed(3)} (true ${(Math.sin(1.5) - 0.25).toFixed(3)})`);
console.log(`final loss ${loss.toFixed(5)}`);
model.dispose();
// The example checks itself (the first epoch's loss is about 0.45).
if (!(loss < 0.2)) throw new Error(`did not learn: final loss ${loss}`);
