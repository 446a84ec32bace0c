import type { DType } from "@dualgrad/core";
import { Conv2d, Linear, SGD, crossEntropy, flatten, fn, maxPool2d, type StageSwitch, type SymbolicTensor, type Variable } from "../src/index.js";

/**
 * Training steps compiled with `graph.fn`, shaped like the reference `mlp` and `cnn` workloads'
 * (Linear / Conv2d layers, relu, cross-entropy on logits, SGD), for the gemm-epilogue test and
 * benchmark. With `fixedInit` every parameter gets values from a formula, so variants compiled
 * with different switches start from the same point.
 */

/** One step over `forward`'s logits; `params` are set from a formula when `fixedInit`. */
function trainStep(params: Variable[], forward: (x: SymbolicTensor) => SymbolicTensor, disable: StageSwitch[], fixedInit: boolean) {
  if (fixedInit) params.forEach((p, i) => p.assign(Array.from({ length: p.data.length }, (_, j) => Math.sin(j * 0.7 + i) * 0.3)));
  const opt = new SGD({ lr: 0.05 });
  const step = fn(
    (x: SymbolicTensor, y: SymbolicTensor) => {
      const loss = crossEntropy(forward(x), y);
      opt.minimize(loss, params);
      return loss;
    },
    { disable },
  );
  return { step, params, dispose: () => (step.dispose(), opt.dispose(), params.forEach((p) => p.dispose())) };
}

/** A relu MLP with layer widths `sizes`. */
export function reluMlpStep(sizes: readonly number[], dtype: DType, disable: StageSwitch[], fixedInit = false) {
  const layers = sizes.slice(1).map((out, i) => new Linear(sizes[i], out, { dtype, name: `mlp${disable.join("")}.${i}` }));
  return trainStep(layers.flatMap((l) => l.parameters()), (x) => {
    let h = x;
    layers.forEach((l, i) => {
      h = l.forward(h);
      if (i < layers.length - 1) h = h.relu();
    });
    return h;
  }, disable, fixedInit);
}

/** The `cnn` workload's network on [B, 1, side, side] images: two (3x3 conv, relu, 2x2 max-pool) stages of `c1` and `c2` channels, then a linear classifier. */
export function cnnStep(side: number, c1: number, c2: number, dtype: DType, disable: StageSwitch[], fixedInit = false) {
  const name = `cnn${disable.join("")}`;
  const conv1 = new Conv2d(1, c1, 3, { padding: 1, dtype, name: `${name}.0` });
  const conv2 = new Conv2d(c1, c2, 3, { padding: 1, dtype, name: `${name}.3` });
  const fc = new Linear(c2 * (side >> 2) ** 2, 10, { dtype, name: `${name}.7` });
  return trainStep([...conv1.parameters(), ...conv2.parameters(), ...fc.parameters()], (x) => {
    const h1 = maxPool2d(conv1.forward(x).relu(), 2);
    const h2 = maxPool2d(conv2.forward(h1).relu(), 2);
    return fc.forward(flatten(h2));
  }, disable, fixedInit);
}
