import { Linear, SGD, mseLoss, tensor, traceGraph, type Graph, type SymbolicTensor, type Variable } from "../src/index.js";

/**
 * Big traced programs for the compile-time test and benchmark (a helper, not a test file).
 * Their node counts grow linearly with the depth, so compile time against depth is compile time
 * against graph size.
 */

/** A traced graph with the variables it reads. */
export interface TracedProgram {
  graph: Graph;
  variables: Map<string, Variable>;
}

/**
 * One SGD training step of a `depth`-layer tanh MLP of width 2 on a 2-sample batch: about 18
 * nodes per layer once differentiated, with every pass busy (fusion of the bias/tanh and update
 * chains, CSE of the repeated constants, update scheduling, and a plan where every layer's
 * activation stays live until its backward step).
 */
export function deepMlpStep(depth: number): TracedProgram {
  const layers = Array.from({ length: depth }, (_, i) => new Linear(i === 0 ? 1 : 2, 2, { name: `deep${i}` }));
  const head = new Linear(2, 1, { name: "deep_head" });
  const params = [...layers.flatMap((l) => l.parameters()), ...head.parameters()];
  const opt = new SGD({ lr: 0.01 });
  const step = (x: SymbolicTensor, y: SymbolicTensor) => {
    let h = x;
    for (const l of layers) h = l.forward(h).tanh();
    const loss = mseLoss(head.forward(h), y);
    opt.minimize(loss, params);
    return loss;
  };
  const batch = tensor([[0.5], [-0.25]]);
  const { graph, variables } = traceGraph(step as never, [batch, tensor([[1], [0]])]);
  return { graph, variables };
}

/** `x` through `length` elementwise ops (alternately `* 1.0001` and `tanh`) on a [4] input. */
export function elementwiseChain(length: number): TracedProgram {
  const f = (x: SymbolicTensor) => {
    let y = x;
    for (let i = 0; i < length; i++) y = i % 2 === 0 ? y.mul(1.0001) : y.tanh();
    return y;
  };
  return { graph: traceGraph(f as never, [tensor([0.1, -0.2, 0.3, 2])]).graph, variables: new Map() };
}
