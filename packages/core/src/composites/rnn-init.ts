import type { DType, TypedArray } from "../dtype.js";
import { DualgradError } from "../errors.js";
import { defaultGenerator, type PhiloxGenerator } from "../random/philox.js";
import { uniformInit } from "../random/init.js";
import type { Shape } from "../shape.js";

/** Options of a recurrent layer's parameters, shared by both frontends' RNN layers. */
export interface RNNInitOptions {
  /** Whether the layer has the two biases (default true). */
  bias?: boolean;
  /** Parameter dtype (default float32). */
  dtype?: DType;
  /** Source of the initial values (default: the global generator, see `manualSeed`). */
  generator?: PhiloxGenerator;
}

/** One layer's parameters in PyTorch's layout: `weightIh [H, in]`, `weightHh [H, H]`, biases `[H]`. */
export interface RNNLayerParams<P> {
  weightIh: P;
  weightHh: P;
  biasIh: P | null;
  biasHh: P | null;
}

function checkSize(api: string, name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v <= 0) throw new DualgradError(`${api}: ${name} must be a positive integer, got ${String(v)}`);
}

/**
 * Creates an Elman RNN's parameters with PyTorch's `nn.RNN` initialisation: every parameter
 * U(±1/sqrt(hiddenSize)). **Draw order:** layer by layer, `weight_ih`, `weight_hh`, `bias_ih`,
 * `bias_hh`, one `fillUniform` call each (PyTorch's `_flat_weights` order), so the same
 * generator state gives both frontends bitwise-identical parameters. `make(name, shape, dtype)`
 * allocates one parameter in the frontend's own form; `name` is PyTorch's (`weight_ih_l0`, ...,
 * or `weight_ih` without the layer suffix when `cell` is set, as `nn.RNNCell` names them).
 * `gates` stacks that many `[H, ·]` blocks in each weight and bias (4 for PyTorch's `nn.LSTM`,
 * whose layout and init are otherwise the same).
 */
export function initRNN<P extends { readonly data: TypedArray }>(
  inputSize: number,
  hiddenSize: number,
  numLayers: number,
  options: RNNInitOptions,
  make: (name: string, shape: Shape, dtype: DType) => P,
  cell = false,
  gates = 1,
): RNNLayerParams<P>[] {
  const api = gates === 4 ? "LSTM" : cell ? "RNNCell" : "RNN";
  checkSize(api, "inputSize", inputSize);
  checkSize(api, "hiddenSize", hiddenSize);
  checkSize(api, "numLayers", numLayers);
  const dtype = options.dtype ?? "float32";
  const gen = options.generator ?? defaultGenerator;
  const bound = 1 / Math.sqrt(hiddenSize);
  const layers: RNNLayerParams<P>[] = [];
  for (let l = 0; l < numLayers; l++) {
    const sfx = cell ? "" : `_l${l}`;
    const draw = (name: string, shape: Shape): P => {
      const p = make(name + sfx, shape, dtype);
      uniformInit(gen, p.data as Float32Array | Float64Array, bound);
      return p;
    };
    const rows = gates * hiddenSize;
    const weightIh = draw("weight_ih", [rows, l === 0 ? inputSize : hiddenSize]);
    const weightHh = draw("weight_hh", [rows, hiddenSize]);
    const biasIh = options.bias === false ? null : draw("bias_ih", [rows]);
    const biasHh = options.bias === false ? null : draw("bias_hh", [rows]);
    layers.push({ weightIh, weightHh, biasIh, biasHh });
  }
  return layers;
}
