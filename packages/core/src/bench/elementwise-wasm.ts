/**
 * JavaScript vs WebAssembly SIMD elementwise kernels, per call, over sizes 1 to 65536: `add`,
 * `tanh` and a 4-op fused chain (momentum SGD: `v' = 0.875*v + g; w' = w - 0.03125*v'`), all
 * float32 on arrays in the wasm heap (where tensors live, so both kernels read the same memory).
 * The JavaScript kernels are compileElementwise's generated loops over the ELEMENTWISE
 * expressions (the fused one Math.fround-s each intermediate, as the graph's fused kernels do).
 *
 * Run directly after a build to print the table and the crossover sizes:
 * `node packages/core/dist/bench/elementwise-wasm.js`.
 */
import { pathToFileURL } from "node:url";
import { compileElementwise, type ElementwiseKernel } from "../kernels/elementwise.js";
import { programSource } from "../kernels/elementwise-program.js";
import { compileWasmElementwise, type WasmElementwiseKernel } from "../kernels/wasm/elementwise-wasm.js";
import type { ElementwiseOp } from "../ops/elementwise-types.js";
import { heapAlloc, heapBuffer, heapFree } from "../kernels/wasm/heap.js";
import { medianSecondsPerCall, type SamplingOptions } from "./median-time.js";

/** Short samples (the small sizes run in tens of nanoseconds). */
const ELEMENTWISE_SAMPLING: SamplingOptions = { warmMinMs: 30, warmMsPerSecond: 300, sampleMs: 5, minSamples: 7 };

/** One measured case. */
export interface ElementwiseTiming {
  /** `add`, `tanh` or `sgd-momentum (4 ops)`. */
  program: string;
  /** Elements per call. */
  size: number;
  /** Median nanoseconds per call of the JavaScript kernel. */
  jsNs: number;
  /** Median nanoseconds per call of the wasm kernel. */
  wasmNs: number;
}

/** Options for {@link measureElementwiseWasm}. */
export interface ElementwiseBenchOptions {
  /** Seconds of timed runs per case after warm-up (default 0.1). */
  minSeconds?: number;
  /** Sizes to time (default 1, 4, 16, 64, 256, 1024, 4096, 65536). */
  sizes?: readonly number[];
}

/** The sizes timed by default. */
export const DEFAULT_SIZES: readonly number[] = [1, 4, 16, 64, 256, 1024, 4096, 65536];

interface Program {
  name: string;
  arity: number;
  /** As the kernels have them: no dtype for one op, float32 on each op of the fused chain. */
  ops: ElementwiseOp[];
}

const inp = (index: number) => ({ from: "in", index }) as const;
const op = (index: number) => ({ from: "op", index }) as const;
const k = (value: number) => ({ from: "const", value }) as const;

const PROGRAMS: Program[] = [
  { name: "add", arity: 2, ops: [{ prim: "add", attrs: {}, operands: [inp(0), inp(1)] }] },
  { name: "tanh", arity: 1, ops: [{ prim: "tanh", attrs: {}, operands: [inp(0)] }] },
  {
    // Inputs: w, v, g. The output is w'; a real step would also store v'.
    name: "sgd-momentum (4 ops)",
    arity: 3,
    ops: [
      { prim: "mul", attrs: {}, operands: [inp(1), k(0.875)], dtype: "float32" },
      { prim: "add", attrs: {}, operands: [op(0), inp(2)], dtype: "float32" },
      { prim: "mul", attrs: {}, operands: [k(0.03125), op(1)], dtype: "float32" },
      { prim: "sub", attrs: {}, operands: [inp(0), op(2)], dtype: "float32" },
    ],
  },
];

/** A heap-backed Float32Array of `n` values in [-2, 2) (a fixed LCG); its block is recorded for freeing. */
function heapArray(n: number, seed: number, blocks: [number, number][]): Float32Array {
  const bytes = Math.max(4, n * 4);
  const at = heapAlloc(bytes);
  if (at < 0) throw new Error("elementwise-wasm bench: no WebAssembly heap on this engine");
  blocks.push([at, bytes]);
  const x = new Float32Array(heapBuffer(), at, n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 1073741824 - 2;
  }
  return x;
}

/**
 * Times the JavaScript and wasm kernels of each program at each size (all inputs full, same
 * shape) and returns the median ns per call. Throws when the engine has no WebAssembly SIMD or
 * shared memory.
 */
export function measureElementwiseWasm(options: ElementwiseBenchOptions = {}): ElementwiseTiming[] {
  const minSeconds = options.minSeconds ?? 0.1;
  const results: ElementwiseTiming[] = [];
  for (const p of PROGRAMS) {
    const { prelude, expr } = programSource({ ops: p.ops });
    const js: ElementwiseKernel = compileElementwise(`bench:${p.name}`, p.arity, expr, prelude);
    const wasm: WasmElementwiseKernel | null = compileWasmElementwise(`bench:${p.name}`, p.arity, p.ops);
    if (!wasm) throw new Error("elementwise-wasm bench: this engine cannot run wasm elementwise kernels");
    for (const size of options.sizes ?? DEFAULT_SIZES) {
      const blocks: [number, number][] = [];
      try {
        const shape = [size];
        const inputs = Array.from({ length: p.arity }, (_, i) => heapArray(size, 17 + i, blocks));
        const shapes = inputs.map(() => shape);
        const out = heapArray(size, 3, blocks);
        const jsNs = medianSecondsPerCall(() => js(out, shape, inputs, shapes), minSeconds, ELEMENTWISE_SAMPLING) * 1e9;
        const wasmNs = medianSecondsPerCall(() => {
          if (!wasm(out, shape, inputs, shapes)) throw new Error("elementwise-wasm bench: the wasm kernel declined");
        }, minSeconds, ELEMENTWISE_SAMPLING) * 1e9;
        results.push({ program: p.name, size, jsNs, wasmNs });
      } finally {
        for (const [at, bytes] of blocks) heapFree(at, bytes);
      }
    }
  }
  return results;
}

/**
 * Per program, the smallest measured size from which wasm is faster at that size and every
 * larger one measured; undefined when it never is.
 */
export function crossovers(results: readonly ElementwiseTiming[]): Map<string, number | undefined> {
  const out = new Map<string, number | undefined>();
  for (const program of new Set(results.map((r) => r.program))) {
    const rows = results.filter((r) => r.program === program).sort((a, b) => a.size - b.size);
    let from: number | undefined;
    for (let i = rows.length - 1; i >= 0 && rows[i].wasmNs < rows[i].jsNs; i--) from = rows[i].size;
    out.set(program, from);
  }
  return out;
}

/** The results as a printed table plus one crossover line per program. */
export function formatElementwiseWasm(results: readonly ElementwiseTiming[]): string {
  const head = `${"program".padEnd(22)}${"size".padStart(8)}${"js ns".padStart(12)}${"wasm ns".padStart(12)}${"js/wasm".padStart(9)}`;
  const lines = results.map(
    (r) =>
      `${r.program.padEnd(22)}${String(r.size).padStart(8)}${r.jsNs.toFixed(0).padStart(12)}${r.wasmNs.toFixed(0).padStart(12)}${(r.jsNs / r.wasmNs).toFixed(2).padStart(9)}`,
  );
  const cross = [...crossovers(results)].map(([p, n]) => `crossover ${p}: ${n === undefined ? "wasm never faster" : `wasm faster from n = ${n}`}`);
  return [head, ...lines, "", ...cross].join("\n");
}

// Print the table when run as a script (not when imported).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatElementwiseWasm(measureElementwiseWasm()));
}
