import { PhiloxGenerator } from "@dualgrad/core";
import {
  Adam, DeviceTensor, HostTensor, SGD, crossEntropy, fn, gradients, mseLoss, type GraphFunction, type TensorData, type GraphOptimizer, type StageSwitch, type SymbolicTensor,
} from "@dualgrad/graph";
import type { Batch } from "../datasets/synthetic.js";
import { batchInputShape, type ModelSpec } from "../models.js";
import { graphModel } from "./graph-model.js";
import type { Trainer, TrainerOptions } from "./trainer.js";

/** A graph trainer also exposes its compiled step (plans, stages, arena size). */
export interface GraphTrainer extends Trainer {
  readonly compiledStep: GraphFunction<HostTensor>;
  /** The compiled forward + loss (no gradients), for showing the plain traced model. */
  readonly compiledLoss: GraphFunction<HostTensor>;
  /** The compiled step's arguments for a batch (to inspect its stages with `compiledStep.lower`). */
  stepArgs(batch: Batch): [TensorData, TensorData];
}

/**
 * A spec built on the graph frontend: Linear variables, and the whole training step
 * (forward, loss, gradients, update) traced into one compiled function.
 */
export function graphTrainer(spec: ModelSpec, options: TrainerOptions): GraphTrainer {
  const dtype = options.dtype ?? "float32";
  const { params, names, forward } = graphModel(spec, dtype, new PhiloxGenerator(options.seed));
  const lossOf = (x: SymbolicTensor, y: SymbolicTensor) => (spec.loss === "ce" ? crossEntropy(forward(x), y) : mseLoss(forward(x), y));
  const opt: GraphOptimizer =
    spec.optimizer === "adam" ? new Adam({ lr: spec.lr }) : new SGD({ lr: spec.lr, momentum: spec.optimizer === "momentum" ? (spec.momentum ?? 0.9) : 0 });
  const fnOptions = { disable: (options.disable ?? []) as StageSwitch[], name: `${spec.id}-step` };
  const step = fn<HostTensor>((x: SymbolicTensor, y: SymbolicTensor) => {
    const loss = lossOf(x, y);
    opt.minimize(loss, params);
    return loss;
  }, fnOptions);
  const lossFn = fn<HostTensor>((x: SymbolicTensor, y: SymbolicTensor) => lossOf(x, y), { ...fnOptions, name: `${spec.id}-loss` });
  const predictFn = fn<HostTensor>((x: SymbolicTensor) => forward(x), { ...fnOptions, name: `${spec.id}-predict` });
  const gradFn = fn<HostTensor[]>((x: SymbolicTensor, y: SymbolicTensor) => gradients(lossOf(x, y), params), { ...fnOptions, name: `${spec.id}-grad` });
  // The last batch, kept in core's allocator (the wasm heap) as `jax.device_put` would keep it,
  // so the compiled step reads it in place every step, as eager reads its tensors.
  let cached: { batch: Batch; x: DeviceTensor; y: DeviceTensor } | null = null;
  const tensorsOf = (b: Batch) => {
    if (cached?.batch === b) return cached;
    releaseCached();
    const x = new DeviceTensor(batchInputShape(spec, b.xShape[0]), dtype, b.x);
    const y = new DeviceTensor(b.yShape, spec.loss === "ce" ? "int32" : dtype, b.y);
    cached = { batch: b, x, y };
    return cached;
  };
  const releaseCached = () => {
    cached?.x.dispose();
    cached?.y.dispose();
    cached = null;
  };
  return {
    frontend: "graph",
    spec,
    compiledStep: step,
    compiledLoss: lossFn,
    stepArgs(batch) {
      const { x, y } = tensorsOf(batch);
      return [x, y];
    },
    step(batch) {
      const { x, y } = tensorsOf(batch);
      return step(x, y).item();
    },
    loss(batch) {
      const { x, y } = tensorsOf(batch);
      return lossFn(x, y).item();
    },
    predict(batch) {
      return predictFn(tensorsOf(batch).x).data as Float32Array | Float64Array;
    },
    gradients(batch) {
      const { x, y } = tensorsOf(batch);
      const gs = gradFn(x, y);
      return new Map(names.map((n, i) => [n, Float64Array.from(gs[i].data)]));
    },
    parameters() {
      return new Map(names.map((n, i) => [n, Float64Array.from(params[i].data)]));
    },
    setParameters(values) {
      names.forEach((n, i) => {
        const v = values.get(n);
        if (v) params[i].assign(v);
      });
    },
    dispose() {
      releaseCached();
      step.dispose();
      lossFn.dispose();
      predictFn.dispose();
      gradFn.dispose();
      opt.dispose();
      params.forEach((p) => p.dispose());
    },
  };
}
