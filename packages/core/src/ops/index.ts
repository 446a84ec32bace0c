import { elementwiseOps } from "./elementwise-ops.js";
import { indexOps } from "./index-ops.js";
import { matmulOps } from "./matmul.js";
import type { OpTable, Prim } from "./prim.js";
import { reduceOps } from "./reduce.js";
import { shapeOps } from "./shape-ops.js";

/**
 * Every primitive's definition, assembled from the per-family tables. Typed as a mapped type
 * over `Prim`, so a primitive declared in `Attrs` but defined nowhere fails to compile.
 */
export const ops: OpTable<Prim> = { ...elementwiseOps, ...reduceOps, ...shapeOps, ...matmulOps, ...indexOps };

/** All primitive names, in definition order. */
export const PRIMS = Object.keys(ops) as Prim[];

/** True if `name` is a primitive. */
export function isPrim(name: string): name is Prim {
  return Object.prototype.hasOwnProperty.call(ops, name);
}
