import { DualgradError } from "../errors.js";
import type { Emitter } from "../ops/prim.js";
import { formatShape } from "../shape.js";
import { add } from "./arith.js";
import { linear } from "./linear.js";
import type { RNNLayerParams } from "./rnn-init.js";

/** The nonlinearities of PyTorch's `nn.RNN`. */
export type RNNNonlinearity = "tanh" | "relu";

/** The valid {@link RNNNonlinearity} names. */
export const RNN_NONLINEARITIES: readonly RNNNonlinearity[] = ["tanh", "relu"];

/**
 * One Elman step, PyTorch's `nn.RNNCell`: `act(x W_ih^T + b_ih + h W_hh^T + b_hh)` for
 * x `[B, in]`, h `[B, H]`. `h = null` stands for a zero state: the `h W_hh^T` product (exactly
 * zero) is skipped and `b_hh` is added directly, which gives the same values.
 */
export function rnnCell<T>(e: Emitter<T>, x: T, h: T | null, p: RNNLayerParams<T>, nonlinearity: RNNNonlinearity): T {
  const xi = linear(e, x, p.weightIh, p.biasIh);
  let pre: T;
  if (h !== null) pre = add(e, xi, linear(e, h, p.weightHh, p.biasHh));
  else pre = p.biasHh === null ? xi : add(e, xi, p.biasHh);
  return e.emit(nonlinearity, [pre], {});
}

/**
 * One step of a (possibly masked) Elman sequence: {@link rnnCell}, then, with `mask` (1/0,
 * broadcastable to `[B, H]`), `where(mask, cell, previous)` so a masked step keeps the previous
 * state exactly; before any real step (`h = null`) that state is zero. Shared by the unrolled
 * {@link rnnSequence} and the graph frontend's scan body, so both emit the same ops per step.
 */
export function rnnStep<T>(e: Emitter<T>, x: T, h: T | null, mask: T | undefined, p: RNNLayerParams<T>, nonlinearity: RNNNonlinearity): T {
  const next = rnnCell(e, x, h, p, nonlinearity);
  if (mask === undefined) return next;
  const m = e.meta(next);
  return e.emit("where", [mask, next, h ?? e.emit("broadcast_to", [e.constant(0, m.dtype)], { shape: m.shape })], {});
}

/** Options of {@link rnnSequence}. */
export interface RNNSequenceOptions<T> {
  nonlinearity: RNNNonlinearity;
  /** Input `[B, T, F]` when true, `[T, B, F]` otherwise (PyTorch's default). */
  batchFirst: boolean;
  /**
   * Per-step mask `[T]` of 1/0: where it is 0 the state is carried unchanged (`where`, exact),
   * so a batch padded past its length ends in the state of its last real step.
   */
  mask?: T;
}

/** What {@link rnnSequence} returns: the top layer's per-step states and each layer's last state `[B, H]`. */
export interface RNNSequenceResult<T> {
  /** The top layer's hidden state after every step, `[B, H]` each, in time order. */
  steps: T[];
  /** Each layer's final hidden state, `[B, H]` each. */
  last: T[];
}

/** The sequence length of `x`, after checking it is `[B, T, F]` (or `[T, B, F]`) with the first layer's F. */
export function sequenceLength<T>(e: Emitter<T>, x: T, layers: readonly RNNLayerParams<T>[], batchFirst: boolean, api: string): number {
  const shape = e.meta(x).shape;
  const inF = e.meta(layers[0].weightIh).shape[1];
  if (shape.length !== 3 || shape[2] !== inF) {
    throw new DualgradError(`${api}: input must be ${batchFirst ? "[batch, seq, features]" : "[seq, batch, features]"} with ${inF} features, got ${formatShape(shape)}`);
  }
  return shape[batchFirst ? 1 : 0];
}

/** Step `t` of a sequence as `[B, F]` (a slice and a reshape; both differentiable). */
export function stepInput<T>(e: Emitter<T>, x: T, t: number, batchFirst: boolean): T {
  const [d0, d1, f] = e.meta(x).shape;
  const begin = batchFirst ? [0, t, 0] : [t, 0, 0];
  const end = batchFirst ? [d0, t + 1, f] : [t + 1, d1, f];
  return e.emit("reshape", [e.emit("slice", [x], { begin, end })], { shape: [batchFirst ? d0 : d1, f] });
}

/**
 * A multi-layer Elman RNN over a whole sequence, unrolled step by step (T is static per trace):
 * PyTorch's `nn.RNN` math. `h0` holds one `[B, H]` state per layer, or null for zeros. With
 * `mask` (`[T]`), step t's new state is `where(mask[t], cell, previous)`.
 */
export function rnnSequence<T>(
  e: Emitter<T>,
  x: T,
  h0: readonly T[] | null,
  layers: readonly RNNLayerParams<T>[],
  options: RNNSequenceOptions<T>,
): RNNSequenceResult<T> {
  const steps = sequenceLength(e, x, layers, options.batchFirst, "RNN");
  if (h0 !== null && h0.length !== layers.length) throw new DualgradError(`RNN: h0 has ${h0.length} layer states, expected ${layers.length}`);
  let inputs: T[] = Array.from({ length: steps }, (_, t) => stepInput(e, x, t, options.batchFirst));
  const mask = options.mask;
  const masks = mask === undefined ? null : Array.from({ length: steps }, (_, t) => e.emit("slice", [mask], { begin: [t], end: [t + 1] }));
  const last: T[] = [];
  layers.forEach((p, l) => {
    let h: T | null = h0 === null ? null : h0[l];
    const out: T[] = [];
    inputs.forEach((xt, t) => {
      h = rnnStep(e, xt, h, masks === null ? undefined : masks[t], p, options.nonlinearity);
      out.push(h);
    });
    last.push(h!);
    inputs = out;
  });
  return { steps: inputs, last };
}
