import { DualgradError, composites as C } from "@dualgrad/core";
import { composite, type SymbolicTensor, type SymLike } from "./symbolic.js";
import { scan } from "./control/api.js";
import { Variable } from "./variable.js";

/**
 * Elman RNNs for traced code, built on {@link scan} over the time axis: the body is core's
 * `rnnStep` (the step the eager `nn.RNN` unrolls), traced once, so the graph holds one step
 * whatever the sequence length (still static per trace signature). `mask` is scanned along with
 * x, so padded sequences of one length run in one trace. The LSTM below is still unrolled.
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

/** Core's `rnnStep` for every layer in turn: the new states, bottom to top. */
function stackStep(x: SymLike, hs: readonly (SymLike | null)[], mask: SymLike | undefined, layers: readonly RNNLayerOperands[], nonlinearity: C.RNNNonlinearity): SymbolicTensor[] {
  let input = x;
  return layers.map((p, l) => {
    const h = hs[l];
    const params = [p.weightIh, p.weightHh, p.biasIh, p.biasHh].filter((v): v is Variable | SymbolicTensor => v !== null);
    const next = composite([input, ...(h === null ? [] : [h]), ...(mask === undefined ? [] : [mask]), ...params], (b, ids) => {
      let k = 0;
      const xi = ids[k++];
      const hi = h === null ? null : ids[k++];
      const mi = mask === undefined ? undefined : ids[k++];
      const take = (v: unknown) => (v === null ? null : ids[k++]);
      const lp = { weightIh: take(p.weightIh)!, weightHh: take(p.weightHh)!, biasIh: take(p.biasIh), biasHh: take(p.biasHh) };
      return C.rnnStep(b, xi, hi, mi, lp, nonlinearity);
    });
    input = next;
    return next;
  });
}

/** Runs a stack of Elman layers over `x`; the last state `[B, H]`, or the whole sequence with `returnSequences`. */
export function rnn(x: SymLike, layers: readonly RNNLayerOperands[], options: RNNCallOptions = {}): SymbolicTensor {
  if (layers.length === 0) throw new DualgradError("rnn: needs at least one layer");
  const batchFirst = options.batchFirst ?? true;
  const nonlinearity = options.nonlinearity ?? "tanh";
  if (!C.RNN_NONLINEARITIES.includes(nonlinearity)) throw new DualgradError(`rnn: unknown nonlinearity ${JSON.stringify(nonlinearity)} (expected 'tanh' or 'relu')`);
  if (options.h0 !== undefined && options.h0.length !== layers.length) throw new DualgradError(`RNN: h0 has ${options.h0.length} layer states, expected ${layers.length}`);
  // Time-major [T, B, F] (scan runs over axis 0). A transpose, a slice and a reshape only copy,
  // so every step sees the bits of eager's per-step slices.
  let steps = 0;
  const timeMajor = composite([x, layers[0].weightIh], (b, [xi, w]) => {
    steps = C.sequenceLength(b, xi, [{ weightIh: w, weightHh: w, biasIh: null, biasHh: null }], batchFirst, "RNN");
    return batchFirst ? b.emit("transpose", [xi], { perm: [1, 0, 2] }) : xi;
  });
  const mask = options.mask === undefined ? undefined : composite([options.mask], (b, [m]) => {
    const shape = b.meta(m).shape;
    if (shape.length !== 1 || shape[0] !== steps) throw new DualgradError(`RNN: mask must be [${steps}] (one 1/0 per step), got [${shape.join(", ")}]`);
    return m;
  });
  const [, B, F] = timeMajor.shape;
  const range = (v: SymLike, lo: number, hi: number, rest: readonly number[]) =>
    composite([v], (b, [id]) => b.emit("slice", [id], { begin: [lo, ...rest.map(() => 0)], end: [hi, ...rest] }));
  // Step 0 outside the scan: without h0 it runs from a null state, as eager's first step does (no
  // h W_hh^T product, which could turn a -0 into +0), so the carry starts as real tensors.
  const x0 = range(timeMajor, 0, 1, [B, F]).reshape([B, F]);
  const first = stackStep(x0, options.h0 ?? layers.map(() => null), mask === undefined ? undefined : range(mask, 0, 1, []), layers, nonlinearity);
  let last = first;
  let ys: SymbolicTensor | null = null;
  if (steps > 1) {
    const xs = [range(timeMajor, 1, steps, [B, F]), ...(mask === undefined ? [] : [range(mask, 1, steps, [])])];
    const [carry, out] = scan((hs, [xt, mt]) => {
      const next = stackStep(xt, hs, mt, layers, nonlinearity);
      return [next, next[next.length - 1]];
    }, first, xs);
    last = carry;
    ys = out;
  }
  const top = last[layers.length - 1];
  if (!options.returnSequences) return top;
  const H = top.shape[1];
  // Step 0's top state, then the scan's ys: [T, B, H] in time order.
  const head = first[layers.length - 1].reshape([1, B, H]);
  const seq = ys === null ? head : composite([head, ys], (b, ids) => b.emit("concat", ids, { axis: 0 }));
  return batchFirst ? composite([seq], (b, [s]) => b.emit("transpose", [s], { perm: [1, 0, 2] })) : seq;
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
 * batch-first, from zero states. Not yet on {@link scan} as {@link rnn} is: only the Elman RNN
 * was moved (time), so a longer sequence here still means a bigger graph.
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
