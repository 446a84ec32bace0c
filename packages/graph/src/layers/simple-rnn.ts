import { DualgradError, composites as C, type DType, type PhiloxGenerator } from "@dualgrad/core";
import { RNN } from "../recurrent.js";
import type { SymbolicTensor } from "../symbolic.js";
import type { Variable } from "../variable.js";

/** Configuration of {@link layers.simpleRNN}, as `tf.layers.simpleRNN`. */
export interface SimpleRNNConfig {
  /** Hidden units. */
  units: number;
  /** `tanh` (default) or `relu`: the recurrent nonlinearities PyTorch's `nn.RNN` offers too. */
  activation?: C.RNNNonlinearity;
  /** Return the states of every step `[B, T, units]` instead of the last `[B, units]` (default false). */
  returnSequences?: boolean;
  /** `[timesteps, features]`; timesteps may be null (any length: each length is its own trace). */
  inputShape?: [number | null, number];
  /** Layer name (default `simple_rnn`), the variables' name prefix. */
  name?: string;
}

/**
 * A Keras `SimpleRNN` layer over the graph frontend's {@link RNN}: batch-first input
 * `[B, T, F]`, h0 = 0. Its variables keep PyTorch's names and layout (`weight_ih_l0 [units, F]`,
 * `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`: PyTorch's two biases where Keras has one), so the
 * weights move by name to the eager `nn.RNN` and to PyTorch. Created unbuilt; `build` creates the
 * variables once the feature count is known.
 */
export class SimpleRNN {
  readonly units: number;
  readonly activation: C.RNNNonlinearity;
  readonly returnSequences: boolean;
  readonly inputShape: [number | null, number] | undefined;
  readonly name: string;
  private cell: RNN | null = null;

  constructor(config: SimpleRNNConfig) {
    if (typeof config !== "object" || config === null) throw new DualgradError("layers.simpleRNN: expected a config object { units, ... }");
    if (!Number.isSafeInteger(config.units) || config.units <= 0) throw new DualgradError(`layers.simpleRNN: units must be a positive integer, got ${String(config.units)}`);
    this.units = config.units;
    const act = config.activation ?? "tanh";
    if (!C.RNN_NONLINEARITIES.includes(act)) throw new DualgradError(`layers.simpleRNN: unknown activation ${JSON.stringify(act)}; valid choices: 'tanh', 'relu'`);
    this.activation = act;
    this.returnSequences = config.returnSequences ?? false;
    this.inputShape = config.inputShape;
    this.name = config.name ?? "simple_rnn";
  }

  /** Creates the variables for `inFeatures` (or the declared input shape's) features, drawing PyTorch's nn.RNN init from `generator`. */
  build(inFeatures: number | undefined, dtype: DType, generator: PhiloxGenerator): void {
    if (this.cell) throw new DualgradError(`layer '${this.name}' is already built`);
    const f = inFeatures ?? this.inputShape?.[1];
    if (f === undefined) throw new DualgradError(`layer '${this.name}' needs inputShape [timesteps, features] or an input size to build`);
    this.cell = new RNN(f, this.units, { nonlinearity: this.activation, dtype, generator, name: this.name });
  }

  private requireBuilt(): RNN {
    if (!this.cell) throw new DualgradError(`layer '${this.name}' is not built yet: call build(...) first`);
    return this.cell;
  }

  /** Applies the layer inside a trace to `[B, T, F]`; `mask` (`[T]` of 1/0) keeps the state over padded steps. */
  apply(x: SymbolicTensor, mask?: SymbolicTensor): SymbolicTensor {
    return this.requireBuilt().forward(x, { returnSequences: this.returnSequences, mask });
  }

  /** The variables in PyTorch's order. */
  parameters(): Variable[] {
    return this.requireBuilt().parameters();
  }

  /** The variables by PyTorch name (`weight_ih_l0`, ...). */
  namedParameters(): [string, Variable][] {
    const rnn = this.requireBuilt();
    return rnn.parameters().map((v, i) => [rnn.names[i], v]);
  }

  /** Releases the variables. */
  dispose(): void {
    for (const v of this.cell?.parameters() ?? []) v.dispose();
  }
}

/** Creates a {@link SimpleRNN} layer, as `tf.layers.simpleRNN(config)`. */
export function simpleRNN(config: SimpleRNNConfig): SimpleRNN {
  return new SimpleRNN(config);
}
