import { DualgradError, composites as C, formatShape, type Emitter } from "@dualgrad/core";
import { zeros } from "../factories.js";
import * as F from "../ops.js";
import type { Tensor } from "../tensor.js";
import { tidy } from "../memory.js";
import { Module, parameter } from "./module.js";

/** Options of {@link RNN}, as `torch.nn.RNN`'s keyword arguments. */
export interface RNNOptions extends C.RNNInitOptions {
  /** `tanh` (default) or `relu`. */
  nonlinearity?: C.RNNNonlinearity;
  /** Stacked layers (default 1). */
  numLayers?: number;
  /** Input and output `[batch, seq, feature]` when true; `[seq, batch, feature]` by default, as PyTorch. */
  batchFirst?: boolean;
}

function checkNonlinearity(api: string, n: unknown): C.RNNNonlinearity {
  if (!C.RNN_NONLINEARITIES.includes(n as C.RNNNonlinearity)) {
    throw new DualgradError(`${api}: unknown nonlinearity ${JSON.stringify(n)} (expected 'tanh' or 'relu')`);
  }
  return n as C.RNNNonlinearity;
}

/** Splits h0 `[numLayers, B, H]` into one `[B, H]` state per layer (composite-side slices, so autograd reaches h0). */
function layerStates<T>(e: Emitter<T>, h0: T, numLayers: number, hidden: number): T[] {
  const s = e.meta(h0).shape;
  if (s.length !== 3 || s[0] !== numLayers || s[2] !== hidden) {
    throw new DualgradError(`RNN: h0 must be [${numLayers}, batch, ${hidden}], got ${formatShape(s)}`);
  }
  return Array.from({ length: numLayers }, (_, l) =>
    e.emit("reshape", [e.emit("slice", [h0], { begin: [l, 0, 0], end: [l + 1, s[1], s[2]] })], { shape: [s[1], s[2]] }),
  );
}

/** Each layer's parameters of a recurrent module, found by their PyTorch names (`weight_ih_l0`, ...). */
function layerParams(m: Module, numLayers: number): C.RNNLayerParams<Tensor>[] {
  const p = m as unknown as Record<string, Tensor | undefined>;
  return Array.from({ length: numLayers }, (_, l) => ({
    weightIh: p[`weight_ih_l${l}`]!, weightHh: p[`weight_hh_l${l}`]!, biasIh: p[`bias_ih_l${l}`] ?? null, biasHh: p[`bias_hh_l${l}`] ?? null,
  }));
}

/**
 * An Elman RNN, PyTorch's `nn.RNN`: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) per
 * layer, parameters `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, ... initialised
 * U(±1/sqrt(hidden)) from the same Philox draws as the graph frontend's RNN (core's `initRNN`).
 * The time loop runs core's `rnnSequence` composite, which the graph frontend traces too.
 */
export class RNN extends Module {
  readonly nonlinearity: C.RNNNonlinearity;
  readonly numLayers: number;
  readonly batchFirst: boolean;
  constructor(readonly inputSize: number, readonly hiddenSize: number, options: RNNOptions = {}) {
    super();
    this.nonlinearity = checkNonlinearity("nn.RNN", options.nonlinearity ?? "tanh");
    this.numLayers = options.numLayers ?? 1;
    this.batchFirst = options.batchFirst ?? false;
    const self = this as unknown as Record<string, Tensor>;
    C.initRNN(inputSize, hiddenSize, this.numLayers, options, (name, shape, dtype) => (self[name] = parameter(zeros(shape, { dtype }))));
  }


  /**
   * PyTorch's `(output, h_n)`: output `[B, T, H]` (batchFirst) or `[T, B, H]`, the top layer's
   * state at every step, and h_n `[numLayers, B, H]`. `h0` `[numLayers, B, H]` defaults to zeros.
   */
  forwardWithState(x: Tensor, h0?: Tensor): [Tensor, Tensor] {
    // Two results: a tidy scope (rather than `composite`, which keeps one) frees the intermediates.
    return tidy(() => {
      const r = this.run(F.tensorEmitter, x, h0);
      return [C.stack(F.tensorEmitter, r.steps, this.batchFirst ? 1 : 0), C.stack(F.tensorEmitter, r.last, 0)] as [Tensor, Tensor];
    });
  }

  /** The output sequence (PyTorch's `output`); see {@link forwardWithState}. */
  forward(x: Tensor, h0?: Tensor): Tensor {
    return F.composite((e) => C.stack(e, this.run(e, x, h0).steps, this.batchFirst ? 1 : 0));
  }

  /** The top layer's final hidden state `[B, H]` (`h_n[-1]`), without building the output sequence. */
  lastHidden(x: Tensor, h0?: Tensor): Tensor {
    return F.composite((e) => this.run(e, x, h0).last[this.numLayers - 1]);
  }

  private run(e: Emitter<Tensor>, x: Tensor, h0: Tensor | undefined): C.RNNSequenceResult<Tensor> {
    const layers = layerParams(this, this.numLayers);
    const states = h0 === undefined ? null : layerStates(e, h0, this.numLayers, this.hiddenSize);
    return C.rnnSequence(e, x, states, layers, { nonlinearity: this.nonlinearity, batchFirst: this.batchFirst });
  }
}

/** One Elman step as a module, PyTorch's `nn.RNNCell`: parameters `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`. */
export class RNNCell extends Module {
  readonly nonlinearity: C.RNNNonlinearity;
  readonly weight_ih!: Tensor;
  readonly weight_hh!: Tensor;
  readonly bias_ih!: Tensor | null;
  readonly bias_hh!: Tensor | null;
  constructor(readonly inputSize: number, readonly hiddenSize: number, options: Omit<RNNOptions, "numLayers" | "batchFirst"> = {}) {
    super();
    this.nonlinearity = checkNonlinearity("nn.RNNCell", options.nonlinearity ?? "tanh");
    const self = this as unknown as Record<string, Tensor | null>;
    self.bias_ih = null;
    self.bias_hh = null;
    C.initRNN(inputSize, hiddenSize, 1, options, (name, shape, dtype) => (self[name] = parameter(zeros(shape, { dtype }))), true);
  }

  /** h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh) for x `[B, in]`, h `[B, H]` (zeros when absent). */
  forward(x: Tensor, h?: Tensor): Tensor {
    const p = { weightIh: this.weight_ih, weightHh: this.weight_hh, biasIh: this.bias_ih, biasHh: this.bias_hh };
    return F.composite((e) => C.rnnCell(e, x, h ?? null, p, this.nonlinearity));
  }
}

/** Options of {@link LSTM}, as `torch.nn.LSTM`'s keyword arguments. */
export type LSTMOptions = Omit<RNNOptions, "nonlinearity">;

/**
 * A long short-term memory RNN, PyTorch's `nn.LSTM`: gates i, f, g, o stacked in
 * `weight_ih_l0 [4H, in]`, `weight_hh_l0 [4H, H]`, `bias_ih_l0`, `bias_hh_l0 [4H]`, all
 * U(±1/sqrt(hidden)) (core's `initRNN` with four gates, the graph frontend's draws too). The time
 * loop is core's `lstmSequence`; h0 and c0 are zeros.
 */
export class LSTM extends Module {
  readonly numLayers: number;
  readonly batchFirst: boolean;
  constructor(readonly inputSize: number, readonly hiddenSize: number, options: LSTMOptions = {}) {
    super();
    this.numLayers = options.numLayers ?? 1;
    this.batchFirst = options.batchFirst ?? false;
    const self = this as unknown as Record<string, Tensor>;
    C.initRNN(inputSize, hiddenSize, this.numLayers, options, (name, shape, dtype) => (self[name] = parameter(zeros(shape, { dtype }))), false, 4);
  }

  /** The output sequence, the top layer's h at every step (`[B, T, H]` batch-first, `[T, B, H]` otherwise). */
  forward(x: Tensor): Tensor {
    return F.composite((e) => C.stack(e, C.lstmSequence(e, x, null, layerParams(this, this.numLayers), this.batchFirst).steps, this.batchFirst ? 1 : 0));
  }

  /** The top layer's final hidden state `[B, H]` (`h_n[-1]`). */
  lastHidden(x: Tensor): Tensor {
    return F.composite((e) => C.lstmSequence(e, x, null, layerParams(this, this.numLayers), this.batchFirst).last[this.numLayers - 1].h);
  }
}
