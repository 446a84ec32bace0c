import {
  execute, normalizeAxis, releaseValue, sizeOf, valueFrom, type Value,
} from "@dualgrad/core";
import { isPrimNode, type Graph, type GraphNode, type PrimNodes } from "../ir.js";
import { commitRewrite } from "./dce.js";

/**
 * Constant folding: evaluates at compile time what does not depend on the inputs. The math is
 * core's own `execute` (the same kernels the graph would run later), so a folded constant holds
 * bit for bit the value the unfolded node would have produced.
 */

/** Options of {@link constantFolding}. */
export interface ConstantFoldingOptions {
  /**
   * Results with more elements than this stay computed at run time: a constant is stored in the
   * graph (and printed, and serialised), so folding e.g. a big `broadcast_to` would bloat it.
   * Default 4096.
   */
  maxElements?: number;
}

/** A constant node replacing `n` (same id, shape and dtype), holding `value`. */
function asConstant(n: GraphNode, value: number[]): GraphNode {
  return { id: n.id, op: "constant", inputs: [], attrs: {}, shape: n.shape, dtype: n.dtype, value };
}

/**
 * Runs prim node `n` on its constant operands through core and returns the data, or null when the
 * kernel throws (e.g. one_hot of an out-of-range label): that error belongs to run time, where the
 * unfolded node will raise it, not to compilation.
 */
function evaluate(n: PrimNodes, operands: readonly GraphNode[]): number[] | null {
  const values: Value[] = [];
  try {
    for (const c of operands) values.push(valueFrom(c.dtype, c.shape, c.value ?? []));
    const out = execute(n.op, values, n.attrs);
    values.push(out);
    // Array.from of the typed array: exactly the stored float32/float64/int32 values.
    return Array.from(out.data);
  } catch {
    return null;
  } finally {
    // Temporaries go back to the allocator, so the memory tracker ends where it started.
    for (const v of values) releaseValue(v);
  }
}

/**
 * Facts that follow from shapes alone, whatever the operands hold: a result with no elements is
 * the empty constant, and argmax over an axis of length 1 (or of a scalar) is all zeros.
 * Returns the data, or null when nothing is known.
 */
function shapeOnlyValue(n: GraphNode, at: (id: number) => GraphNode): number[] | null {
  if (sizeOf(n.shape) === 0) return [];
  if (n.op === "argmax") {
    const x = at(n.inputs[0]).shape;
    const { axis } = n.attrs;
    if (x.length === 0 || x[normalizeAxis("argmax", axis, x.length)] === 1) return new Array<number>(sizeOf(n.shape)).fill(0);
  }
  return null;
}

/**
 * Replaces each primitive node whose operands are all constants by a constant holding its result
 * (evaluated with core's kernels; temporaries released), and each node whose result is known
 * from shapes alone (empty results; argmax over a length-1 axis). Results with more than
 * `maxElements` elements are left alone. Operands left unused are removed.
 */
export function constantFolding(g: Graph, options: ConstantFoldingOptions = {}): Graph {
  const maxElements = options.maxElements ?? 4096;
  const nodes: GraphNode[] = [];
  const at = (id: number) => nodes[id];
  for (const n of g.nodes) {
    // Visiting in topological order means a chain of constant ops folds in one sweep.
    let folded: number[] | null = null;
    if (isPrimNode(n) && sizeOf(n.shape) <= maxElements) {
      const operands = n.inputs.map(at);
      folded = shapeOnlyValue(n, at);
      if (folded === null && operands.length > 0 && operands.every((c) => c.op === "constant")) {
        folded = evaluate(n, operands);
      }
    }
    nodes.push(folded === null ? n : asConstant(n, folded));
  }
  return commitRewrite(g, nodes, g.nodes.map((n) => n.id));
}
