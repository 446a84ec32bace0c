/**
 * 2-D pooling kernels over NCHW tensors, with PyTorch's semantics (floor output size, no
 * ceil mode): max pooling pads with -infinity and routes its gradient to the *first* maximum of
 * each window in row-major order; average pooling counts the zero padding in its divisor
 * (PyTorch's default `count_include_pad=True`), so every window divides by kh*kw.
 *
 * Pooling has no product to hand to a gemm, so the loops below are the fast kernels (with SIMD
 * versions of 2x2 / stride-2 max pooling on the wasm backend, ./wasm/pool-wasm.ts); the reference kernels in ops/pool.ts restate them per output element with explicit
 * bounds checks, and the tests hold the two together.
 */
import type { Shape } from "../shape.js";
import { getBackend } from "./backend.js";
import { convOutSize } from "./conv.js";
import { maxPool2x2GradWasm, maxPool2x2Wasm } from "./wasm/pool-wasm.js";

type FloatArray = Float32Array | Float64Array;

/** The attributes of the pooling primitives: per-axis [height, width] pairs. */
export interface PoolParams {
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly padding: readonly number[];
}

/** Every size a pooling kernel needs. `BC` is batch times channels: pooling treats them alike. */
export interface PoolGeometry {
  readonly BC: number;
  readonly H: number;
  readonly W: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  readonly OH: number;
  readonly OW: number;
}

/** The geometry of pooling an input of shape `x` [B,C,H,W]. */
export function poolGeometry(x: Shape, { kernel, stride, padding }: PoolParams): PoolGeometry {
  const [B, C, H, W] = x;
  const [kh, kw] = kernel;
  const [sh, sw] = stride;
  const [ph, pw] = padding;
  return { BC: B * C, H, W, kh, kw, sh, sw, ph, pw, OH: convOutSize(H, kh, sh, ph, 1), OW: convOutSize(W, kw, sw, pw, 1) };
}

/**
 * Flat index of the first maximum of the window rows [hs, he) x columns [ws, we) of the plane at
 * `base` (row-major scan; NaN counts as a maximum and propagates, as in PyTorch, the first NaN
 * winning). An empty window (wholly in the padding) gives -1.
 */
function firstMax(x: FloatArray, base: number, W: number, hs: number, he: number, ws: number, we: number): number {
  if (hs >= he || ws >= we) return -1;
  let at = base + hs * W + ws;
  let best = x[at];
  if (best !== best) return at;
  for (let h = hs; h < he; h++) {
    const row = base + h * W;
    for (let w = ws; w < we; w++) {
      const v = x[row + w];
      if (v > best) {
        best = v;
        at = row + w;
      } else if (v !== v) {
        return row + w;
      }
    }
  }
  return at;
}

/** Calls `f(output index, plane offset, h start, h end, w start, w end)` for every window, clipped to the input. */
function eachClippedWindow(g: PoolGeometry, f: (o: number, base: number, hs: number, he: number, ws: number, we: number) => void): void {
  const { BC, H, W, kh, kw, sh, sw, ph, pw, OH, OW } = g;
  for (let p = 0; p < BC; p++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * sh - ph;
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * sw - pw;
        f((p * OH + oh) * OW + ow, p * H * W, Math.max(h0, 0), Math.min(h0 + kh, H), Math.max(w0, 0), Math.min(w0 + kw, W));
      }
    }
  }
}

/**
 * Whether a max-pooling call may try the SIMD kernels of ./wasm/pool-wasm.ts (float32 on the wasm
 * backend; they take 2x2 / stride 2 / unpadded pooling of heap tensors and give the same bits as
 * the loops here, so which one runs never changes a result).
 */
function simdPath(x: FloatArray, out: FloatArray): boolean {
  return x instanceof Float32Array && out instanceof Float32Array && getBackend() === "wasm";
}

/** max_pool2d: each output is its window's maximum (-infinity for a window wholly in padding). */
export function maxPool2dKernel(x: FloatArray, out: FloatArray, g: PoolGeometry): void {
  if (simdPath(x, out) && maxPool2x2Wasm(x as Float32Array, out as Float32Array, g)) return;
  eachClippedWindow(g, (o, base, hs, he, ws, we) => {
    const at = firstMax(x, base, g.W, hs, he, ws, we);
    out[o] = at < 0 ? -Infinity : x[at];
  });
}

/** Gradient of max_pool2d: `dx` (overwritten) gets each output's cotangent at its window's first maximum. */
export function maxPool2dGradKernel(x: FloatArray, gy: FloatArray, dx: FloatArray, g: PoolGeometry): void {
  if (simdPath(x, dx) && maxPool2x2GradWasm(x as Float32Array, gy as Float32Array, dx as Float32Array, g)) return;
  dx.fill(0);
  eachClippedWindow(g, (o, base, hs, he, ws, we) => {
    const at = firstMax(x, base, g.W, hs, he, ws, we);
    if (at >= 0) dx[at] += gy[o];
  });
}

/** The adjoint of the gradient: each output takes `c` at its window's first maximum of `x`. */
export function maxPool2dSelectKernel(x: FloatArray, c: FloatArray, out: FloatArray, g: PoolGeometry): void {
  eachClippedWindow(g, (o, base, hs, he, ws, we) => {
    const at = firstMax(x, base, g.W, hs, he, ws, we);
    out[o] = at < 0 ? 0 : c[at];
  });
}

/** avg_pool2d with the padding counted: each output is its window's sum over kh*kw. */
export function avgPool2dKernel(x: FloatArray, out: FloatArray, g: PoolGeometry): void {
  const { W, kh, kw } = g;
  eachClippedWindow(g, (o, base, hs, he, ws, we) => {
    let acc = 0;
    for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) acc += x[base + h * W + w];
    out[o] = acc / (kh * kw);
  });
}

/** Gradient of avg_pool2d: every input element gets the sum of the cotangents of the windows holding it, over kh*kw. */
export function avgPool2dGradKernel(gy: FloatArray, dx: FloatArray, g: PoolGeometry): void {
  const { W, kh, kw } = g;
  dx.fill(0);
  eachClippedWindow(g, (o, base, hs, he, ws, we) => {
    const v = gy[o] / (kh * kw);
    for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) dx[base + h * W + w] += v;
  });
}
