import { DualgradError, composites as C } from "@dualgrad/core";
import type { GraphBuilder } from "./builder.js";
import { SymbolicTensor, composite, type SymLike } from "./symbolic.js";
import { scan } from "./control/api.js";
import { Variable } from "./variable.js";

/**
 * Recurrent layers for traced code (Elman RNN, LSTM), built on {@link scan} over the time axis:
 * the body is core's step (`rnnStep`, `lstmCell`: what the eager `nn.RNN` / `nn.LSTM` unroll),
 * traced once, so the traced graph holds one step whatever the sequence length (static per trace
 * signature). `mask` is scanned along with x, so padded sequences of one length run in one trace.
 * The compiler unrolls a short scan into straight-line code (passes/unroll-scan.ts), which is
 * what makes a short sequence's compiled step fast; a long one stays a loop.
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

/** A layer's parameters as ids, in the order {@link paramsOf} lists them. */
type LayerIds = C.RNNLayerParams<number>;

/** A layer's parameters that are present, in PyTorch's order. */
const paramsOf = <V>(p: C.RNNLayerParams<V>): V[] => [p.weightIh, p.weightHh, p.biasIh, p.biasHh].filter((v): v is NonNullable<V> => v !== null);

/**
 * One time step of one layer, in core's composites: the layer's new state (its ids: `[h]` for an
 * Elman cell, `[h, c]` for an LSTM's) from input `x` and the previous state (null: zeros).
 */
type Cell = (b: GraphBuilder, x: number, state: readonly number[] | null, mask: number | undefined, p: LayerIds) => number[];

/** Core's `rnnStep` (the eager `nn.RNN`'s step). */
const elmanCell = (nonlinearity: C.RNNNonlinearity): Cell => (b, x, state, mask, p) => [C.rnnStep(b, x, state === null ? null : state[0], mask, p, nonlinearity)];

/** Core's `lstmCell` (the eager `nn.LSTM`'s step); LSTMs take no mask. */
const lstmCell: Cell = (b, x, state, _mask, p) => {
  const s = C.lstmCell(b, x, state === null ? null : { h: state[0], c: state[1] }, p);
  return [s.h, s.c];
};

/** `composite` for a computation with several results. */
function composites(inputs: readonly SymLike[], f: (b: GraphBuilder, ids: number[]) => number[]): SymbolicTensor[] {
  let builder: GraphBuilder | null = null;
  let rest: number[] = [];
  const first = composite(inputs, (b, ids) => {
    builder = b;
    const out = f(b, ids);
    rest = out.slice(1);
    return out[0];
  });
  return [first, ...rest.map((id) => new SymbolicTensor(builder!, id))];
}

/** `cell` for every layer in turn over one step: each layer's new state, bottom to top. */
function stackStep(cell: Cell, x: SymLike, states: readonly (readonly SymLike[] | null)[], mask: SymLike | undefined, layers: readonly RNNLayerOperands[]): SymbolicTensor[][] {
  let input = x;
  return layers.map((p, l) => {
    const state = states[l];
    const next = composites([input, ...(state ?? []), ...(mask === undefined ? [] : [mask]), ...paramsOf(p)], (b, ids) => {
      let k = 0;
      const xi = ids[k++];
      const si = state === null ? null : state.map(() => ids[k++]);
      const mi = mask === undefined ? undefined : ids[k++];
      const take = (v: unknown) => (v === null ? null : ids[k++]);
      return cell(b, xi, si, mi, { weightIh: take(p.weightIh)!, weightHh: take(p.weightHh)!, biasIh: take(p.biasIh), biasHh: take(p.biasHh) });
    });
    input = next[0];
    return next;
  });
}

/** What {@link recurrence} needs besides the input and the layers. */
interface RecurrenceOptions {
  api: string;
  cell: Cell;
  /** Ids per layer state: 1 (h) or 2 (h, c). */
  stateSize: number;
  batchFirst: boolean;
  /** Each layer's initial state, or undefined for zeros. */
  initial?: readonly (readonly SymLike[])[];
  mask?: SymLike;
  returnSequences?: boolean;
}

/**
 * A stack of recurrent layers over the time axis of `x`, on {@link scan}: the top layer's last
 * hidden state `[B, H]`, or its hidden states at every step with `returnSequences`.
 */
function recurrence(x: SymLike, layers: readonly RNNLayerOperands[], o: RecurrenceOptions): SymbolicTensor {
  if (layers.length === 0) throw new DualgradError(`${o.api.toLowerCase()}: needs at least one layer`);
  if (o.initial !== undefined && o.initial.length !== layers.length) throw new DualgradError(`${o.api}: h0 has ${o.initial.length} layer states, expected ${layers.length}`);
  // Time-major [T, B, F] for the scan (over axis 0). A transpose, a slice and a reshape only
  // copy, so every step sees the bits of eager's per-step slices; once the compiler unrolls the
  // scan, each step is sliced from x itself and the transpose goes.
  let steps = 0;
  const timeMajor = composite([x, layers[0].weightIh], (b, [xi, w]) => {
    steps = C.sequenceLength(b, xi, [{ weightIh: w, weightHh: w, biasIh: null, biasHh: null }], o.batchFirst, o.api);
    return o.batchFirst ? b.emit("transpose", [xi], { perm: [1, 0, 2] }) : xi;
  });
  const mask = o.mask === undefined ? undefined : composite([o.mask], (b, [m]) => {
    const shape = b.meta(m).shape;
    if (shape.length !== 1 || shape[0] !== steps) throw new DualgradError(`${o.api}: mask must be [${steps}] (one 1/0 per step), got [${shape.join(", ")}]`);
    return m;
  });
  const [, B, F] = timeMajor.shape;
  const range = (v: SymLike, lo: number, hi: number, rest: readonly number[]) =>
    composite([v], (b, [id]) => b.emit("slice", [id], { begin: [lo, ...rest.map(() => 0)], end: [hi, ...rest] }));
  // Step 0 outside the scan: without an initial state it runs from a null state, as eager's first
  // step does (no h W_hh^T product, which could turn a -0 into +0), so the carry starts as real tensors.
  const x0 = composite([x], (b, [xi]) => C.stepInput(b, xi, 0, o.batchFirst));
  const first = stackStep(o.cell, x0, o.initial ?? layers.map(() => null), mask === undefined ? undefined : range(mask, 0, 1, []), layers);
  let last = first;
  let ys: SymbolicTensor | null = null;
  if (steps > 1) {
    const xs = [range(timeMajor, 1, steps, [B, F]), ...(mask === undefined ? [] : [range(mask, 1, steps, [])])];
    const [carry, out] = scan((flat, [xt, mt]) => {
      const states = layers.map((_, l) => flat.slice(l * o.stateSize, (l + 1) * o.stateSize));
      const next = stackStep(o.cell, xt, states, mt, layers);
      return [next.flat(), next[layers.length - 1][0]];
    }, first.flat(), xs);
    last = layers.map((_, l) => carry.slice(l * o.stateSize, (l + 1) * o.stateSize));
    ys = out;
  }
  const top = last[layers.length - 1][0];
  if (!o.returnSequences) return top;
  const H = top.shape[1];
  // Step 0's top state, then the scan's ys: [T, B, H] in time order.
  const head = first[layers.length - 1][0].reshape([1, B, H]);
  const seq = ys === null ? head : composite([head, ys], (b, ids) => b.emit("concat", ids, { axis: 0 }));
  return o.batchFirst ? composite([seq], (b, [s]) => b.emit("transpose", [s], { perm: [1, 0, 2] })) : seq;
}

/** Runs a stack of Elman layers over `x`; the last state `[B, H]`, or the whole sequence with `returnSequences`. */
export function rnn(x: SymLike, layers: readonly RNNLayerOperands[], options: RNNCallOptions = {}): SymbolicTensor {
  const nonlinearity = options.nonlinearity ?? "tanh";
  if (!C.RNN_NONLINEARITIES.includes(nonlinearity)) throw new DualgradError(`rnn: unknown nonlinearity ${JSON.stringify(nonlinearity)} (expected 'tanh' or 'relu')`);
  return recurrence(x, layers, {
    api: "RNN", cell: elmanCell(nonlinearity), stateSize: 1, batchFirst: options.batchFirst ?? true,
    initial: options.h0?.map((h) => [h]), mask: options.mask, returnSequences: options.returnSequences,
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
    return this.layers.flatMap(paramsOf);
  }
}

/** Options of {@link LSTM}: core's init options, the layer count, and `name`, the variables' prefix. */
export type LSTMOptions = Omit<RNNOptions, "nonlinearity">;

/**
 * An LSTM's parameters as variables, named, laid out and initialised like PyTorch's `nn.LSTM`
 * (the eager `nn.LSTM`'s draws); `forward` runs core's `lstmCell` on {@link scan} over time, as
 * {@link rnn} runs the Elman cell, batch-first, from zero states.
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

  /** The top layer's last hidden state `[B, H]`, or its states at every step `[B, T, H]` with `returnSequences` (batch-first input, zero initial states). */
  forward(x: SymLike, options: { returnSequences?: boolean } = {}): SymbolicTensor {
    return recurrence(x, this.layers, { api: "LSTM", cell: lstmCell, stateSize: 2, batchFirst: true, returnSequences: options.returnSequences });
  }

  /** The variables in PyTorch's order (per layer: weight_ih, weight_hh, bias_ih, bias_hh). */
  parameters(): Variable[] {
    return this.layers.flatMap(paramsOf);
  }
}
