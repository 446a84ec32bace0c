/**
 * The TensorFlow linear-regression program of the "PyTorch vs TensorFlow" comparison, written as
 * it is written there, on dualgrad's graph frontend:
 *
 * ```python
 * model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
 * loss_fn = tf.keras.losses.MeanSquaredError()
 * optimizer = tf.keras.optimizers.SGD(learning_rate=0.1)
 * dataset = tf.data.Dataset.from_tensor_slices((X, y)).shuffle(100).batch(10)
 *
 * @tf.function
 * def train_step(x, y):
 *     with tf.GradientTape() as tape:
 *         predictions = model(x)
 *         loss = loss_fn(y, predictions)
 *     gradients = tape.gradient(loss, model.trainable_variables)
 *     optimizer.apply_gradients(zip(gradients, model.trainable_variables))
 *     return loss
 *
 * for epoch in range(100):
 *     for x, y in dataset:
 *         loss = train_step(x, y)
 * ```
 *
 * The differences are JavaScript's: a model is applied with `model.apply(x)` and a loss object
 * with `lossFn.call(yTrue, yPred)` (objects cannot be called), `fn` is `tf.function`, and the
 * tape records from its construction until `tape.gradient` (where the `with` block would end).
 */
import { pathToFileURL } from "node:url";
import { PhiloxGenerator } from "@dualgrad/core";
import { GradientTape, SGD, data, fn, layers, losses, sequential, tensor, zip, type HostTensor, type SymbolicTensor } from "@dualgrad/graph";

/** What {@link main} learned, and the data it learned from (for checking against least squares). */
export interface Result {
  weight: number;
  bias: number;
  loss: number;
  xs: Float32Array;
  ys: Float32Array;
}

/** Trains y = 2x + 1 (plus noise) for `epochs` epochs, printing the loss every 10. */
export function main({ epochs = 100, log = console.log }: { epochs?: number; log?: (line: string) => void } = {}): Result {
  // The data: 100 points of y = 2x + 1 with Gaussian noise (seeded, so every run is the same).
  const gen = new PhiloxGenerator(0);
  const xs = gen.uniform(100, 0, 1);
  const noise = gen.normal(100, 0, 0.1);
  const ys = xs.map((x, i) => 2 * x + 1 + noise[i]);
  const dataset = data.Dataset.fromTensorSlices([tensor(xs, [100, 1]), tensor(ys, [100, 1])]).shuffle(100, { seed: 0 }).batch(10);

  const model = sequential([layers.dense({ units: 1, inputShape: [1] })], { seed: 0 });
  const lossFn = new losses.MeanSquaredError();
  const optimizer = new SGD({ learningRate: 0.1 });

  const trainStep = fn<HostTensor>((x: SymbolicTensor, y: SymbolicTensor) => {
    const tape = new GradientTape();
    const predictions = model.apply(x);
    const loss = lossFn.call(y, predictions);
    const gradients = tape.gradient(loss, model.trainableVariables);
    optimizer.applyGradients(zip(gradients, model.trainableVariables));
    return loss;
  });

  let loss = NaN;
  for (let epoch = 0; epoch < epochs; epoch++) {
    let total = 0;
    let batches = 0;
    for (const [x, y] of dataset) {
      total += trainStep(x, y).item();
      batches++;
    }
    loss = total / batches;
    if (epoch % 10 === 0 || epoch === epochs - 1) log(`epoch ${epoch}: loss ${loss.toFixed(5)}`);
  }
  const [kernel, bias] = model.getWeights();
  const result = { weight: kernel.data[0], bias: bias.data[0], loss, xs, ys };
  log(`learned y = ${result.weight.toFixed(3)} x + ${result.bias.toFixed(3)} (the data follow y = 2x + 1)`);
  trainStep.dispose();
  optimizer.dispose();
  model.dispose();
  return result;
}

// Run when executed directly (not when a test imports it), checking itself so a run notices if it stops learning.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { weight, bias } = main();
  if (Math.abs(weight - 2) > 0.1 || Math.abs(bias - 1) > 0.1) throw new Error(`did not converge: weight ${weight}, bias ${bias}`);
}
