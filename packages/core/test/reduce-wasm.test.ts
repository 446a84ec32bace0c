import { describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { execute, releaseValue, valueFrom } from "../src/execute.js";
import { getBackend, setBackend, wasmAvailable } from "../src/kernels/backend.js";
import { columnSumsWasm } from "../src/kernels/wasm/reduce-wasm.js";

/** Sum or mean over `axes` of a float32 tensor on one backend, as plain numbers. */
function reduceOn(backend: "js" | "wasm", prim: "sum" | "mean", shape: number[], data: Float32Array, axes: number[]): number[] {
  const saved = getBackend();
  setBackend(backend);
  try {
    const x = valueFrom("float32", shape, data);
    const y = execute(prim, [x], { axes, keepdims: false });
    const out = Array.from(y.data);
    releaseValue(x);
    releaseValue(y);
    return out;
  } finally {
    setBackend(saved);
  }
}

describe.runIf(wasmAvailable())("wasm column sums", () => {
  it("give the JavaScript reducer's bits (float64 sums in row order, rounded once) for sums and means", () => {
    const rand = mulberry32(21);
    for (const shape of [[32, 64], [128, 256], [257, 255], [7, 13], [300, 3], [2, 5, 9], [1, 17], [17, 1], [3, 4, 1]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      // Magnitudes spread over many binades, so a different order or rounding would show.
      const data = Float32Array.from({ length: n }, () => (rand() - 0.5) * 2 ** Math.floor(rand() * 40 - 20));
      for (const prim of ["sum", "mean"] as const) {
        for (let lead = 1; lead < shape.length; lead++) {
          const axes = Array.from({ length: lead }, (_, i) => i);
          expect(reduceOn("wasm", prim, shape, data, axes), `${prim} ${shape} ${axes}`).toEqual(reduceOn("js", prim, shape, data, axes));
        }
      }
    }
  });

  it("keep NaN and infinities as the JavaScript reducer does", () => {
    const data = Float32Array.from({ length: 64 }, (_, i) => i);
    data[3] = NaN;
    data[8 + 5] = Infinity;
    data[16 + 6] = -Infinity;
    data[24 + 6] = Infinity; // +Inf + -Inf in column 6: NaN
    expect(reduceOn("wasm", "sum", [8, 8], data, [0])).toEqual(reduceOn("js", "sum", [8, 8], data, [0]));
  });

  it("run on heap tensors and decline arrays outside the heap", () => {
    const x = valueFrom("float32", [4, 8], Float32Array.from({ length: 32 }, (_, i) => i));
    const out = valueFrom("float32", [8], new Float32Array(8));
    expect(columnSumsWasm(x.data as Float32Array, 4, 8, out.data as Float32Array, 2)).toBe(true);
    expect(Array.from(out.data)).toEqual([24, 26, 28, 30, 32, 34, 36, 38]); // (j + (8+j) + (16+j) + (24+j)) / 2
    releaseValue(x);
    releaseValue(out);
    expect(columnSumsWasm(new Float32Array(32), 4, 8, new Float32Array(8), 1)).toBe(false);
  });
});
