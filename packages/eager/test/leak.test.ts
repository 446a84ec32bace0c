import { describe, expect, it } from "vitest";
import { PhiloxGenerator } from "@dualgrad/core";
import { memory, nn, optim, rand, randint, tidy } from "../src/index.js";

/**
 * 1,000 training steps of the `mlp` workload (784 -> 256 -> 256 -> 10, ReLU, batch 128,
 * softmax cross-entropy, SGD lr 0.1) must leave core's live tensor bytes exactly where they
 * were after step 1: every intermediate, saved tensor and gradient temporary is released.
 */
describe("no leaks over a long run", () => {
  it("mlp: live tensor bytes after 1,000 steps equal those after step 1", () => {
    const gen = new PhiloxGenerator(11);
    const model = new nn.Sequential(
      new nn.Linear(784, 256, { generator: gen }), new nn.ReLU(),
      new nn.Linear(256, 256, { generator: gen }), new nn.ReLU(),
      new nn.Linear(256, 10, { generator: gen }),
    );
    const x = rand([128, 784], { generator: gen });
    const y = randint(0, 10, [128], { generator: gen });
    const lossFn = new nn.CrossEntropyLoss();
    const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    let afterFirst = 0;
    let first = 0;
    let last = 0;
    const steps = 1000;
    for (let step = 1; step <= steps; step++) {
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = lossFn.forward(model.forward(x), y);
        l.backward();
        opt.step();
        return l.item();
      });
      if (step === 1) {
        afterFirst = memory().liveBytes;
        first = loss;
      }
      last = loss;
      if (step % 100 === 0) expect(memory().liveBytes, `after step ${step}`).toBe(afterFirst);
    }
    expect(memory().liveBytes).toBe(afterFirst);
    expect(last).toBeLessThan(first); // it trained (on one fixed batch)
    opt.dispose();
    opt.zeroGrad();
    model.dispose();
    x.dispose();
    y.dispose();
  }, 240_000);
});
