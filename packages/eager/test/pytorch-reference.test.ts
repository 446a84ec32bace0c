import { fileURLToPath } from "node:url";
import { relativeError } from "../../core/test/helpers.js";
import { describe, expect, it } from "vitest";
import { readSafetensors, toDTypeArray, type DType, type SafetensorsFile } from "@dualgrad/core";
import { Tensor, memory, nn, optim, tensor, tidy } from "../src/index.js";

/**
 * Agreement with PyTorch: the fixtures were written by scripts/make-torch-refs.py with PyTorch
 * (Debian's python3-torch); regenerate with `/usr/bin/python3 packages/eager/scripts/make-torch-refs.py packages/eager/test/fixtures`.
 */
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.safetensors`, import.meta.url));

function get(file: SafetensorsFile, name: string, dtype: DType): Tensor {
  const t = file.tensors.get(name);
  if (!t) throw new Error(`fixture lacks ${name}`);
  return tensor(toDTypeArray(t, dtype, name), { shape: t.shape, dtype });
}

/** relativeError on two tensors, after checking their shapes agree. */
function relErr(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return relativeError(a.data, b.data);
}

function buildModel(file: SafetensorsFile, dtype: DType): { model: nn.Sequential; layers: number } {
  const acts = file.metadata.hidden_activations === "none" ? [] : file.metadata.hidden_activations.split(",");
  const layers = acts.length + 1;
  const mods: nn.Module[] = [];
  for (let i = 0; i < layers; i++) {
    const [out, inp] = file.tensors.get(`params.${i}.weight`)!.shape;
    mods.push(new nn.Linear(inp, out, { dtype }));
    if (i < acts.length) mods.push(acts[i] === "relu" ? new nn.ReLU() : acts[i] === "tanh" ? new nn.Tanh() : new nn.Sigmoid());
  }
  const model = new nn.Sequential(...mods);
  const state = new Map<string, Tensor>();
  for (let i = 0; i < layers; i++) {
    state.set(`${2 * i}.weight`, get(file, `params.${i}.weight`, dtype));
    state.set(`${2 * i}.bias`, get(file, `params.${i}.bias`, dtype));
  }
  model.loadStateDict(state);
  state.forEach((t) => t.dispose());
  return { model, layers };
}

const CASES: [string, DType, number][] = [
  ["torch-linreg-f64", "float64", 1e-10],
  ["torch-linreg-f32", "float32", 1e-5],
  ["torch-mlp-small-f64", "float64", 1e-10],
  ["torch-mlp-small-f32", "float32", 1e-5],
  ["torch-mlp-f64", "float64", 1e-10],
  // PyTorch's float64 results, reproduced in float32.
  ["torch-mlp-f64", "float32", 1e-5],
];

describe("gradients, loss and parameters after 1 and 5 SGD steps equal PyTorch's", () => {
  for (const [name, dtype, tol] of CASES) {
    it(`${name} in ${dtype} within ${tol}`, () => {
      const before = memory().liveBytes;
      const file = readSafetensors(fixture(name));
      const { model, layers } = buildModel(file, dtype);
      const ce = file.metadata.loss.startsWith("softmax_cross_entropy");
      const lossFn = ce ? new nn.CrossEntropyLoss() : new nn.MSELoss();
      const x = get(file, "input", dtype);
      const y = get(file, "target", ce ? "int32" : dtype);
      const opt = new optim.SGD(model.parameters(), { lr: Number(file.metadata.lr) });
      const params = (i: number) => [model.layers[2 * i] as nn.Linear].flatMap((l) => [["weight", l.weight], ["bias", l.bias!]] as const);
      const compare = (prefix: string, pick: (t: Tensor) => Tensor) => {
        for (let i = 0; i < layers; i++) {
          for (const [kind, p] of params(i)) {
            const ref = get(file, `${prefix}.${i}.${kind}`, dtype);
            expect(relErr(pick(p), ref), `${prefix}.${i}.${kind}`).toBeLessThanOrEqual(tol);
            ref.dispose();
          }
        }
      };
      const losses: number[] = [];
      for (let step = 0; step < 5; step++) {
        tidy(() => {
          opt.zeroGrad();
          const out = model.forward(x);
          const loss = lossFn.forward(out, y);
          loss.backward();
          losses.push(loss.item());
          if (step === 0) {
            expect(relErr(out, get(file, "output", dtype)), "output").toBeLessThanOrEqual(tol);
            expect(relErr(loss, get(file, "loss", dtype)), "loss").toBeLessThanOrEqual(tol);
            compare("grad", (p) => p.grad!);
          }
          opt.step();
        });
        if (step === 0) compare("after1", (p) => p);
      }
      compare("after5", (p) => p);
      tidy(() => {
        expect(relErr(tensor(losses, { dtype }), get(file, "losses", dtype)), "losses").toBeLessThanOrEqual(tol);
        const final = lossFn.forward(model.forward(x), y);
        expect(relErr(final, get(file, "loss_after5", dtype)), "loss_after5").toBeLessThanOrEqual(tol);
      });
      opt.zeroGrad();
      model.dispose();
      x.dispose();
      y.dispose();
      expect(memory().liveBytes).toBe(before);
    });
  }
});
