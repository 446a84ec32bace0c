import { fileURLToPath } from "node:url";
import { relativeError } from "../../core/test/helpers.js";
import { describe, expect, it } from "vitest";
import { PhiloxGenerator, allocator, readSafetensors, toDTypeArray, type DType, type SafetensorsFile } from "@dualgrad/core";
import {
  Adam, AdamW, HostTensor, Linear, SGD, crossEntropy, fn, gradients, mseLoss, type GraphOptimizer, type SymbolicTensor, type Variable,
} from "../src/index.js";

/** PyTorch's results (written by packages/eager/scripts/make-torch-refs.py), reproduced by compiled graphs. */
const fixture = (name: string) => fileURLToPath(new URL(`../../eager/test/fixtures/${name}.safetensors`, import.meta.url));

function host(file: SafetensorsFile, name: string, dtype: DType): HostTensor {
  const t = file.tensors.get(name)!;
  return new HostTensor(t.shape, dtype, toDTypeArray(t, dtype, name));
}


function model(file: SafetensorsFile, dtype: DType, tag: string) {
  const acts = file.metadata.hidden_activations === "none" ? [] : file.metadata.hidden_activations.split(",");
  const layers: Linear[] = [];
  for (let i = 0; i <= acts.length; i++) {
    const [out, inp] = file.tensors.get(`params.${i}.weight`)!.shape;
    const l = new Linear(inp, out, { dtype, name: `${tag}.${i}`, generator: new PhiloxGenerator(0) });
    l.weight.assign(host(file, `params.${i}.weight`, dtype).data);
    l.bias!.assign(host(file, `params.${i}.bias`, dtype).data);
    layers.push(l);
  }
  const forward = (x: SymbolicTensor) => {
    let h = x;
    layers.forEach((l, i) => {
      h = l.forward(h);
      if (i < acts.length) h = acts[i] === "relu" ? h.relu() : acts[i] === "tanh" ? h.tanh() : h.sigmoid();
    });
    return h;
  };
  const ce = file.metadata.loss.startsWith("softmax_cross_entropy");
  const loss = (x: SymbolicTensor, y: SymbolicTensor) => (ce ? crossEntropy(forward(x), y) : mseLoss(forward(x), y));
  return { layers, params: layers.flatMap((l) => l.parameters()), loss, ce, forward };
}

const CASES: [string, DType, number][] = [
  ["torch-linreg-f64", "float64", 1e-10],
  ["torch-linreg-f32", "float32", 1e-5],
  ["torch-mlp-small-f64", "float64", 1e-10],
  ["torch-mlp-small-f32", "float32", 1e-5],
  ["torch-mlp-f64", "float64", 1e-10],
  ["torch-mlp-f64", "float32", 1e-5],
];

describe("compiled graph steps reproduce PyTorch: gradients, loss, parameters after 1 and 5 SGD steps", () => {
  CASES.forEach(([name, dtype, tol], k) => {
    it(`${name} in ${dtype} within ${tol}`, () => {
      const before = allocator.stats().liveBytes;
      const file = readSafetensors(fixture(name));
      const m = model(file, dtype, `ref${k}`);
      const x = host(file, "input", dtype);
      const y = host(file, "target", m.ce ? "int32" : dtype);
      const opt = new SGD({ lr: Number(file.metadata.lr) });
      const grad = fn<HostTensor[]>((xx: SymbolicTensor, yy: SymbolicTensor) => {
        const l = m.loss(xx, yy);
        return [l, m.forward(xx), ...gradients(l, m.params)];
      });
      const step = fn<HostTensor>((xx: SymbolicTensor, yy: SymbolicTensor) => {
        const l = m.loss(xx, yy);
        opt.minimize(l, m.params);
        return l;
      });
      const [loss, out, ...grads] = grad(x, y);
      expect(relativeError(loss.data, host(file, "loss", dtype).data), "loss").toBeLessThanOrEqual(tol);
      expect(relativeError(out.data, host(file, "output", dtype).data), "output").toBeLessThanOrEqual(tol);
      const paramNames = m.layers.flatMap((_, i) => [`${i}.weight`, `${i}.bias`]);
      paramNames.forEach((p, i) => expect(relativeError(grads[i].data, host(file, `grad.${p}`, dtype).data), `grad.${p}`).toBeLessThanOrEqual(tol));
      const losses: number[] = [];
      for (let s = 0; s < 5; s++) {
        losses.push(step(x, y).item());
        if (s === 0) paramNames.forEach((p, i) => expect(relativeError(m.params[i].data, host(file, `after1.${p}`, dtype).data), `after1.${p}`).toBeLessThanOrEqual(tol));
      }
      paramNames.forEach((p, i) => expect(relativeError(m.params[i].data, host(file, `after5.${p}`, dtype).data), `after5.${p}`).toBeLessThanOrEqual(tol));
      expect(relativeError(losses, host(file, "losses", dtype).data)).toBeLessThanOrEqual(tol);
      expect(relativeError(grad(x, y)[0].data, host(file, "loss_after5", dtype).data)).toBeLessThanOrEqual(tol);
      grad.dispose();
      step.dispose();
      opt.dispose();
      m.params.forEach((p) => p.dispose());
      expect(allocator.stats().liveBytes).toBe(before);
    });
  });
});

describe("in-graph optimisers reproduce PyTorch (mlp-small, float64, 3 steps)", () => {
  const file = readSafetensors(fixture("torch-optimizers-f64"));
  const configs: Record<string, () => GraphOptimizer> = {
    sgd_momentum: () => new SGD({ lr: 0.01, momentum: 0.9 }),
    sgd_nesterov_wd: () => new SGD({ lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    sgd_dampening: () => new SGD({ lr: 0.01, momentum: 0.5, dampening: 0.3 }),
    adam: () => new Adam({ lr: 0.01 }),
    adam_wd: () => new Adam({ lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 }),
    adamw: () => new AdamW({ lr: 0.01, weightDecay: 0.1 }),
  };
  for (const [name, make] of Object.entries(configs)) {
    it(name, () => {
      const before = allocator.stats().liveBytes;
      const meta = { ...file.metadata, hidden_activations: "tanh,tanh", loss: "mse" };
      const m = model({ ...file, metadata: meta }, "float64", `opt-${name}`);
      const opt = make();
      const step = fn<HostTensor>((xx: SymbolicTensor, yy: SymbolicTensor) => {
        const l = m.loss(xx, yy);
        opt.minimize(l, m.params);
        return l;
      });
      const x = host(file, "input", "float64");
      const y = host(file, "target", "float64");
      for (let s = 0; s < 3; s++) step(x, y);
      m.layers.forEach((_, i) => {
        for (const k of ["weight", "bias"] as const) {
          const v: Variable = k === "weight" ? m.layers[i].weight : m.layers[i].bias!;
          expect(relativeError(v.data, host(file, `${name}.${i}.${k}`, "float64").data), `${name} ${i}.${k}`).toBeLessThanOrEqual(1e-10);
        }
      });
      step.dispose();
      opt.dispose();
      m.params.forEach((p) => p.dispose());
      expect(allocator.stats().liveBytes).toBe(before);
    });
  }
});
