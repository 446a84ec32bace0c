/**
 * Useful floating-point operations of one kernel launch, for GFLOP/s figures (profiles, the
 * micro-benchmarks): a multiply-add counts 2, and only the arithmetic the math needs is counted
 * (not the zeros a padded im2col or a padded micro-tile also multiplies). Only the primitives that
 * dominate a step's arithmetic are counted; the others give 0.
 *
 * - `matmul` op(A)[..., m, k] @ op(B)[..., k, n]: 2 * (batch * m * n) * k, with k the contracted
 *   dimension of op(A) (the last of A, or the one before when `transA`).
 * - `conv2d`, `conv2d_bias`, `conv2d_grad_input`, `conv2d_grad_weight`: 2 * B * K * OH * OW * C * kh * kw each,
 *   from the output (or output-gradient) shape [B, K, OH, OW] and the weight shape [K, C, kh, kw]
 *   — both gradients make exactly as many multiply-adds as the forward convolution.
 */
import { sizeOf, type Shape } from "./shape.js";

/**
 * Flops of one launch of `op` with inputs of shapes `inputs`, output shape `out` and attributes
 * `attrs` (as the primitive takes them); 0 for an op not counted (see the module comment). `op`
 * is a string so that a plan step that is not a primitive (a fused chain) simply gives 0.
 */
export function kernelFlops(op: string, inputs: readonly Shape[], out: Shape, attrs: unknown): number {
  const a = attrs as { transA?: boolean; weightShape?: Shape };
  switch (op) {
    case "matmul": {
      const x = inputs[0];
      const k = a.transA ? x[x.length - 2] : x[x.length - 1];
      return 2 * sizeOf(out) * k;
    }
    case "conv2d": // inputs [x, w], output [B, K, OH, OW]
    case "conv2d_bias": // inputs [x, w, bias]; the bias adds count as nothing, like the others' stores
      return convFlops(out, inputs[1]);
    case "conv2d_grad_input": // inputs [gy, w]
      return convFlops(inputs[0], inputs[1]);
    case "conv2d_grad_weight": // inputs [x, gy]
      return a.weightShape ? convFlops(inputs[1], a.weightShape) : 0;
    default:
      return 0;
  }
}

/** 2 * B*K*OH*OW * C*kh*kw from the convolution's output shape and weight shape. */
function convFlops(y: Shape, w: Shape): number {
  return 2 * sizeOf(y) * w[1] * w[2] * w[3];
}
