import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PhiloxGenerator, readSafetensors, toDTypeArray, type DType, type SafetensorsFile } from "@dualgrad/core";
import { relativeError } from "../../core/test/helpers.js";
import { Tensor, nn, optim, tensor, tidy } from "../src/index.js";

/**
 * nn.RNN / nn.RNNCell against PyTorch (fixtures written by scripts/make-torch-refs.py with
 * `torch.nn.RNN(batch_first=True)` and a Linear head on the last step) and against their own
 * definition (a hand-written loop over RNNCell).
 */
const fixture = (name: string) => readSafetensors(fileURLToPath(new URL(`./fixtures/torch-${name}.safetensors`, import.meta.url)));

function get(file: SafetensorsFile, name: string, dtype: DType): Tensor {
  const t = file.tensors.get(name);
  if (!t) throw new Error(`fixture lacks ${name}`);
  return tensor(toDTypeArray(t, dtype, name), { shape: t.shape, dtype });
}

/** The fixtures' model: RNN then Linear on the last hidden state; parameter names `rnn.*`, `head.*`. */
class RNNHead extends nn.Module {
  readonly rnn: nn.RNN | nn.LSTM;
  readonly head: nn.Linear;
  constructor(f: number, h: number, o: number, nonlinearity: "tanh" | "relu", dtype: DType, cell: string) {
    super();
    this.rnn = cell === "lstm" ? new nn.LSTM(f, h, { batchFirst: true, dtype }) : new nn.RNN(f, h, { nonlinearity, batchFirst: true, dtype });
    this.head = new nn.Linear(h, o, { dtype });
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.head.forward(this.rnn.lastHidden(x)));
  }
}

describe.each(["rnn-mse-f64", "rnn-mse-f32", "rnn-ce-f64", "rnn-ce-f32", "lstm-mse-f64"])("nn.RNN / nn.LSTM against PyTorch (%s)", (name) => {
  it("matches output, loss, gradients and five SGD steps", () => tidy(() => {
    const file = fixture(name);
    const m = file.metadata;
    const dtype: DType = m.dtype === "F64" ? "float64" : "float32";
    const tol = dtype === "float64" ? 1e-10 : 1e-5;
    const model = new RNNHead(+m.input_size, +m.hidden_size, +m.output_size, m.nonlinearity as "tanh" | "relu", dtype, m.model);
    const names = model.namedParameters().map(([n]) => n);
    expect(names).toEqual(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "head.weight", "head.bias"]);
    model.loadStateDict(new Map(names.map((n) => [n, get(file, `params.${n}`, dtype)])));
    const x = get(file, "input", dtype);
    const ce = m.loss.startsWith("softmax_cross_entropy");
    const y = ce ? get(file, "target", "int32") : get(file, "target", dtype);
    const lossOf = () => (ce ? nn.crossEntropy(model.forward(x), y) : nn.mseLoss(model.forward(x), y));
    const close = (ours: ArrayLike<number>, ref: string) => expect(relativeError(ours, toDTypeArray(file.tensors.get(ref)!, "float64", ref))).toBeLessThanOrEqual(tol);
    tidy(() => close(model.forward(x).data, "output"));
    const opt = new optim.SGD(model.parameters(), { lr: Number(m.lr) });
    const losses: number[] = [];
    for (let s = 0; s < 5; s++) {
      tidy(() => {
        opt.zeroGrad();
        const l = lossOf();
        l.backward();
        if (s === 0) {
          close([l.item()], "loss");
          for (const [n, p] of model.namedParameters()) close(p.grad!.data, `grad.${n}`);
        }
        losses.push(l.item());
        opt.step();
      });
      if (s === 0 || s === 4) for (const [n, p] of model.namedParameters()) close(p.data, `${s === 0 ? "after1" : "after5"}.${n}`);
    }
    close(losses, "losses");
    tidy(() => close([lossOf().item()], "loss_after5"));
    opt.dispose();
    model.dispose();
  }));
});

describe("nn.RNN", () => {
  it("is a loop of RNNCell (same draws, same values, bit for bit), in either layout, with h0", () => {
    const rnn = new nn.RNN(3, 4, { generator: new PhiloxGenerator(7), dtype: "float64" });
    const cell = new nn.RNNCell(3, 4, { generator: new PhiloxGenerator(7), dtype: "float64" });
    expect(Array.from(rnn.namedParameters(), ([n, p]) => [n, Array.from(p.data)])).toEqual(
      Array.from(cell.namedParameters(), ([n, p]) => [`${n}_l0`, Array.from(p.data)]),
    );
    const g = new PhiloxGenerator(1);
    const xs = new Float64Array(5 * 2 * 3);
    g.fillUniform(xs, -1, 1);
    const h0s = new Float64Array(2 * 4);
    g.fillUniform(h0s, -1, 1);
    tidy(() => {
      const x = tensor(xs, { shape: [5, 2, 3], dtype: "float64" });
      const h0 = tensor(h0s, { shape: [1, 2, 4], dtype: "float64" });
      const [out, hN] = rnn.forwardWithState(x, h0);
      expect(out.shape).toEqual([5, 2, 4]);
      expect(hN.shape).toEqual([1, 2, 4]);
      let h = h0.reshape([2, 4]);
      const steps: number[] = [];
      for (let t = 0; t < 5; t++) {
        h = cell.forward(x.slice([t, 0, 0], [t + 1, 2, 3]).reshape([2, 3]), h);
        steps.push(...h.data);
      }
      expect(Array.from(out.data)).toEqual(steps);
      expect(Array.from(hN.data)).toEqual(Array.from(h.data));
    });
    rnn.dispose();
    cell.dispose();
  });

  it("initialises every parameter within ±1/sqrt(hidden), names two layers like PyTorch, and checks its arguments", () => {
    const rnn = new nn.RNN(3, 16, { numLayers: 2, nonlinearity: "relu", batchFirst: true });
    expect(rnn.namedParameters().map(([n, p]) => `${n}:${p.shape.join("x")}`)).toEqual([
      "weight_ih_l0:16x3", "weight_hh_l0:16x16", "bias_ih_l0:16", "bias_hh_l0:16",
      "weight_ih_l1:16x16", "weight_hh_l1:16x16", "bias_ih_l1:16", "bias_hh_l1:16",
    ]);
    for (const p of rnn.parameters()) for (const v of p.data) expect(Math.abs(v)).toBeLessThan(0.25);
    tidy(() => {
      const [out, hN] = rnn.forwardWithState(tensor(new Float32Array(2 * 4 * 3).fill(0.5), { shape: [2, 4, 3] }));
      expect(out.shape).toEqual([2, 4, 16]);
      expect(hN.shape).toEqual([2, 2, 16]);
      // relu: no negative state; the top layer's last state is the output's last step.
      expect(Math.min(...out.data)).toBeGreaterThanOrEqual(0);
      expect(Array.from(hN.data.slice(32 + 16, 64))).toEqual(Array.from(out.data.slice(3 * 16 + 4 * 16, 4 * 16 + 4 * 16)));
    });
    expect(() => new nn.RNN(3, 4, { nonlinearity: "gelu" as "relu" })).toThrow(/nn\.RNN: unknown nonlinearity "gelu"/);
    expect(() => new nn.RNN(3, 0)).toThrow(/RNN: hiddenSize must be a positive integer/);
    expect(() => tidy(() => rnn.forward(tensor(new Float32Array(8), { shape: [2, 4] })))).toThrow(/RNN: input must be \[batch, seq, features\] with 3 features, got \[2, ?4\]/);
    rnn.dispose();
  });
});
