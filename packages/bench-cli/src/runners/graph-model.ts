import { DualgradError, type PhiloxGenerator } from "@dualgrad/core";
import { Conv2d, LSTM, Linear, RNN, avgPool2d, flatten, maxPool2d, type SymbolicTensor, type Variable } from "@dualgrad/graph";
import { hiddenActivation, type ModelSpec, type ModuleSpec } from "../models.js";

/** A spec's layers on the graph frontend: its variables, their PyTorch names, and the traceable forward pass. */
export interface GraphModel {
  /** Every parameter variable, weight then bias per layer. */
  readonly params: Variable[];
  /** PyTorch names of `params` (`0.weight`, `0.bias`, `2.weight`, ...), in the same order. */
  readonly names: string[];
  /** The forward pass (logits for ce), to call inside a trace; `mask` is the step mask of padded sequences. */
  forward(x: SymbolicTensor, mask?: SymbolicTensor): SymbolicTensor;
}

/** The recurrent workloads' model: RNN or LSTM (batch-first, zero initial state) then a Linear head on the last state; names as the eager RNNRegressor's. */
function recurrentModel(spec: ModelSpec, dtype: "float32" | "float64", gen: PhiloxGenerator): GraphModel {
  const [f, h, o] = spec.layers;
  const r = spec.recurrent!;
  const rnn = r.cell === "lstm" ? new LSTM(f, h, { dtype, generator: gen, name: `${spec.id}.rnn` }) : new RNN(f, h, { nonlinearity: r.nonlinearity, dtype, generator: gen, name: `${spec.id}.rnn` });
  const head = new Linear(h, o, { dtype, generator: gen, name: `${spec.id}.head` });
  return {
    params: [...rnn.parameters(), ...head.parameters()],
    names: [...rnn.names.map((n) => `rnn.${n}`), "head.weight", "head.bias"],
    forward: (x, mask) => {
      if (mask && rnn instanceof LSTM) throw new DualgradError("graph LSTM: padded sequences (a step mask) are not supported");
      return head.forward(rnn instanceof LSTM ? rnn.forward(x) : rnn.forward(x, { mask }));
    },
  };
}

const activate = (h: SymbolicTensor, act: "relu" | "tanh" | "sigmoid") => (act === "relu" ? h.relu() : act === "tanh" ? h.tanh() : h.sigmoid());

/** The Linear/activation stack of `spec.layers`. */
function graphMlp(spec: ModelSpec, dtype: "float32" | "float64", gen: PhiloxGenerator): GraphModel {
  const layers: Linear[] = [];
  for (let i = 0; i < spec.layers.length - 1; i++) {
    layers.push(new Linear(spec.layers[i], spec.layers[i + 1], { dtype, generator: gen, name: `${spec.id}.${2 * i}` }));
  }
  return {
    params: layers.flatMap((l) => l.parameters()),
    names: layers.flatMap((_, i) => [`${2 * i}.weight`, `${2 * i}.bias`]),
    forward: (x) => {
      let h = x;
      layers.forEach((l, i) => {
        h = l.forward(h);
        const act = hiddenActivation(spec, i);
        if (act) h = activate(h, act);
      });
      return h;
    },
  };
}

/** An explicit module list, each module traced as the eager frontend runs it (parameters drawn in list order). */
function graphModules(modules: ModuleSpec[], id: string, dtype: "float32" | "float64", generator: PhiloxGenerator): GraphModel {
  const params: Variable[] = [];
  const names: string[] = [];
  const stages = modules.map((m, k): ((h: SymbolicTensor) => SymbolicTensor) => {
    const own = (layer: Conv2d | Linear) => {
      params.push(...layer.parameters());
      names.push(`${k}.weight`, `${k}.bias`);
      return (h: SymbolicTensor) => layer.forward(h);
    };
    switch (m.type) {
      case "conv2d":
        return own(new Conv2d(m.in_channels, m.out_channels, m.kernel_size, { stride: m.stride, padding: m.padding, dtype, generator, name: `${id}.${k}` }));
      case "linear":
        return own(new Linear(m.in_features, m.out_features, { dtype, generator, name: `${id}.${k}` }));
      case "max_pool2d":
        return (h) => maxPool2d(h, m.kernel_size, { stride: m.stride, padding: m.padding ?? 0 });
      case "avg_pool2d":
        return (h) => avgPool2d(h, m.kernel_size, { stride: m.stride, padding: m.padding ?? 0 });
      case "flatten":
        return (h) => flatten(h);
      default: {
        const act = m.type;
        return (h) => activate(h, act);
      }
    }
  });
  return { params, names, forward: (x) => stages.reduce((h, f) => f(h), x) };
}

/** Views flat rows `[N, C*H*W]` as the spec's per-sample shape (ONNX export and serving pass flat rows). */
function withInputShape(spec: ModelSpec, model: GraphModel): GraphModel {
  const shape = spec.inputShape;
  if (!shape || shape.length < 2) return model;
  return { ...model, forward: (x) => model.forward(x.ndim === 2 ? x.reshape([x.shape[0], ...shape]) : x) };
}

/**
 * Builds a spec's layers from `gen` (the same draws, in the same order, as the eager frontend's
 * nn.Sequential) and its forward pass: the module list when the spec has one (`cnn`), else the
 * Linear/activation stack. Used by the graph trainer and by the ONNX export, so both trace the
 * same function.
 */
export function graphModel(spec: ModelSpec, dtype: "float32" | "float64", gen: PhiloxGenerator): GraphModel {
  if (spec.recurrent) return recurrentModel(spec, dtype, gen);
  return spec.modules ? withInputShape(spec, graphModules(spec.modules, spec.id, dtype, gen)) : graphMlp(spec, dtype, gen);
}
