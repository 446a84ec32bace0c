import type { PhiloxGenerator } from "@dualgrad/core";
import { nn, tidy, type Tensor } from "@dualgrad/eager";
import { hiddenActivation, type ModelSpec, type ModuleSpec } from "../models.js";

function activation(a: "relu" | "tanh" | "sigmoid" | null): nn.Module {
  return a === "relu" ? new nn.ReLU() : a === "tanh" ? new nn.Tanh() : new nn.Sigmoid();
}

/** One module of an explicit module list, as PyTorch's nn would build it. */
function eagerModule(m: ModuleSpec, dtype: "float32" | "float64", generator: PhiloxGenerator): nn.Module {
  switch (m.type) {
    case "conv2d":
      return new nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, { stride: m.stride, padding: m.padding, dtype, generator });
    case "max_pool2d":
      return new nn.MaxPool2d(m.kernel_size, { stride: m.stride, padding: m.padding ?? 0 });
    case "avg_pool2d":
      return new nn.AvgPool2d(m.kernel_size, { stride: m.stride, padding: m.padding ?? 0 });
    case "linear":
      return new nn.Linear(m.in_features, m.out_features, { dtype, generator });
    case "flatten":
      return new nn.Flatten();
    default:
      return activation(m.type);
  }
}

/** The recurrent workloads' model: `nn.RNN` or `nn.LSTM` (batch-first, zero initial state) then a Linear head on the last hidden state. */
export class RNNRegressor extends nn.Module {
  readonly rnn: nn.RNN | nn.LSTM;
  readonly head: nn.Linear;
  constructor(spec: ModelSpec, dtype: "float32" | "float64", gen: PhiloxGenerator) {
    super();
    const [f, h, o] = spec.layers;
    const r = spec.recurrent!;
    this.rnn = r.cell === "lstm" ? new nn.LSTM(f, h, { batchFirst: true, dtype, generator: gen }) : new nn.RNN(f, h, { nonlinearity: r.nonlinearity, batchFirst: true, dtype, generator: gen });
    this.head = new nn.Linear(h, o, { dtype, generator: gen });
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.head.forward(this.rnn.lastHidden(x)));
  }
}

/**
 * A spec's model on the eager frontend, its parameters drawn from `gen` in the order the graph
 * frontend draws them: an nn.Sequential (Linear layers and activations, or the spec's explicit
 * module list), or an {@link RNNRegressor}.
 */
export function eagerModel(spec: ModelSpec, dtype: "float32" | "float64", gen: PhiloxGenerator): nn.Module {
  if (spec.recurrent) return new RNNRegressor(spec, dtype, gen);
  const mods: nn.Module[] = [];
  if (spec.modules) {
    for (const m of spec.modules) mods.push(eagerModule(m, dtype, gen));
  } else {
    for (let i = 0; i < spec.layers.length - 1; i++) {
      mods.push(new nn.Linear(spec.layers[i], spec.layers[i + 1], { dtype, generator: gen }));
      const act = hiddenActivation(spec, i);
      if (act) mods.push(activation(act));
    }
  }
  return new nn.Sequential(...mods);
}
