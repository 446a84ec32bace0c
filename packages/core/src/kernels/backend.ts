/**
 * Kernel backends: which implementation the ops' fast kernels run on.
 *
 * - `"js"`: the TypeScript kernels. Bitwise identical to the reference kernels.
 * - `"wasm"` (the default where the engine has WebAssembly SIMD): float32 work runs in
 *   WebAssembly SIMD code generated at run time (./wasm/; no toolchain, nothing built ahead):
 *   matmul (./wasm/gemm-wasm.ts, and ./wasm/gemv-wasm.ts for matrix-vector products, on several
 *   threads when big), every elementwise program from a size up, primitives and the graph's fused
 *   chains alike (./elementwise-dispatch.ts), and leading-axis column sums (bias gradients,
 *   ./wasm/reduce-wasm.ts). Arithmetic and column sums give the JS kernels' bits; matmul and
 *   exp/log/tanh/sigmoid agree with them within float32 rounding (1 ulp for the functions).
 *   Every result is deterministic: the same bits on every run and for every thread count, and a
 *   kernel's path depends only on backend, shapes, dtypes and (for matrix-vector products only,
 *   see {@link matmulFlagsExact}) matmul's transpose flags. Float64 work, the other reductions
 *   and the shape and index ops stay on the TypeScript kernels.
 *
 * Chosen at start-up by the `DUALGRAD_BACKEND` environment variable (`js` or `wasm`, read once
 * when this module loads) and at run time by {@link setBackend}. `DUALGRAD_THREADS` (a positive
 * integer) sets the thread count the wasm backend may use, as {@link setThreads} does; it defaults
 * to the machine's available parallelism, at most 8.
 */
import { availableParallelism } from "node:os";
import type { DType } from "../dtype.js";
import { DualgradError } from "../errors.js";
import { gemm } from "./gemm.js";
import { gemmRuntime, gemmWasm, relaxedSimdSupported, setWasmThreads, simdSupported } from "./wasm/gemm-wasm.js";
import { shutdownWorkers, warmUpWorkers } from "./wasm/threads.js";

/** A kernel backend: `"js"` (TypeScript) or `"wasm"` (WebAssembly SIMD for float32 matmul). */
export type Backend = "js" | "wasm";

/** The backends, in the order error messages list them. */
export const BACKENDS: readonly Backend[] = ["js", "wasm"];

/** The signature every matmul kernel shares: `C = op(A) @ op(B)` over flat row-major buffers (see {@link gemm}). */
export type GemmKernel = typeof gemm;

/**
 * Whether a matmul with an output of `m` x `n` gives the same bits whatever its transpose flags,
 * on every backend (so a graph compiled under one backend and run under another stays exact).
 * Every kernel but one sums each element in an order fixed by the shapes alone (the gemms pack
 * op(A) and op(B) first, or walk them in increasing p); the exception is the float32 matrix-vector product (m = 1 or n = 1) on the wasm backend reads its matrix in place
 * and picks its loop by layout (./wasm/gemv-wasm.ts): `dotRows` sums four lane partials, `axpyRows`
 * sums in increasing p, so flipping a flag there can change the last bits.
 */
export function matmulFlagsExact(dtype: DType, m: number, n: number): boolean {
  return dtype !== "float32" || (m !== 1 && n !== 1);
}

/** Whether this engine can run the wasm backend (WebAssembly with fixed-width SIMD). */
export function wasmAvailable(): boolean {
  return simdSupported();
}

/**
 * Whether this engine has relaxed SIMD (`f32x4.relaxed_madd`), which the wasm matmul then uses
 * as a fused multiply-add. Node 20 has it only with `--experimental-wasm-relaxed-simd`.
 */
export function relaxedSimdAvailable(): boolean {
  return relaxedSimdSupported();
}

/**
 * Which float32 matmul kernel this process runs, in words for reports: `wasm SIMD, relaxed_madd
 * (FMA) 6x8` or `wasm SIMD, mul+add 4x8` (the micro-kernel's rows x columns) on the wasm backend,
 * `TypeScript (js backend)` otherwise. Builds the wasm module if it is not built yet.
 */
export function matmulPath(): string {
  if (backend !== "wasm") return "TypeScript (js backend)";
  const { mr, nr, relaxed } = gemmRuntime().config;
  return `wasm SIMD, ${relaxed ? "relaxed_madd (FMA)" : "mul+add"} ${mr}x${nr}`;
}

function requireWasm(source: string): void {
  if (!wasmAvailable()) {
    throw new DualgradError(`${source}: the "wasm" backend needs WebAssembly with SIMD, which this JavaScript engine does not provide; use "js"`);
  }
}

function parseBackend(value: string, source: string): Backend {
  const v = value.trim().toLowerCase();
  if (v === "js" || v === "wasm") return v;
  throw new DualgradError(`${source}: unknown backend ${JSON.stringify(value)}; valid values are ${BACKENDS.map((b) => JSON.stringify(b)).join(" and ")}`);
}

function parseThreads(value: string, source: string): number {
  const t = value.trim();
  const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new DualgradError(`${source}: thread count must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

function envValue(name: string): string | undefined {
  const v = typeof process === "object" ? process.env?.[name] : undefined;
  return v === undefined || v.trim() === "" ? undefined : v;
}

// wasm is the default wherever it runs: it is ~7x faster on float32 matmul, and deterministic,
// so eager and graph (which share the kernel) still agree bit for bit.
let backend: Backend = wasmAvailable() ? "wasm" : "js";
let threads = Math.max(1, Math.min(8, availableParallelism()));

// Start-up configuration from the environment (read once, when the module loads).
{
  const envBackend = envValue("DUALGRAD_BACKEND");
  if (envBackend !== undefined) {
    backend = parseBackend(envBackend, "DUALGRAD_BACKEND");
    if (backend === "wasm") requireWasm("DUALGRAD_BACKEND=wasm");
  }
  const envThreads = envValue("DUALGRAD_THREADS");
  if (envThreads !== undefined) threads = parseThreads(envThreads, "DUALGRAD_THREADS");
  setWasmThreads(threads);
}

/** The current backend. */
export function getBackend(): Backend {
  return backend;
}

/**
 * Switches the backend for every later kernel call (ops already run are not redone).
 *
 * @throws DualgradError for a name other than `"js"` or `"wasm"`, or `"wasm"` on an engine without WebAssembly SIMD.
 */
export function setBackend(name: Backend): void {
  const b = parseBackend(String(name), "setBackend");
  if (b === "wasm") {
    requireWasm("setBackend");
    gemmRuntime(); // build the module now, so that the first matmul is not the one that pays for it
  }
  backend = b;
}

/**
 * Sets how many threads (the calling one included) the wasm backend may use for one big matmul.
 * Workers start lazily on the first float32 matmul with m*n*k of about 1e6 or more, split C by
 * column panels, and never keep the process alive. 1 keeps everything on the calling thread.
 * The thread count never changes a result's bits.
 *
 * @throws DualgradError unless `n` is a positive integer.
 */
export function setThreads(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new DualgradError(`setThreads: thread count must be a positive integer, got ${n}`);
  threads = n;
  setWasmThreads(n);
}

/** The thread count the wasm backend may use (see {@link setThreads}). */
export function getThreads(): number {
  return threads;
}

/**
 * Starts the wasm backend's worker threads now rather than on the first big matmul, and resolves
 * once they can take work (at once when the thread count is 1 or threads are unavailable).
 */
export async function warmUpThreads(): Promise<void> {
  requireWasm("warmUpThreads");
  await warmUpWorkers(gemmRuntime(), threads - 1);
}

/** Stops the wasm backend's worker threads (they restart lazily when needed). Resolves when they have exited. */
export function shutdownThreads(): Promise<void> {
  return shutdownWorkers();
}

/**
 * The gemm the current backend uses for `dtype`: the WebAssembly kernel for float32 under
 * `"wasm"`, the TypeScript {@link gemm} otherwise (float64 always stays on it).
 */
export function matmulKernel(dtype: DType): GemmKernel {
  return backend === "wasm" && dtype === "float32" ? gemmWasm : gemm;
}
