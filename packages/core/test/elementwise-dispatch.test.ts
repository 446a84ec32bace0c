import { describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { execute, releaseValue, valueFrom } from "../src/execute.js";
import { getBackend, setBackend, wasmAvailable } from "../src/kernels/backend.js";
import { WASM_ELEMENTWISE_MIN_SIZE } from "../src/kernels/elementwise-dispatch.js";
import { ops } from "../src/ops/index.js";

/** Runs one op's fast kernel into a fresh Float32Array, with inputs given as plain (non-heap) arrays. */
function runPlain(prim: "tanh" | "add", inputs: Float32Array[], shape: number[]): Float32Array {
  const out = new Float32Array(inputs[0].length);
  ops[prim].kernel(inputs.map((data) => ({ shape, dtype: "float32" as const, data })), { shape, dtype: "float32", data: out }, {});
  return out;
}

describe.runIf(wasmAvailable())("elementwise dispatch between generated wasm and JS", () => {
  const rand = mulberry32(3);
  const sample = (n: number) => Float32Array.from({ length: n }, () => rand() * 6 - 3);

  it("gives the same bits whether the tensors are in the wasm heap or not", () => {
    for (const n of [WASM_ELEMENTWISE_MIN_SIZE, 100, 1027]) {
      const x = sample(n);
      const heap = valueFrom("float32", [n], x); // allocator: in the heap
      const y = execute("tanh", [heap], {});
      expect(Array.from(runPlain("tanh", [x], [n]))).toEqual(Array.from(y.data));
      releaseValue(heap);
      releaseValue(y);
    }
  });

  it("runs tanh through the SIMD approximation from the threshold up (within 1 ulp of Math.tanh), and Math.tanh below it", () => {
    const x = sample(4096);
    const big = runPlain("tanh", [x], [x.length]);
    let differ = 0;
    for (let i = 0; i < x.length; i++) {
      const exact = Math.fround(Math.tanh(x[i]));
      if (big[i] !== exact) differ++;
      expect(Math.abs(big[i] - exact)).toBeLessThanOrEqual(2 ** -23 * Math.max(Math.abs(exact), 2 ** -126));
    }
    expect(differ).toBeGreaterThan(0); // really the approximation, not Math.tanh
    const small = x.subarray(0, WASM_ELEMENTWISE_MIN_SIZE - 1).slice();
    expect(Array.from(runPlain("tanh", [small], [small.length]))).toEqual(Array.from(small, (v) => Math.fround(Math.tanh(v))));
  });

  it("runs only JavaScript on the js backend (bitwise Math.tanh at every size)", () => {
    const saved = getBackend();
    try {
      setBackend("js");
      const x = sample(2048);
      expect(Array.from(runPlain("tanh", [x], [x.length]))).toEqual(Array.from(x, (v) => Math.fround(Math.tanh(v))));
    } finally {
      setBackend(saved);
    }
  });

  it("falls back to JavaScript for layouts the wasm kernel does not take, with the same arithmetic bits", () => {
    // [4,1,8] + [1,5,1]: a mixed broadcast (neither full, row, column nor scalar).
    const a = sample(32), b = sample(5);
    const out = new Float32Array(160);
    ops.add.kernel([{ shape: [4, 1, 8], dtype: "float32", data: a }, { shape: [1, 5, 1], dtype: "float32", data: b }], { shape: [4, 5, 8], dtype: "float32", data: out }, {});
    for (let i = 0; i < 4; i++) for (let j = 0; j < 5; j++) for (let k = 0; k < 8; k++) {
      expect(out[i * 40 + j * 8 + k]).toBe(Math.fround(a[i * 8 + k] + b[j]));
    }
  });
});
