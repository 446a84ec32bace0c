import { DualgradError, formatShape, ops, profiler, valueFrom } from "@dualgrad/core";
import { enableGrad, isAnomalyDetectionEnabled, noGrad } from "./grad-mode.js";
import { beginScope, endScope, keep } from "./scope.js";
import { Tensor, isTensor } from "./tensor.js";
// VJP rules run on ops.ts's tensor emitter: each emitted op executes now (and is recorded when
// building a graph of the gradient).
import { apply, tensorEmitter, withBackward } from "./ops.js";
import { firstNonFinite } from "./anomaly.js";
import { fusedVjp } from "./fused-vjp.js";
import type { Node } from "./node.js";

/** Options of {@link backward}, as in PyTorch. */
export interface BackwardOptions {
  /** Keep saved tensors so backward can run through this graph again. */
  retainGraph?: boolean;
  /** Record the backward pass itself, so the gradients can be differentiated again (implies retainGraph). */
  createGraph?: boolean;
}

/**
 * Nodes reachable from `root`, newest first. Reverse creation order is a valid reverse
 * topological order (a node is always created after its inputs' nodes), and it is the order in
 * which the graph frontend walks its SSA values backwards, so gradient contributions are summed
 * in the same order on both frontends, giving the same bits.
 */
function reverseTopological(root: Node): Node[] {
  const seen = new Set<Node>([root]);
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    for (const input of node.inputs) {
      const next = input.gradFn;
      if (next && !seen.has(next)) {
        seen.add(next);
        stack.push(next);
      }
    }
  }
  return [...seen].sort((a, b) => b.seq - a.seq);
}

function checkAnomaly(node: Node, grads: readonly (Tensor | null)[]): void {
  if (!isAnomalyDetectionEnabled()) return;
  grads.forEach((g, i) => {
    const bad = g ? firstNonFinite(g._storage.value.data) : null;
    if (bad) throw new DualgradError(`detectAnomaly: Function '${node.name}' returned ${bad} values in its ${i}th output (backward of ${node.prim})`);
  });
}

/**
 * Backpropagates from `root`: runs core's VJP rules in reverse topological order and
 * accumulates into `.grad` of every leaf that requires grad (adding to what is there, as
 * PyTorch does, until zeroed). `gradient` is required for non-scalar roots.
 */
export function backward(root: Tensor, gradient?: Tensor, options: BackwardOptions = {}): void {
  // Profiling on: one `backward` span; its self time (minus the ops the rules run) is the tape walk.
  const p = profiler;
  if (p === null) return backwardNow(root, gradient, options);
  const t0 = p.now();
  try {
    backwardNow(root, gradient, options);
  } finally {
    p.span("backward", "backward", t0);
  }
}

function backwardNow(root: Tensor, gradient: Tensor | undefined, options: BackwardOptions): void {
  const createGraph = options.createGraph ?? false;
  const retainGraph = options.retainGraph ?? createGraph;
  if (root.dtype === "int32") {
    throw new DualgradError(`backward: only floating point tensors have gradients (got an int32 tensor of shape ${formatShape(root.shape)})`);
  }
  if (!root.requiresGrad) {
    throw new DualgradError("backward: element 0 of tensors does not require grad and does not have a gradFn");
  }
  if (gradient === undefined && root.size !== 1) {
    throw new DualgradError(`backward: grad can be implicitly created only for scalar outputs (got shape ${formatShape(root.shape)}); pass a gradient`);
  }
  if (gradient !== undefined && formatShape(gradient.shape) !== formatShape(root.shape)) {
    throw new DualgradError(`backward: gradient has shape ${formatShape(gradient.shape)} but the tensor has shape ${formatShape(root.shape)}`);
  }
  root._checkAlive("backward");
  const scope = beginScope();
  const assigned: Tensor[] = [];
  // Every gradient held in a map is owned by exactly one entry; `take` copies when a rule hands
  // back a tensor that is already owned (add returns the same cotangent for both inputs) or that
  // the caller owns (the seed), so disposing a consumed gradient can never free another's.
  const held = new Set<Tensor>();
  const take = (g: Tensor): Tensor => {
    const own = held.has(g) || !scope.has(g) ? apply("reshape", [g], { shape: g.shape }) : g;
    held.add(own);
    return own;
  };
  const accumulate = (map: Map<Tensor, Tensor>, key: Tensor, g: Tensor) => {
    const prev = map.get(key);
    if (!prev) {
      map.set(key, take(g));
      return;
    }
    held.delete(prev);
    map.set(key, take(apply("add", [prev, g], {})));
    prev.dispose();
  };
  const run = () => {
    // The implicit seed is made at the root's shape directly: no reshape launch per backward.
    const seed = gradient ?? new Tensor(valueFrom(root.dtype, root.shape, [1]));
    const leafGrads = new Map<Tensor, Tensor>();
    if (!root.gradFn) accumulate(leafGrads, root, seed);
    else {
      const nodeGrads = new Map<Tensor, Tensor>([[root, take(seed)]]);
      for (const node of reverseTopological(root.gradFn)) {
        const g = nodeGrads.get(node.out);
        if (!g) continue;
        nodeGrads.delete(node.out);
        held.delete(g);
        if (node.savedFreed) {
          throw new DualgradError(
            "backward: trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). " +
              "Saved intermediate values of the graph are freed when you call backward(). Specify retainGraph: true if you need to backward through the graph a second time.",
          );
        }
        node.checkVersions();
        if (node.out._retainsGrad) accumulate(leafGrads, node.out, g);
        // Nothing else can see g now (no map entry, no retained .grad, no other handle on its
        // storage): a fused rule may write its result into g's memory rather than a new buffer.
        const gIsOurs = !held.has(g) && g._storage.refs === 1;
        // Temporaries of this rule are freed right after it runs; only its results survive.
        const local = beginScope();
        let inputGrads: (Tensor | null)[] = [];
        try {
          const wants = node.inputs.map((t) => t.requiresGrad);
          // A rule of elementwise ops runs as one fused kernel, except when its ops must be recorded.
          inputGrads = (!createGraph && fusedVjp(node.prim, node.attrs, node.inputs, node.out, g, wants, gIsOurs)) ||
            ops[node.prim].vjp(tensorEmitter, node.inputs, node.out, g, node.attrs as never, wants);
        } finally {
          endScope(local, inputGrads, isTensor);
        }
        checkAnomaly(node, inputGrads);
        node.inputs.forEach((input, i) => {
          const gi = inputGrads[i];
          if (gi && input.requiresGrad) accumulate(input.gradFn ? nodeGrads : leafGrads, input, gi);
        });
        for (const gi of inputGrads) if (gi && gi !== g && !held.has(gi)) gi.dispose();
        if (!held.has(g)) g.dispose();
        if (!retainGraph) node.freeSaved();
      }
    }
    for (const [leaf, g] of leafGrads) {
      if (leaf.grad === null) {
        leaf.grad = keep(g);
        assigned.push(g);
      } else if (createGraph) {
        const old = leaf.grad;
        leaf.grad = keep(apply("add", [old, g], {}));
        assigned.push(leaf.grad);
        old.dispose();
      } else {
        leaf.grad.add_(g);
      }
    }
  };
  try {
    withBackward(() => (createGraph ? enableGrad(run) : noGrad(run)));
  } finally {
    endScope(scope, assigned, isTensor);
  }
}
