import { DualgradError, composites as C } from "@dualgrad/core";
import { composite, type SymbolicTensor, type SymLike } from "./symbolic.js";
import { Variable } from "./variable.js";

/**
 * Elman RNNs for traced code: core's `rnnSequence` composite (the one the eager `nn.RNN` runs),
 * unrolled over the sequence length, which is static per trace signature. A new length is a new
 * signature, hence a new trace; `mask` runs shorter sequences padded to one length in one trace.
 */

/** One layer's operands: PyTorch layout, `weightIh [H, in]`, `weightHh [H, H]`, biases `[H]` or null. */
export type RNNLayerOperands = C.RNNLayerParams<Variable | SymbolicTensor>;

/** Options of {@link rnn}. */
export interface RNNCallOptions {
  /** `tanh` (default) or `relu`. */
  nonlinearity?: C.RNNNonlinearity;
  /** Input `[B, T, F]` when true (default here, as Keras); `[T, B, F]` otherwise. */
  batchFirst?: boolean;
  /** One initial state `[B, H]` per layer (default zeros). */
  h0?: readonly SymLike[];
  /** `[T]` of 1/0: steps where it is 0 keep the previous state (padding past a sequence's length). */
  mask?: SymLike;
  /** Return the top layer's states `[B, T, H]` (batchFirst) instead of its last state `[B, H]`. */
  returnSequences?: boolean;
}

/** Runs a stack of Elman layers over `x`; the last state `[B, H]`, or the whole sequence with `returnSequences`. */
export function rnn(x: SymLike, layers: readonly RNNLayerOperands[], options: RNNCallOptions = {}): SymbolicTensor {
  if (layers.length === 0) throw new DualgradError("rnn: needs at least one layer");
  const batchFirst = options.batchFirst ?? true;
  const nonlinearity = options.nonlinearity ?? "tanh";
  if (!C.RNN_NONLINEARITIES.includes(nonlinearity)) throw new DualgradError(`rnn: unknown nonlinearity ${JSON.stringify(nonlinearity)} (expected 'tanh' or 'relu')`);
  // Flatten every operand into one composite call; null biases keep their place as null.
  const params = layers.flatMap((p) => [p.weightIh, p.weightHh, p.biasIh, p.biasHh]);
  const operands: SymLike[] = [x, ...(options.mask === undefined ? [] : [options.mask]), ...(options.h0 ?? []), ...params.filter((p): p is Variable | SymbolicTensor => p !== null)];
  return composite(operands, (b, ids) => {
    let k = 0;
    const xi = ids[k++];
    const mask = options.mask === undefined ? undefined : ids[k++];
    const h0 = options.h0 === undefined ? null : options.h0.map(() => ids[k++]);
    const take = (p: unknown) => (p === null ? null : ids[k++]);
    const ls = layers.map((p) => ({ weightIh: take(p.weightIh)!, weightHh: take(p.weightHh)!, biasIh: take(p.biasIh), biasHh: take(p.biasHh) }));
    const r = C.rnnSequence(b, xi, h0, ls, { nonlinearity, batchFirst, mask });
    return options.returnSequences ? C.stack(b, r.steps, batchFirst ? 1 : 0) : r.last[layers.length - 1];
  });
}

/** Options of {@link RNN}: core's init options, the nonlinearity, the layer count, and `name`, the variables' prefix. */
export interface RNNOptions extends C.RNNInitOptions {
  nonlinearity?: C.RNNNonlinearity;
  numLayers?: number;
  name?: string;
}

/**
 * An Elman RNN's parameters as variables, named and initialised like PyTorch's `nn.RNN`
 * (`weight_ih_l0`, ...; the same Philox draws as the eager `nn.RNN`), so weights move between
 * the frontends and PyTorch by name.
 */
export class RNN {
  readonly nonlinearity: C.RNNNonlinearity;
  readonly layers: C.RNNLayerParams<Variable>[];
  /** PyTorch names of {@link parameters}, in the same order. */
  readonly names: string[] = [];
  constructor(readonly inputSize: number, readonly hiddenSize: number, options: RNNOptions = {}) {
    const nl = options.nonlinearity ?? "tanh";
    if (!C.RNN_NONLINEARITIES.includes(nl)) throw new DualgradError(`RNN: unknown nonlinearity ${JSON.stringify(nl)} (expected 'tanh' or 'relu')`);
    this.nonlinearity = nl;
    const prefix = options.name ?? "rnn";
    this.layers = C.initRNN(inputSize, hiddenSize, options.numLayers ?? 1, options, (name, shape, dtype) => {
      this.names.push(name);
      return new Variable(shape, dtype, { name: `${prefix}.${name}` });
    });
  }

  /** Applies the RNN inside a trace (batch-first input); see {@link rnn} for the options. */
  forward(x: SymLike, options: Omit<RNNCallOptions, "nonlinearity"> = {}): SymbolicTensor {
    return rnn(x, this.layers, { ...options, nonlinearity: this.nonlinearity });
  }

  /** The variables in PyTorch's order (per layer: weight_ih, weight_hh, bias_ih, bias_hh). */
  parameters(): Variable[] {
    return this.layers.flatMap((l) => [l.weightIh, l.weightHh, l.biasIh, l.biasHh].filter((v): v is Variable => v !== null));
  }
}

/** Options of {@link LSTM}: core's init options, the layer count, and `name`, the variables' prefix. */
export type LSTMOptions = Omit<RNNOptions, "nonlinearity">;

/**
 * An LSTM's parameters as variables, named, laid out and initialised like PyTorch's `nn.LSTM`
 * (the eager `nn.LSTM`'s draws); `forward` runs core's `lstmSequence` unrolled in the trace,
 * batch-first, from zero states.
 */
export class LSTM {
  readonly layers: C.RNNLayerParams<Variable>[];
  /** PyTorch names of {@link parameters}, in the same order. */
  readonly names: string[] = [];
  constructor(readonly inputSize: number, readonly hiddenSize: number, options: LSTMOptions = {}) {
    const prefix = options.name ?? "lstm";
    this.layers = C.initRNN(inputSize, hiddenSize, options.numLayers ?? 1, options, (name, shape, dtype) => {
      this.names.push(name);
      return new Variable(shape, dtype, { name: `${prefix}.${name}` });
    }, false, 4);
  }

  /** The top layer's last hidden state `[B, H]`, or its states at every step `[B, T, H]` with `returnSequences`. */
  forward(x: SymLike, options: { returnSequences?: boolean } = {}): SymbolicTensor {
    const params = this.parameters();
    return composite([x, ...params], (b, [xi, ...ids]) => {
      let k = 0;
      const take = (p: Variable | null) => (p === null ? null : ids[k++]);
      const ls = this.layers.map((p) => ({ weightIh: take(p.weightIh)!, weightHh: take(p.weightHh)!, biasIh: take(p.biasIh), biasHh: take(p.biasHh) }));
      const r = C.lstmSequence(b, xi, null, ls, true);
      return options.returnSequences ? C.stack(b, r.steps, 1) : r.last[ls.length - 1].h;
    });
  }

  /** The variables in PyTorch's order (per layer: weight_ih, weight_hh, bias_ih, bias_hh). */
  parameters(): Variable[] {
    return this.layers.flatMap((l) => [l.weightIh, l.weightHh, l.biasIh, l.biasHh].filter((v): v is Variable => v !== null));
  }
}
