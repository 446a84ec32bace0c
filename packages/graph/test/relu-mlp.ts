import type { DType } from "@dualgrad/core";
import { Linear, SGD, crossEntropy, fn, type StageSwitch, type SymbolicTensor } from "../src/index.js";

/**
 * A relu MLP training step compiled with `graph.fn` (the reference `mlp` workload's shape of
 * step: Linear layers, relu between them, cross-entropy on logits, SGD), for the gemm-epilogue
 * test and benchmark. With `fixedInit` every parameter gets values from a formula, so variants
 * compiled with different switches start from the same point.
 */
export function reluMlpStep(sizes: readonly number[], dtype: DType, disable: StageSwitch[], fixedInit = false) {
  const layers = sizes.slice(1).map((out, i) => new Linear(sizes[i], out, { dtype, name: `mlp${disable.join("")}.${i}` }));
  if (fixedInit) {
    layers.forEach((l, i) => {
      l.weight.assign(Array.from({ length: l.weight.data.length }, (_, j) => Math.sin(j * 0.7 + i) * 0.3));
      l.bias!.assign(Array.from({ length: l.bias!.data.length }, (_, j) => Math.cos(j + i) * 0.1));
    });
  }
  const opt = new SGD({ lr: 0.05 });
  const params = layers.flatMap((l) => l.parameters());
  const step = fn(
    (x: SymbolicTensor, y: SymbolicTensor) => {
      let h = x;
      layers.forEach((l, i) => {
        h = l.forward(h);
        if (i < layers.length - 1) h = h.relu();
      });
      const loss = crossEntropy(h, y);
      opt.minimize(loss, params);
      return loss;
    },
    { disable },
  );
  return { step, params, dispose: () => (step.dispose(), opt.dispose(), params.forEach((p) => p.dispose())) };
}
