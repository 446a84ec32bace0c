import type { Generator } from "@dualgrad/core";
import { Linear, type SymbolicTensor, type Variable } from "@dualgrad/graph";
import { hiddenActivation, type ModelSpec } from "../models.js";

/** A spec's layers on the graph frontend: its variables, their PyTorch names, and the traceable forward pass. */
export interface GraphModel {
  /** Every parameter variable, weight then bias per layer. */
  readonly params: Variable[];
  /** PyTorch names of `params` (`0.weight`, `0.bias`, `2.weight`, ...), in the same order. */
  readonly names: string[];
  /** The forward pass (logits for ce), to call inside a trace. */
  forward(x: SymbolicTensor): SymbolicTensor;
}

/**
 * Builds a spec's Linear layers from `gen` (the same draws, in the same order, as the eager
 * frontend's nn.Linear stack) and its forward pass. Used by the graph trainer and by the ONNX
 * export, so both trace the same function.
 */
export function graphModel(spec: ModelSpec, dtype: "float32" | "float64", gen: Generator): GraphModel {
  const layers: Linear[] = [];
  for (let i = 0; i < spec.layers.length - 1; i++) {
    layers.push(new Linear(spec.layers[i], spec.layers[i + 1], { dtype, generator: gen, name: `${spec.id}.${2 * i}` }));
  }
  return {
    params: layers.flatMap((l) => l.parameters()),
    names: layers.flatMap((_, i) => [`${2 * i}.weight`, `${2 * i}.bias`]),
    forward(x) {
      let h = x;
      layers.forEach((l, i) => {
        h = l.forward(h);
        const act = hiddenActivation(spec, i);
        if (act) h = act === "relu" ? h.relu() : act === "tanh" ? h.tanh() : h.sigmoid();
      });
      return h;
    },
  };
}
