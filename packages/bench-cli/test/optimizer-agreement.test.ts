import { describe, expect, it } from "vitest";
import { PhiloxGenerator, allocator, type DType } from "@dualgrad/core";
import * as E from "@dualgrad/eager";
import * as G from "@dualgrad/graph";

/**
 * Every optimizer configuration and the losses with float targets, on both frontends from the
 * same values: the update rules and losses are core's composites on both sides, so parameters
 * after each step (and the losses and their gradients) must be the same bits, fusion on or off.
 */

const IN = 4;
const OUT = 3;
const B = 8;

function data(seed: number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  new PhiloxGenerator(seed).fillUniform(out, lo, hi);
  return out;
}

type Config = [string, (ps: E.Tensor[]) => E.optim.Optimizer<Record<string, number | boolean>>, () => G.GraphOptimizer];
const CONFIGS: Config[] = [
  ["sgd with weight decay", (ps) => new E.optim.SGD(ps, { lr: 0.1, weightDecay: 0.05 }), () => new G.SGD({ lr: 0.1, weightDecay: 0.05 })],
  ["sgd momentum + dampening", (ps) => new E.optim.SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.3 }), () => new G.SGD({ lr: 0.1, momentum: 0.9, dampening: 0.3 })],
  ["sgd nesterov + weight decay", (ps) => new E.optim.SGD(ps, { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01 }), () => new G.SGD({ lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01 })],
  ["adam", (ps) => new E.optim.Adam(ps, { lr: 0.01 }), () => new G.Adam({ lr: 0.01 })],
  ["adam with L2 weight decay", (ps) => new E.optim.Adam(ps, { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 }), () => new G.Adam({ lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 })],
  ["adamw", (ps) => new E.optim.AdamW(ps, { lr: 0.01, weightDecay: 0.1 }), () => new G.AdamW({ lr: 0.01, weightDecay: 0.1 })],
];

describe("eager and graph optimizers agree bit for bit", () => {
  for (const dtype of ["float32", "float64"] as DType[]) {
    for (const [name, eagerOpt, graphOpt] of CONFIGS) {
      for (const fuse of [true, false]) {
        it(`${name}, ${dtype}, fusion ${fuse ? "on" : "off"}: parameters after each of 4 steps`, () => {
          const before = allocator.stats().liveBytes;
          const el = new E.nn.Linear(IN, OUT, { dtype, generator: new PhiloxGenerator(5) });
          const gl = new G.Linear(IN, OUT, { dtype, generator: new PhiloxGenerator(5), name: `agree.${dtype}` });
          const eo = eagerOpt(el.parameters());
          const go = graphOpt();
          const xs = data(1, B * IN);
          const ys = data(2, B * OUT);
          const ex = E.tensor(xs, { shape: [B, IN], dtype });
          const ey = E.tensor(ys, { shape: [B, OUT], dtype });
          const step = G.fn((x: G.SymbolicTensor, y: G.SymbolicTensor) => {
            const loss = G.mseLoss(gl.forward(x), y);
            go.minimize(loss, gl.parameters());
            return loss;
          }, { disable: fuse ? [] : ["fuse"] });
          const gx = G.tensor(dtype === "float32" ? xs : Float64Array.from(xs), [B, IN], dtype);
          const gy = G.tensor(dtype === "float32" ? ys : Float64Array.from(ys), [B, OUT], dtype);
          for (let s = 0; s < 4; s++) {
            const eLoss = E.tidy(() => {
              eo.zeroGrad();
              const loss = E.nn.mseLoss(el.forward(ex), ey);
              loss.backward();
              eo.step();
              return loss.item();
            });
            expect((step(gx, gy) as G.HostTensor).item()).toBe(eLoss);
            expect(Array.from(gl.weight.data)).toEqual(Array.from(el.weight.data));
            expect(Array.from(gl.bias!.data)).toEqual(Array.from(el.bias!.data));
          }
          step.dispose();
          go.dispose();
          gl.parameters().forEach((p) => p.dispose());
          eo.zeroGrad();
          eo.dispose();
          el.dispose();
          ex.dispose();
          ey.dispose();
          expect(allocator.stats().liveBytes).toBe(before);
        });
      }
    }
  }
});

type LossCase = [string, (l: E.Tensor, t: E.Tensor) => E.Tensor, (l: G.SymbolicTensor, t: G.SymbolicTensor) => G.SymbolicTensor];
const LOSSES: LossCase[] = [
  ["binary cross-entropy with logits", E.nn.binaryCrossEntropyWithLogits, G.binaryCrossEntropyWithLogits],
  ["cross-entropy against class probabilities", E.nn.crossEntropy, G.crossEntropy],
];

describe("losses with float targets agree bit for bit", () => {
  for (const [name, eagerLoss, graphLoss] of LOSSES) {
    for (const fuse of [true, false]) {
      it(`${name}: loss and gradients, fusion ${fuse ? "on" : "off"}`, () => {
        const xs = data(3, B * OUT, -4, 4);
        const zs = data(4, B * OUT, 0, 1);
        const logits = E.tensor(xs, { shape: [B, OUT] }).requiresGrad_(true);
        const target = E.tensor(zs, { shape: [B, OUT] });
        const loss = eagerLoss(logits, target);
        loss.backward();
        const grad = G.fn((x: G.SymbolicTensor, z: G.SymbolicTensor) => {
          const l = graphLoss(x, z);
          return [l, ...G.gradients(l, [x])];
        }, { disable: fuse ? [] : ["fuse"] });
        const [gLoss, gGrad] = grad(G.tensor(xs, [B, OUT]), G.tensor(zs, [B, OUT])) as G.HostTensor[];
        expect(gLoss.item()).toBe(loss.item());
        expect(Array.from(gGrad.data)).toEqual(Array.from(logits.grad!.data));
        grad.dispose();
        [logits, target, loss].forEach((t) => t.dispose());
      });
    }
  }
});
