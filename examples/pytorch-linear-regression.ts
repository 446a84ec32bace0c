/**
 * The PyTorch linear-regression program of the PyTorch-vs-TensorFlow article, written the way it
 * is written there: an `nn.Module` subclass, `nn.MSELoss`, `optim.SGD`, and a `DataLoader` loop
 * with `zeroGrad` / `backward` / `step`. The only addition is `tidy`, which frees each step's
 * intermediate tensors at once (PyTorch leaves that to the garbage collector).
 *
 * Run: pnpm example pytorch-linear-regression
 */
import { PhiloxGenerator, nn, optim, randn, tidy, utils, type Tensor } from "@dualgrad/eager";

const QUICK = process.env.DUALGRAD_EXAMPLE_QUICK === "1";
const gen = new PhiloxGenerator(42); // torch.manual_seed(42)

// Data: y = 2x + 1 plus a little noise.
const X = randn([100, 1], { generator: gen });
const y = tidy(() => X.mul(2).add(1).add(randn([100, 1], { generator: gen }).mul(0.1)));

const dataset = new utils.data.TensorDataset(X, y);
const trainLoader = new utils.data.DataLoader(dataset, { batchSize: 10, shuffle: true, generator: gen });

class LinearRegressionModel extends nn.Module {
  linear = new nn.Linear(1, 1, { generator: gen });

  forward(x: Tensor): Tensor {
    return this.linear.forward(x);
  }
}

const model = new LinearRegressionModel();
const criterion = new nn.MSELoss();
const optimizer = new optim.SGD(model.parameters(), { lr: 0.01 });

const epochs = QUICK ? 30 : 100;
for (let epoch = 0; epoch < epochs; epoch++) {
  let lastLoss = 0;
  for (const [inputs, targets] of trainLoader) {
    lastLoss = tidy(() => {
      optimizer.zeroGrad();
      const outputs = model.forward(inputs);
      const loss = criterion.forward(outputs, targets);
      loss.backward();
      optimizer.step();
      return loss.item();
    });
  }
  if ((epoch + 1) % 10 === 0) console.log(`Epoch [${epoch + 1}/${epochs}], Loss: ${lastLoss.toFixed(4)}`);
}

const [weight, bias] = [model.linear.weight.item(), model.linear.bias!.item()];
console.log(`Learned weight ${weight.toFixed(4)}, bias ${bias.toFixed(4)} (true: 2, 1)`);
// The example checks itself, so `pnpm test` notices if it stops learning.
if (Math.abs(weight - 2) > 0.1 || Math.abs(bias - 1) > 0.1) throw new Error(`did not converge: weight ${weight}, bias ${bias}`);

optimizer.dispose();
model.dispose();
X.dispose();
y.dispose();
