import { allocValue, releaseValue, type TypedArray, type Value, type View } from "@dualgrad/core";
import type { CompiledGraph } from "../compile.js";
import type { ControlNode, Graph } from "../ir.js";
import { inputMetas } from "./subgraph.js";

/**
 * Running control-flow nodes. Each sub-graph is compiled once into its own CompiledGraph (one
 * arena, reused by every iteration); a run only rebinds input buffers and copies results, so a
 * step allocates nothing. Carries ping-pong between two buffer sets, so a body returning its
 * carry swapped (`[b, a]`) never reads a buffer already overwritten this step.
 */

/** A control node's compiled form: its closure, and the memory to release with the graph. */
export interface ControlKernel {
  run: () => void;
  dispose: () => void;
  /** The compiled sub-graphs, each with its own plan and arena (for printing plans). */
  compiled: CompiledGraph[];
}

/** `dst.set(src)` across the TypedArray union (both have the node's dtype). */
const copy = (dst: TypedArray, src: TypedArray, offset = 0) => (dst as Float64Array).set(src as Float64Array, offset);

/** Two sets of carry buffers shaped like `g`'s first `n` inputs. */
function carryBuffers(g: Graph, n: number): [Value[], Value[]] {
  const make = () => inputMetas(g).slice(0, n).map((m) => allocValue(m.dtype, m.shape));
  return [make(), make()];
}

/**
 * The kernel of control node `node`: `ins` are its input views, `outs[k]` the view of its result
 * `k` (undefined when nothing reads it), `sub` compiles a sub-graph.
 */
export function controlKernel(node: ControlNode, ins: readonly View[], outs: readonly (View | undefined)[], sub: (g: Graph) => CompiledGraph): ControlKernel {
  if (node.op === "cond") {
    const branches = node.attrs.branches.map(sub);
    return {
      run: () => {
        // NaN counts as true, as `bool(nan)` does in JAX.
        const g = branches[ins[0].data[0] !== 0 ? 0 : 1];
        for (let k = 1; k < ins.length; k++) g.bindInput(k - 1, ins[k].data);
        g.runBound();
        for (let k = 0; k < outs.length; k++) if (outs[k]) copy(outs[k]!.data, g.outputView(k).data);
      },
      dispose: () => branches.forEach((g) => g.dispose()),
      compiled: branches,
    };
  }
  if (node.op === "while") {
    const { numCarry: nc } = node.attrs;
    const cond = sub(node.attrs.cond);
    const body = sub(node.attrs.body);
    const bufs = carryBuffers(node.attrs.body, nc);
    return {
      run: () => {
        let [cur, next] = bufs;
        for (let k = 0; k < nc; k++) copy(cur[k].data, ins[k].data);
        for (let k = nc; k < ins.length; k++) {
          cond.bindInput(k, ins[k].data);
          body.bindInput(k, ins[k].data);
        }
        for (;;) {
          for (let k = 0; k < nc; k++) {
            cond.bindInput(k, cur[k].data);
            body.bindInput(k, cur[k].data);
          }
          cond.runBound();
          if (cond.outputView(0).data[0] === 0) break;
          body.runBound();
          for (let k = 0; k < nc; k++) copy(next[k].data, body.outputView(k).data);
          [cur, next] = [next, cur];
        }
        for (let k = 0; k < nc; k++) if (outs[k]) copy(outs[k]!.data, cur[k].data);
      },
      dispose: () => {
        cond.dispose();
        body.dispose();
        bufs.flat().forEach(releaseValue);
      },
      compiled: [cond, body],
    };
  }
  const { numCarry: nc, numXs: nx, length, reverse } = node.attrs;
  const body = sub(node.attrs.body);
  const bufs = carryBuffers(node.attrs.body, nc);
  // Each step's x slices are copied into buffers of their own (a subarray per step would allocate).
  const xBufs = inputMetas(node.attrs.body).slice(nc, nc + nx).map((m) => allocValue(m.dtype, m.shape));
  xBufs.forEach((x, k) => body.bindInput(nc + k, x.data));
  const numOut = node.attrs.body.outputs.length;
  return {
    run: () => {
      let [cur, next] = bufs;
      for (let k = 0; k < nc; k++) copy(cur[k].data, ins[k].data);
      for (let k = nc + nx; k < ins.length; k++) body.bindInput(k, ins[k].data);
      for (let s = 0; s < length; s++) {
        const t = reverse ? length - 1 - s : s;
        for (let k = 0; k < nc; k++) body.bindInput(k, cur[k].data);
        for (let k = 0; k < nx; k++) {
          const dst = xBufs[k].data;
          const src = ins[nc + k].data;
          const n = dst.length;
          const off = t * n;
          for (let i = 0; i < n; i++) dst[i] = src[off + i];
        }
        body.runBound();
        for (let k = nc; k < numOut; k++) {
          const o = outs[k];
          if (o) {
            const y = body.outputView(k).data;
            copy(o.data, y, t * y.length);
          }
        }
        for (let k = 0; k < nc; k++) copy(next[k].data, body.outputView(k).data);
        [cur, next] = [next, cur];
      }
      for (let k = 0; k < nc; k++) if (outs[k]) copy(outs[k]!.data, cur[k].data);
    },
    dispose: () => {
      body.dispose();
      [...bufs.flat(), ...xBufs].forEach(releaseValue);
    },
    compiled: [body],
  };
}
