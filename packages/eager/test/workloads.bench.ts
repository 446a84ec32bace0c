import { bench, describe } from "vitest";
import { PhiloxGenerator } from "@dualgrad/core";
import { Tensor, nn, optim, rand, randint, randn, tidy } from "../src/index.js";

/**
 * The reference workloads of docs/WORKLOADS.md on the eager frontend: one step = forward +
 * loss + backward + SGD update on one fixed batch. `pnpm bench` prints ms/step per workload
 * (vitest's mean column; the CLI's `dualgrad bench` reports median and p90 in fresh processes).
 */
interface Workload {
  name: string;
  step: () => void;
}

function workload(name: string, sizes: number[], act: "relu" | "tanh" | null, loss: "mse" | "ce", lr: number, batch: number): Workload {
  const gen = new PhiloxGenerator(1);
  const mods: nn.Module[] = [];
  for (let i = 0; i < sizes.length - 1; i++) {
    mods.push(new nn.Linear(sizes[i], sizes[i + 1], { generator: gen }));
    if (act && i < sizes.length - 2) mods.push(act === "relu" ? new nn.ReLU() : new nn.Tanh());
  }
  const model = new nn.Sequential(...mods);
  const x: Tensor = loss === "ce" ? rand([batch, sizes[0]], { generator: gen }) : rand([batch, sizes[0]], { generator: gen }).mul(2).sub(1);
  const y: Tensor = loss === "ce" ? randint(0, sizes[sizes.length - 1], [batch], { generator: gen }) : randn([batch, 1], { generator: gen });
  const lossFn = loss === "ce" ? new nn.CrossEntropyLoss() : new nn.MSELoss();
  const opt = new optim.SGD(model.parameters(), { lr });
  return {
    name,
    step: () =>
      tidy(() => {
        opt.zeroGrad();
        lossFn.forward(model.forward(x), y).backward();
        opt.step();
      }),
  };
}

const workloads = [
  workload("linreg", [1, 1], null, "mse", 0.01, 64),
  workload("linreg-wide", [256, 1], null, "mse", 0.01, 1024),
  workload("mlp-small", [8, 64, 64, 1], "tanh", "mse", 0.01, 32),
  workload("mlp", [784, 256, 256, 10], "relu", "ce", 0.1, 128),
];

describe("eager training step", () => {
  for (const w of workloads) bench(w.name, w.step, { warmupIterations: 20, time: w.name === "mlp" ? 3000 : 1000 });
});
