import type { Emitter } from "../ops/prim.js";
import { add } from "./arith.js";
import { matmul } from "./matmul.js";

/**
 * PyTorch's `F.linear`: x W^T + b with W `[out, in]`. The transpose is the matmul's transB
 * flag, never a copy; the bias broadcasts over the batch.
 */
export function linear<T>(e: Emitter<T>, x: T, weight: T, bias: T | null = null): T {
  const y = matmul(e, x, weight, { transB: true });
  return bias === null ? y : add(e, y, bias);
}
