import { afterAll, describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { execute, releaseValue, valueFrom, type Value } from "../src/execute.js";
import { getBackend, setBackend, wasmAvailable } from "../src/kernels/backend.js";
import { poolGeometry } from "../src/kernels/pool.js";
import { maxPool2x2GradWasm, maxPool2x2Wasm } from "../src/kernels/wasm/pool-wasm.js";

const POOL = { kernel: [2, 2], stride: [2, 2], padding: [0, 0] };
const saved = getBackend();
afterAll(() => setBackend(saved));

/**
 * Float32 data with many ties (values on a grid of eighths, so windows often hold equal maxima),
 * signed zeros, and optionally NaN and infinities: the cases where "first maximum" matters.
 */
function tricky(n: number, seed: number, special: boolean): Float32Array {
  const rand = mulberry32(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rand();
    a[i] = r < 0.1 ? 0 : r < 0.2 ? -0 : Math.round((rand() * 2 - 1) * 8) / 8;
    if (special && rand() < 0.03) a[i] = [NaN, Infinity, -Infinity][Math.floor(rand() * 3)];
  }
  return a;
}

/** Runs `prim` on the given backend; the values live in the heap (the allocator's blocks). */
function run(backend: "js" | "wasm", prim: "max_pool2d" | "max_pool2d_grad", inputs: Value[]): number[] {
  setBackend(backend);
  const out = execute(prim, inputs, POOL);
  const bits = Array.from(out.data);
  releaseValue(out);
  return bits;
}

describe.skipIf(!wasmAvailable())("2x2 stride-2 max pooling: SIMD kernels give the JS kernels' bits", () => {
  // Output widths 1..8 cover every partial-vector width; odd H and W leave rows and columns no window covers.
  const SHAPES = [[2, 3, 4, 2], [1, 2, 6, 4], [2, 1, 5, 7], [1, 2, 4, 8], [3, 2, 8, 10], [2, 2, 7, 13], [1, 1, 6, 14], [2, 4, 28, 28], [1, 3, 9, 16]];
  SHAPES.forEach((shape, si) => {
    for (const special of [false, true]) {
      it(`[${shape}]${special ? " with NaN and infinities" : ""}`, () => {
        const g = poolGeometry(shape, POOL);
        const x = valueFrom("float32", shape, tricky(shape.reduce((a, b) => a * b, 1), si * 2 + (special ? 1 : 0), special));
        const gy = valueFrom("float32", [shape[0], shape[1], g.OH, g.OW], tricky(g.BC * g.OH * g.OW, 50 + si, special));
        // Object.is-equality (toEqual): -0 and +0 differ, NaN equals NaN.
        expect(run("wasm", "max_pool2d", [x])).toEqual(run("js", "max_pool2d", [x]));
        expect(run("wasm", "max_pool2d_grad", [x, gy])).toEqual(run("js", "max_pool2d_grad", [x, gy]));
        releaseValue(x);
        releaseValue(gy);
      });
    }
  });

  it("the SIMD kernels run (and decline what they do not cover)", () => {
    const shape = [1, 1, 4, 4];
    const x = valueFrom("float32", shape, tricky(16, 1, false));
    const out = valueFrom("float32", [1, 1, 2, 2], new Float32Array(4).fill(NaN));
    expect(maxPool2x2Wasm(x.data as Float32Array, out.data as Float32Array, poolGeometry(shape, POOL))).toBe(true);
    expect(Array.from(out.data).some(Number.isNaN)).toBe(false);
    const dx = valueFrom("float32", shape, new Float32Array(16));
    expect(maxPool2x2GradWasm(x.data as Float32Array, out.data as Float32Array, dx.data as Float32Array, poolGeometry(shape, POOL))).toBe(true);
    // Not 2x2 / stride 2 / unpadded, or not in the heap: declined.
    expect(maxPool2x2Wasm(x.data as Float32Array, out.data as Float32Array, poolGeometry(shape, { ...POOL, stride: [1, 1] }))).toBe(false);
    expect(maxPool2x2Wasm(new Float32Array(16), new Float32Array(4), poolGeometry(shape, POOL))).toBe(false);
    [x, out, dx].forEach(releaseValue);
  });
});
