import type { Emitter } from "../ops/prim.js";
import { add, mul } from "./arith.js";
import { linear } from "./linear.js";
import type { RNNLayerParams } from "./rnn-init.js";
import { sequenceLength, stepInput } from "./rnn.js";

/** An LSTM state: hidden `h` and cell `c`, `[B, H]` each. */
export interface LSTMState<T> {
  h: T;
  c: T;
}

/**
 * One LSTM step, PyTorch's `nn.LSTMCell`: gates = x W_ih^T + b_ih + h W_hh^T + b_hh `[B, 4H]`,
 * split in PyTorch's order i, f, g, o; c' = σ(f) c + σ(i) tanh(g); h' = σ(o) tanh(c').
 * `state = null` is the zero state (the h product and the f·c term, exactly zero, are skipped).
 */
export function lstmCell<T>(e: Emitter<T>, x: T, state: LSTMState<T> | null, p: RNNLayerParams<T>): LSTMState<T> {
  let gates = linear(e, x, p.weightIh, p.biasIh);
  if (state !== null) gates = add(e, gates, linear(e, state.h, p.weightHh, p.biasHh));
  else if (p.biasHh !== null) gates = add(e, gates, p.biasHh);
  const [b, h4] = e.meta(gates).shape;
  const h = h4 / 4;
  const gate = (k: number) => e.emit("slice", [gates], { begin: [0, k * h], end: [b, (k + 1) * h] });
  const i = e.emit("sigmoid", [gate(0)], {});
  const f = e.emit("sigmoid", [gate(1)], {});
  const g = e.emit("tanh", [gate(2)], {});
  const o = e.emit("sigmoid", [gate(3)], {});
  const ig = mul(e, i, g);
  const c = state === null ? ig : add(e, mul(e, f, state.c), ig);
  return { h: mul(e, o, e.emit("tanh", [c], {})), c };
}

/**
 * A multi-layer LSTM over a whole sequence, unrolled (T static per trace): PyTorch's `nn.LSTM`.
 * `state0` holds one state per layer, or null for zeros. Returns the top layer's `h` at every
 * step and each layer's final state.
 */
export function lstmSequence<T>(
  e: Emitter<T>,
  x: T,
  state0: readonly LSTMState<T>[] | null,
  layers: readonly RNNLayerParams<T>[],
  batchFirst: boolean,
): { steps: T[]; last: LSTMState<T>[] } {
  const steps = sequenceLength(e, x, layers, batchFirst, "LSTM");
  let inputs: T[] = Array.from({ length: steps }, (_, t) => stepInput(e, x, t, batchFirst));
  const last: LSTMState<T>[] = [];
  layers.forEach((p, l) => {
    let s: LSTMState<T> | null = state0 === null ? null : state0[l];
    inputs = inputs.map((xt) => (s = lstmCell(e, xt, s, p)).h);
    last.push(s!);
  });
  return { steps: inputs, last };
}
