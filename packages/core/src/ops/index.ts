import { concatOps } from "./concat.js";
import { convOps } from "./conv.js";
import { elementwiseOps } from "./elementwise-ops.js";
import { gatherOps } from "./gather-ops.js";
import { indexOps } from "./index-ops.js";
import { matmulOps } from "./matmul.js";
import type { OpTable, Prim } from "./prim.js";
import { poolOps } from "./pool.js";
import { reduceOps } from "./reduce.js";
import { shapeOps } from "./shape-ops.js";
import { softmaxCrossEntropyOps } from "./softmax-cross-entropy.js";

/**
 * Every primitive's definition, assembled from the per-family tables. Typed as a mapped type
 * over `Prim`, so a primitive declared in `Attrs` but defined nowhere fails to compile.
 */
export const ops: OpTable<Prim> = {
  ...elementwiseOps, ...reduceOps, ...shapeOps, ...matmulOps, ...convOps, ...poolOps, ...indexOps,
  ...gatherOps, ...concatOps, ...softmaxCrossEntropyOps,
};

/** All primitive names, in definition order. */
export const PRIMS = Object.keys(ops) as Prim[];

/** True if `name` is a primitive. */
export function isPrim(name: string): name is Prim {
  return Object.prototype.hasOwnProperty.call(ops, name);
}

/** Why `n` inputs do not fit `prim`'s arity, or null when they do (execute and the graph JSON reader ask). */
export function arityError(prim: Prim, n: number): string | null {
  const arity = ops[prim].arity;
  if (arity === "variadic") return n >= 1 ? null : `expected at least 1 input, got ${n}`;
  return n === arity ? null : `expected ${arity} input(s), got ${n}`;
}
