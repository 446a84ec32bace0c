import { PhiloxGenerator } from "@dualgrad/core";
import {
  Adam, DeviceTensor, HostTensor, SGD, crossEntropy, fn, gradients, mseLoss, type GraphFunction, type TensorData, type GraphOptimizer, type StageSwitch, type SymbolicTensor,
} from "@dualgrad/graph";
import type { Batch } from "../datasets/synthetic.js";
import type { ModelSpec } from "../models.js";
import { graphModel } from "./graph-model.js";
import { inputShape, padSequences, padsSequences } from "./recurrent-input.js";
import type { Trainer, TrainerOptions } from "./trainer.js";

/** A graph trainer also exposes its compiled step (plans, stages, arena size). */
export interface GraphTrainer extends Trainer {
  readonly compiledStep: GraphFunction<HostTensor>;
  /** The compiled forward + loss (no gradients), for showing the plain traced model. */
  readonly compiledLoss: GraphFunction<HostTensor>;
  /** The compiled step's arguments for a batch (to inspect its stages with `compiledStep.lower`). */
  stepArgs(batch: Batch): TensorData[];
}

/**
 * A spec built on the graph frontend: Linear variables, and the whole training step
 * (forward, loss, gradients, update) traced into one compiled function.
 */
export function graphTrainer(spec: ModelSpec, options: TrainerOptions): GraphTrainer {
  const dtype = options.dtype ?? "float32";
  const { params, names, forward } = graphModel(spec, dtype, new PhiloxGenerator(options.seed));
  const lossOf = (x: SymbolicTensor, y: SymbolicTensor, mask?: SymbolicTensor) => (spec.loss === "ce" ? crossEntropy(forward(x, mask), y) : mseLoss(forward(x, mask), y));
  const opt: GraphOptimizer =
    spec.optimizer === "adam" ? new Adam({ lr: spec.lr }) : new SGD({ lr: spec.lr, momentum: spec.optimizer === "momentum" ? (spec.momentum ?? 0.9) : 0 });
  // Variable-length sequences retrace once per length by design: warn only past the longest.
  const fnOptions = { disable: (options.disable ?? []) as StageSwitch[], name: `${spec.id}-step`, warnAfterTraces: (spec.recurrent?.seqLen ?? 4) + 1 };
  // The step mask is a third argument only where sequences are padded (the `pad` strategy).
  const step = fn<HostTensor>((x: SymbolicTensor, y: SymbolicTensor, mask?: SymbolicTensor) => {
    const loss = lossOf(x, y, mask);
    opt.minimize(loss, params);
    return loss;
  }, fnOptions);
  const lossFn = fn<HostTensor>((x: SymbolicTensor, y: SymbolicTensor, mask?: SymbolicTensor) => lossOf(x, y, mask), { ...fnOptions, name: `${spec.id}-loss` });
  const predictFn = fn<HostTensor>((x: SymbolicTensor, mask?: SymbolicTensor) => forward(x, mask), { ...fnOptions, name: `${spec.id}-predict` });
  const gradFn = fn<HostTensor[]>((x: SymbolicTensor, y: SymbolicTensor, mask?: SymbolicTensor) => gradients(lossOf(x, y, mask), params), { ...fnOptions, name: `${spec.id}-grad` });
  // The last batch, kept in core's allocator (the wasm heap) as `jax.device_put` would keep it,
  // so the compiled step reads it in place every step, as eager reads its tensors.
  let cached: { batch: Batch; x: DeviceTensor; y: DeviceTensor; rest: DeviceTensor[] } | null = null;
  const tensorsOf = (b: Batch) => {
    if (cached?.batch === b) return cached;
    releaseCached();
    const y = new DeviceTensor(b.yShape, spec.loss === "ce" ? "int32" : dtype, b.y);
    if (padsSequences(spec)) {
      const p = padSequences(spec, b);
      cached = { batch: b, x: new DeviceTensor(p.shape, dtype, p.x), y, rest: [new DeviceTensor([p.mask.length], dtype, p.mask)] };
    } else {
      cached = { batch: b, x: new DeviceTensor(inputShape(spec, b), dtype, b.x), y, rest: [] };
    }
    return cached;
  };
  const releaseCached = () => {
    cached?.x.dispose();
    cached?.y.dispose();
    cached?.rest.forEach((t) => t.dispose());
    cached = null;
  };
  return {
    frontend: "graph",
    spec,
    compiledStep: step,
    compiledLoss: lossFn,
    stepArgs(batch) {
      const { x, y, rest } = tensorsOf(batch);
      return [x, y, ...rest];
    },
    step(batch) {
      const { x, y, rest } = tensorsOf(batch);
      return step(x, y, ...rest).item();
    },
    loss(batch) {
      const { x, y, rest } = tensorsOf(batch);
      return lossFn(x, y, ...rest).item();
    },
    predict(batch) {
      const { x, rest } = tensorsOf(batch);
      return predictFn(x, ...rest).data as Float32Array | Float64Array;
    },
    gradients(batch) {
      const { x, y, rest } = tensorsOf(batch);
      const gs = gradFn(x, y, ...rest);
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
