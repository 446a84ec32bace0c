import { PhiloxGenerator } from "@dualgrad/core";
import { Tensor, nn, noGrad, optim, tensor, tidy } from "@dualgrad/eager";
import type { Batch } from "../datasets/synthetic.js";
import type { ModelSpec } from "../models.js";
import { loaderTensors } from "./eager-data.js";
import { eagerModel } from "./eager-model.js";
import { inputShape } from "./recurrent-input.js";
import type { Trainer, TrainerOptions } from "./trainer.js";

/** A spec built on the eager frontend: nn.Sequential (or nn.RNN and a Linear head), nn loss, optim optimizer. */
export function eagerTrainer(spec: ModelSpec, options: TrainerOptions): Trainer {
  const dtype = options.dtype ?? "float32";
  const gen = new PhiloxGenerator(options.seed);
  const model = eagerModel(spec, dtype, gen);
  const lossFn = spec.loss === "ce" ? nn.crossEntropy : nn.mseLoss;
  const opt: optim.Optimizer<Record<string, number | boolean>> =
    spec.optimizer === "adam"
      ? new optim.Adam(model.parameters(), { lr: spec.lr })
      : new optim.SGD(model.parameters(), { lr: spec.lr, momentum: spec.optimizer === "momentum" ? (spec.momentum ?? 0.9) : 0 });
  const labelDtype = spec.loss === "ce" ? "int32" : dtype;
  // Batches are turned into tensors once and reused while the same batch object comes back;
  // a DataLoader batch already is tensors (the loader owns and frees them).
  let cached: { batch: Batch; x: Tensor; y: Tensor } | null = null;
  const tensorsOf = (b: Batch) => {
    const own = loaderTensors(b);
    if (own && own[0].dtype === dtype && own[1].dtype === labelDtype) return { x: own[0], y: own[1] };
    if (cached?.batch === b) return cached;
    cached?.x.dispose();
    cached?.y.dispose();
    const x = tensor(b.x, { shape: inputShape(spec, b), dtype });
    const y = tensor(b.y, { shape: b.yShape, dtype: labelDtype });
    cached = { batch: b, x, y };
    return cached;
  };
  return {
    frontend: "eager",
    spec,
    step(batch) {
      const { x, y } = tensorsOf(batch);
      return tidy(() => {
        opt.zeroGrad();
        const loss = lossFn(model.forward(x), y);
        loss.backward();
        opt.step();
        return loss.item();
      });
    },
    loss(batch) {
      const { x, y } = tensorsOf(batch);
      return noGrad(() => tidy(() => lossFn(model.forward(x), y).item()));
    },
    predict(batch) {
      const { x } = tensorsOf(batch);
      return noGrad(() => tidy(() => model.forward(x).data.slice() as Float32Array | Float64Array));
    },
    gradients(batch) {
      const { x, y } = tensorsOf(batch);
      opt.zeroGrad();
      tidy(() => lossFn(model.forward(x), y).backward());
      const grads = new Map(model.namedParameters().map(([n, p]) => [n, Float64Array.from(p.grad!.data)]));
      opt.zeroGrad();
      return grads;
    },
    parameters() {
      return new Map(model.namedParameters().map(([n, p]) => [n, Float64Array.from(p.data)]));
    },
    setParameters(values) {
      noGrad(() => {
        for (const [n, p] of model.namedParameters()) {
          const v = values.get(n);
          if (v) p.data.set(v);
        }
      });
    },
    dispose() {
      cached?.x.dispose();
      cached?.y.dispose();
      opt.zeroGrad();
      opt.dispose();
      model.dispose();
    },
  };
}
