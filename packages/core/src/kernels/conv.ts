/**
 * Convolution kernels (NCHW input, weight [out, in, kh, kw], groups 1), as PyTorch lays them out.
 *
 * Two paths, chosen per shape by {@link convPath}: im2col + gemm (here) and direct WebAssembly
 * SIMD kernels (./conv-direct.ts) for float32 on the wasm backend where the gemm would be thin.
 *
 * The im2col kernels lower every convolution to one matrix product over the whole batch: the
 * input becomes a `[C*kh*kw, B*OH*OW]` matrix of patches, so the forward pass is
 * `W [K, C*kh*kw] @ cols`, the weight gradient `G [K, B*OH*OW] @ cols^T` and the input gradient
 * `W^T @ G` scattered back (col2im). The product runs on the backend's gemm (WebAssembly SIMD
 * for float32, threaded when large), so the convolution inherits its speed and determinism.
 * One product per call rather than one per sample: the MNIST shapes give per-sample products of
 * 8 x 784 x 9, too thin for the gemm's tiles, while the batched one (8 x 50176 x 9) fills them
 * and splits across threads.
 *
 * The reference kernels are the textbook loops, accumulating each output in a double in the
 * same order as the fast kernels' gemm (channel, kernel row, kernel column; then sample, output
 * row, output column for the weight gradient), so on the TypeScript gemm the two agree to the
 * last bit except for signed zeros from padding.
 *
 * Scratch matrices live in module-level buffers that grow on demand (not in the tensor
 * allocator; float32 ones in the wasm heap, so the gemm uses them in place), so a compiled step
 * allocates nothing in steady state; they are not counted as tensor memory.
 */
import type { Shape } from "../shape.js";
import { getBackend, matmulKernel } from "./backend.js";
import { conv2dDirectWasm, conv2dGradInputDirectWasm, conv2dGradWeightDirectWasm, directWasmAvailable } from "./conv-direct.js";
import { heapAlloc, heapBuffer, heapByteOffset, heapFree } from "./wasm/heap.js";

type FloatArray = Float32Array | Float64Array;

/** Every size a convolution kernel needs, derived once from the shapes and attributes. */
export interface ConvGeometry {
  readonly B: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly K: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  readonly dh: number;
  readonly dw: number;
  readonly OH: number;
  readonly OW: number;
}

/** The attributes every convolution primitive carries: per-axis [height, width] pairs. */
export interface ConvParams {
  readonly stride: readonly number[];
  readonly padding: readonly number[];
  readonly dilation: readonly number[];
}

/** Output length of one spatial axis: PyTorch's floor((n + 2p - d(k-1) - 1) / s) + 1. */
export function convOutSize(n: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** The geometry of `conv2d(x, w)` for input shape `x` [B,C,H,W] and weight shape `w` [K,C,kh,kw]. */
export function convGeometry(x: Shape, w: Shape, { stride, padding, dilation }: ConvParams): ConvGeometry {
  const [B, C, H, W] = x;
  const [K, , kh, kw] = w;
  const [sh, sw] = stride;
  const [ph, pw] = padding;
  const [dh, dw] = dilation;
  return { B, C, H, W, K, kh, kw, sh, sw, ph, pw, dh, dw, OH: convOutSize(H, kh, sh, ph, dh), OW: convOutSize(W, kw, sw, pw, dw) };
}

const scratch32: Float32Array[] = [new Float32Array(0), new Float32Array(0)];
const scratch64: Float64Array[] = [new Float64Array(0), new Float64Array(0)];

/**
 * A float32 scratch array of `n` elements, in the wasm heap where there is one (so the wasm gemm
 * reads and writes it in place instead of staging a copy of it), else an ordinary array.
 */
function newScratch32(n: number): Float32Array {
  const at = heapAlloc(n * 4);
  return at < 0 ? new Float32Array(n) : new Float32Array(heapBuffer(), at, n);
}

/** Scratch buffer `slot` (0 or 1) of `like`'s type with at least `n` elements; grows, never shrinks. */
function scratch(like: FloatArray, slot: number, n: number): FloatArray {
  if (like instanceof Float32Array) {
    if (scratch32[slot].length < n) {
      const old = scratch32[slot];
      const at = heapByteOffset(old);
      if (at >= 0) heapFree(at, old.byteLength);
      // Grown by half again, so a sequence of slightly larger shapes does not reallocate each call.
      scratch32[slot] = newScratch32(Math.max(n, Math.ceil(old.length * 1.5)));
    }
    return scratch32[slot];
  }
  if (scratch64[slot].length < n) scratch64[slot] = new Float64Array(n);
  return scratch64[slot];
}

/**
 * Moves between an NCHW image and its [C*kh*kw, B*OH*OW] matrix of patches: with `gather`, im2col
 * (cols overwritten, zeros where a patch reaches into the padding); without, its adjoint col2im
 * (every column entry summed back into the image element it came from; `img` overwritten).
 * Plain index loops on purpose: a `subarray` per output row (one view object each, 64k of them
 * for the cnn's conv2) cost more than the gemm itself.
 */
function patches(img: FloatArray, cols: FloatArray, g: ConvGeometry, gather: boolean): void {
  const { B, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW } = g;
  const P = OH * OW;
  const N = B * P;
  if (!gather) img.fill(0);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const row = ((c * kh + i) * kw + j) * N;
        const shift = j * dw - pw;
        // Output columns [lo, hi) read inside the image (0 <= ow*sw + shift < W); the rest is padding.
        const lo = Math.min(OW, Math.max(0, Math.ceil(-shift / sw)));
        const hi = Math.max(lo, Math.min(OW, Math.ceil((W - shift) / sw)));
        for (let b = 0; b < B; b++) {
          const xc = (b * C + c) * H * W;
          for (let oh = 0; oh < OH; oh++) {
            const h = oh * sh - ph + i * dh;
            const at = row + b * P + oh * OW;
            const inside = h >= 0 && h < H;
            const xr = xc + h * W + shift;
            if (gather) {
              const l = inside ? lo : OW;
              const e = inside ? hi : OW;
              for (let ow = 0; ow < l; ow++) cols[at + ow] = 0;
              for (let ow = l; ow < e; ow++) cols[at + ow] = img[xr + ow * sw];
              for (let ow = e; ow < OW; ow++) cols[at + ow] = 0;
            } else if (inside) {
              for (let ow = lo; ow < hi; ow++) img[xr + ow * sw] += cols[at + ow];
            }
          }
        }
      }
    }
  }
}

/** Copies a [A, Bdim, P] array to [Bdim, A, P] (the batch-major / channel-major swap). */
function swapOuter(src: FloatArray, A: number, Bdim: number, P: number, dst: FloatArray): void {
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < Bdim; b++) {
      const s = (a * Bdim + b) * P;
      const d = (b * A + a) * P;
      for (let q = 0; q < P; q++) dst[d + q] = src[s + q];
    }
  }
}

/**
 * Computes a convolution's matrix product `C [m,n] = A [m,k] @ B [k,n]` (row-major, from offset 0)
 * in place of the backend's gemm: a gemm epilogue's runner (./gemm-epilogue.ts), which applies the
 * bias to the product as it is stored.
 */
export type ConvProduct = (m: number, n: number, k: number, a: FloatArray, b: FloatArray, c: FloatArray) => void;

/** conv2d by im2col + gemm: `out` [B,K,OH,OW] = x [B,C,H,W] (*) w [K,C,kh,kw]; its [K, B*OH*OW] product by `product` when given. */
export function conv2dIm2col(x: FloatArray, w: FloatArray, out: FloatArray, g: ConvGeometry, product?: ConvProduct): void {
  const { B, C, K, kh, kw, OH, OW } = g;
  const N = B * OH * OW;
  const Q = C * kh * kw;
  if (out.length === 0) return;
  const cols = scratch(out, 0, Q * N);
  patches(x, cols, g, true);
  const res = scratch(out, 1, K * N);
  if (product) product(K, N, Q, w, cols, res);
  else matmulKernel(out instanceof Float32Array ? "float32" : "float64")(K, N, Q, w, 0, false, cols, 0, false, res, 0);
  swapOuter(res, K, B, OH * OW, out);
}

/** Weight gradient by im2col + gemm: `dw` [K,C,kh,kw] = sum over samples and positions of gy * x-patches. */
export function conv2dGradWeightIm2col(x: FloatArray, gy: FloatArray, dw: FloatArray, g: ConvGeometry): void {
  const { B, C, K, kh, kw, OH, OW } = g;
  const N = B * OH * OW;
  const Q = C * kh * kw;
  if (dw.length === 0) return;
  const cols = scratch(dw, 0, Q * N);
  patches(x, cols, g, true);
  const gt = scratch(dw, 1, K * N);
  swapOuter(gy, B, K, OH * OW, gt);
  matmulKernel(dw instanceof Float32Array ? "float32" : "float64")(K, Q, N, gt, 0, false, cols, 0, true, dw, 0);
}

/** Input gradient by gemm + col2im: `dx` [B,C,H,W] = the transposed convolution of gy [B,K,OH,OW] with w. */
export function conv2dGradInputIm2col(gy: FloatArray, w: FloatArray, dx: FloatArray, g: ConvGeometry): void {
  const { B, C, K, kh, kw, OH, OW } = g;
  const N = B * OH * OW;
  const Q = C * kh * kw;
  if (dx.length === 0) return;
  const gt = scratch(dx, 1, K * N);
  swapOuter(gy, B, K, OH * OW, gt);
  const cols = scratch(dx, 0, Q * N);
  matmulKernel(dx instanceof Float32Array ? "float32" : "float64")(Q, N, K, w, 0, true, gt, 0, false, cols, 0);
  patches(dx, cols, g, false);
}

/** Which implementation runs a convolution kernel: im2col + gemm (this file) or direct (./conv-direct.ts). */
export type ConvPath = "im2col" | "direct";

/** The three convolution kernels, by the primitive they implement. */
export type ConvKernelKind = "forward" | "grad_input" | "grad_weight";

/**
 * The path a kernel takes for geometry `g` and `dtype` on the current backend: a function of the
 * shapes, attributes, dtype and backend only, so eager and graph (and every run) pick the same one.
 *
 * Direct kernels exist for float32 on the wasm backend with stride 1 along the width (and, for the
 * input gradient, stride 1 along both axes and padding no wider than the dilated kernel). Among
 * those, direct wins while the gemm im2col would feed is too thin for its tiles: its inner
 * dimension C*kh*kw (forward), K*kh*kw (input gradient), or its C x K output (weight gradient).
 * Thresholds from `node packages/core/dist/bench/conv-gflops.js` (3x3, padding 1, im2col vs direct
 * interleaved; this 2-core Xeon, loaded by other jobs, wasm, 1 thread, ms per call):
 *
 * | shape (batch)              | forward       | input grad    | weight grad   |
 * |----------------------------|---------------|---------------|---------------|
 * | 1->8 28x28 (64), cnn conv1 | 7.7 / 2.7     | 10.2 / 5.6    | 11.4 / 1.5    |
 * | 8->16 14x14 (64), conv2    | 17.2 / 13.8   | 12.7 / 11.7   | 27.8 / 9.2    |
 * | 32->64 14x14 (16)          | 29.1 / 36.2   | 7.1 / 14.7    | 24.7 / 26.8   |
 * | 64->128 7x7 (16)           | 9.4 / 22.2    | 16.0 / 31.4   | 11.6 / 22.4   |
 *
 * So: direct while C*kh*kw <= 72 (forward), K*kh*kw <= 144 (input gradient), C*K <= 512 (weight
 * gradient: even at 2048, im2col ahead by 2x at 8192); im2col otherwise. The JS backend and float64
 * always take im2col (a JS direct loop measured 2-3x slower than im2col + the TypeScript gemm).
 */
export function convPath(kind: ConvKernelKind, g: ConvGeometry, dtype: "float32" | "float64"): ConvPath {
  if (dtype !== "float32" || getBackend() !== "wasm" || !directWasmAvailable() || !directApplies(kind, g)) return "im2col";
  const taps = g.kh * g.kw;
  const wins = kind === "forward" ? g.C * taps <= 72 : kind === "grad_input" ? g.K * taps <= 144 : g.C * g.K <= 512;
  return wins ? "direct" : "im2col";
}

/**
 * Whether a direct kernel of `kind` computes geometry `g`: stride 1 along the width (its f32x4
 * covers adjacent output columns); for the input gradient also stride 1 along the height and
 * padding within the dilated kernel (so it is a forward convolution with non-negative padding).
 */
function directApplies(kind: ConvKernelKind, g: ConvGeometry): boolean {
  // The generated channel loops run at least once: no channels at all is im2col's (trivial) case.
  if (g.sw !== 1 || g.C === 0 || g.K === 0) return false;
  return kind !== "grad_input" || (g.sh === 1 && g.ph <= (g.kh - 1) * g.dh && g.pw <= (g.kw - 1) * g.dw);
}

const dtypeOf = (a: FloatArray) => (a instanceof Float32Array ? "float32" : "float64");

/**
 * Fast conv2d: `out` [B,K,OH,OW] = x [B,C,H,W] (*) w [K,C,kh,kw], on the path {@link convPath}
 * picks (or `path`, for benchmarks and tests: "direct" runs the wasm direct kernel where it applies
 * to the geometry and the arrays are float32, im2col otherwise); on im2col, its product by
 * `product` when given.
 */
export function conv2dFast(
  x: FloatArray, w: FloatArray, out: FloatArray, g: ConvGeometry, path = convPath("forward", g, dtypeOf(out)), product?: ConvProduct,
): void {
  if (out.length === 0) return;
  // The direct kernel computes no separate product, so `product` is not called here: an epilogue's
  // caller runs the direct kernel with its program fused into the store itself, or the program
  // separately where that kernel declines (./gemm-epilogue.ts).
  if (path === "direct" && directApplies("forward", g) && out instanceof Float32Array && conv2dDirectWasm(x as Float32Array, w as Float32Array, out, g)) return;
  conv2dIm2col(x, w, out, g, product);
}

/** Fast input gradient: `dx` [B,C,H,W] from gy [B,K,OH,OW] and w, on the path {@link convPath} picks. */
export function conv2dGradInputFast(gy: FloatArray, w: FloatArray, dx: FloatArray, g: ConvGeometry, path = convPath("grad_input", g, dtypeOf(dx))): void {
  if (dx.length === 0) return;
  if (path === "direct" && directApplies("grad_input", g) && dx instanceof Float32Array && conv2dGradInputDirectWasm(gy as Float32Array, w as Float32Array, dx, g)) return;
  conv2dGradInputIm2col(gy, w, dx, g);
}

/** Fast weight gradient: `dw` [K,C,kh,kw] from x and gy, on the path {@link convPath} picks. */
export function conv2dGradWeightFast(x: FloatArray, gy: FloatArray, dw: FloatArray, g: ConvGeometry, path = convPath("grad_weight", g, dtypeOf(dw))): void {
  if (dw.length === 0) return;
  if (path === "direct" && directApplies("grad_weight", g) && dw instanceof Float32Array && conv2dGradWeightDirectWasm(x as Float32Array, gy as Float32Array, dw, g)) return;
  conv2dGradWeightIm2col(x, gy, dw, g);
}

/**
 * Calls `visit(xIndex, wIndex, outIndex)` for every (output, kernel tap) pair that reads the
 * input (taps in the padding skipped), in the order the reference kernels accumulate: output
 * element, then channel, kernel row, kernel column.
 */
function forEachTap(g: ConvGeometry, visit: (xi: number, wi: number, oi: number) => void): void {
  const { B, C, H, W, K, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW } = g;
  for (let b = 0; b < B; b++)
    for (let k = 0; k < K; k++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const oi = ((b * K + k) * OH + oh) * OW + ow;
          for (let c = 0; c < C; c++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const h = oh * sh - ph + i * dh;
                const v = ow * sw - pw + j * dw;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                visit(((b * C + c) * H + h) * W + v, ((k * C + c) * kh + i) * kw + j, oi);
              }
        }
}

/** Reference conv2d: each output a double sum over its taps. */
export function conv2dReference(x: FloatArray, w: FloatArray, out: FloatArray, g: ConvGeometry): void {
  const acc = new Float64Array(out.length);
  forEachTap(g, (xi, wi, oi) => (acc[oi] += x[xi] * w[wi]));
  out.set(acc);
}

/** Reference weight gradient: each weight a double sum, over samples then output positions. */
export function conv2dGradWeightReference(x: FloatArray, gy: FloatArray, dw: FloatArray, g: ConvGeometry): void {
  // Accumulated per weight in (sample, output row, output column) order, as the fast kernel's gemm does.
  const { B, C, H, W, K, kh, kw, sh, sw, ph, pw, dh, dw: dl, OH, OW } = g;
  for (let k = 0; k < K; k++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) {
          let acc = 0;
          for (let b = 0; b < B; b++)
            for (let oh = 0; oh < OH; oh++)
              for (let ow = 0; ow < OW; ow++) {
                const h = oh * sh - ph + i * dh;
                const v = ow * sw - pw + j * dl;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                acc += gy[((b * K + k) * OH + oh) * OW + ow] * x[((b * C + c) * H + h) * W + v];
              }
          dw[((k * C + c) * kh + i) * kw + j] = acc;
        }
}

/**
 * Reference input gradient. Each input element sums, over the kernel taps that read it (channel,
 * kernel row, kernel column in increasing order), the double sum over output channels of gy * w
 * rounded to the dtype: the fast kernel stores that sum in its float32 column matrix before
 * scattering it, and the rounding is mirrored so the two agree bitwise.
 */
export function conv2dGradInputReference(gy: FloatArray, w: FloatArray, dx: FloatArray, g: ConvGeometry): void {
  const { B, C, H, W, K, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW } = g;
  const round = dx instanceof Float32Array ? Math.fround : (v: number) => v;
  dx.fill(0);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++)
          for (let oh = 0; oh < OH; oh++)
            for (let ow = 0; ow < OW; ow++) {
              const h = oh * sh - ph + i * dh;
              const v = ow * sw - pw + j * dw;
              if (h < 0 || h >= H || v < 0 || v >= W) continue;
              let acc = 0;
              for (let k = 0; k < K; k++) acc += gy[((b * K + k) * OH + oh) * OW + ow] * w[((k * C + c) * kh + i) * kw + j];
              dx[((b * C + c) * H + h) * W + v] += round(acc);
            }
}
