import type { TypedArray } from "../dtype.js";
import type { Shape } from "../shape.js";
import { getBackend } from "./backend.js";
import type { ElementwiseKernel } from "./elementwise.js";
import type { ElementwiseOp } from "../ops/elementwise-types.js";
import { compileWasmElementwise } from "./wasm/elementwise-wasm.js";
import { heapAlloc, heapBuffer, heapByteOffset, heapFree } from "./wasm/heap.js";

/**
 * Which generated code runs an elementwise program: WebAssembly SIMD (./wasm/elementwise-wasm.ts)
 * or JavaScript (./elementwise.ts). One program, two compilations; the choice is made per call
 * from the backend, the dtypes, the output size and the broadcast layout, never from where the
 * arrays live, so eager and graph (which call the same kernels on the same shapes) get the same
 * bits whether or not their tensors are in the wasm heap.
 *
 * Measured on the dev box (Xeon, Node 20; `node packages/core/dist/bench/elementwise-wasm.js`),
 * ns per call, JS vs wasm: add at 4 elements 50 vs 52, at 16 67 vs 56, at 1024 1857 vs 173; tanh
 * at 16 217 vs 75; a 4-op SGD-with-momentum chain at 16 94 vs 80, at 1024 3296 vs 269. So wasm
 * runs from {@link WASM_ELEMENTWISE_MIN_SIZE} elements up; below that the call costs more than the
 * work and JavaScript runs.
 *
 * Consequence for numerics on the wasm backend: exp, log, tanh and sigmoid on float32 tensors of
 * at least that size use the SIMD approximations (within 1 ulp of Math.*); smaller ones use
 * Math.* rounded to float32. The arithmetic ops give the same bits either way.
 */

/** Output elements from which the wasm kernel runs (measured crossover, see above). */
export const WASM_ELEMENTWISE_MIN_SIZE = 16;

/**
 * The kernel for an elementwise program: `js` (its JavaScript compilation, always valid) wrapped
 * so that float32 calls of at least {@link WASM_ELEMENTWISE_MIN_SIZE} elements on the wasm backend
 * run the WebAssembly compilation of `program` when its layout allows. `key` caches the wasm
 * compilation, as for compileElementwise.
 */
export function dispatchElementwise(key: string, arity: number, program: readonly ElementwiseOp[], js: ElementwiseKernel): ElementwiseKernel {
  const wasm = compileWasmElementwise(key, arity, program);
  if (!wasm) return js;
  return (out, outShape, inputs, inShapes) => {
    if (out.length >= WASM_ELEMENTWISE_MIN_SIZE && getBackend() === "wasm" && out instanceof Float32Array && allFloat32(inputs)) {
      if (wasm(out, outShape, inputs, inShapes)) return;
      if (!allInHeap(out, inputs) && runStaged(wasm, out, outShape, inputs, inShapes)) return;
    }
    js(out, outShape, inputs, inShapes);
  };
}

function allFloat32(inputs: readonly TypedArray[]): inputs is readonly Float32Array[] {
  for (let i = 0; i < inputs.length; i++) if (!(inputs[i] instanceof Float32Array)) return false;
  return true;
}

function allInHeap(out: Float32Array, inputs: readonly Float32Array[]): boolean {
  if (heapByteOffset(out) < 0) return false;
  for (let i = 0; i < inputs.length; i++) if (heapByteOffset(inputs[i]) < 0) return false;
  return true;
}

/**
 * Runs `wasm` with copies in the heap of the arrays that are not there (a HostTensor handed to a
 * compiled graph, say), then copies the output back: the same code, hence the same bits, as for
 * heap tensors. False (nothing written) when the layout is unsupported or the heap is full.
 */
function runStaged(
  wasm: NonNullable<ReturnType<typeof compileWasmElementwise>>,
  out: Float32Array, outShape: Shape, inputs: readonly Float32Array[], inShapes: readonly Shape[],
): boolean {
  const blocks: [at: number, bytes: number][] = [];
  /** `a` itself when it is in the heap, else a heap block of its size (holding a copy of it when `copy`). */
  const inHeap = (a: Float32Array, copy: boolean): Float32Array | null => {
    if (heapByteOffset(a) >= 0) return a;
    const at = heapAlloc(a.byteLength);
    if (at < 0) return null;
    blocks.push([at, a.byteLength]);
    const staged = new Float32Array(heapBuffer(), at, a.length);
    if (copy) staged.set(a);
    return staged;
  };
  try {
    const staged: Float32Array[] = [];
    for (const a of inputs) {
      const s = inHeap(a, true);
      if (!s) return false;
      staged.push(s);
    }
    // An output that is also an input (in place) must stay the same view.
    const k = inputs.indexOf(out);
    const target = k >= 0 ? staged[k] : inHeap(out, false);
    if (!target) return false;
    if (!wasm(target, outShape, staged, inShapes)) return false;
    if (target !== out) out.set(target);
    return true;
  } finally {
    for (const [at, bytes] of blocks) heapFree(at, bytes);
  }
}
