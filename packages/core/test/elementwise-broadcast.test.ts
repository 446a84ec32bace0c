import { afterEach, describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { execute, releaseValue, valueFrom } from "../src/execute.js";
import { getBackend, setBackend, wasmAvailable } from "../src/kernels/backend.js";
import { referenceElementwise } from "../src/kernels/elementwise.js";
import { ops } from "../src/ops/index.js";
import type { DType } from "../src/dtype.js";

/**
 * Broadcast layouts through the ops' kernels (the ones eager and graph both call): per-channel,
 * per-row, scalar, mixed and size-1 dims, float32 and float64, on each backend, with heap and
 * plain arrays, give the reference kernel's bits. The wasm kernel runs the per-channel and mixed
 * layouts blocked (./elementwise-wasm.test.ts checks it against the JavaScript kernel directly).
 */

const LAYOUTS: [number[], number[], number[]][] = [
  [[6, 5, 7, 9], [5, 1, 1], [6, 5, 7, 9]], // per-channel bias, odd H*W
  [[4, 16, 6, 6], [16, 1, 1], [4, 16, 6, 6]], // per-channel, H*W divisible by 4
  [[33, 17], [17], [33, 17]], // per-row bias
  [[9, 8, 13], [], [9, 8, 13]], // scalar
  [[4, 1, 17], [1, 5, 1], [4, 5, 17]], // mixed: neither input full
  [[2, 5, 1, 33], [5, 1, 1], [2, 5, 1, 33]], // a size-1 dim
  [[2, 3, 2, 5, 13], [3, 1, 5, 1], [2, 3, 2, 5, 13]], // three dims walked
];
const FNS = { add: (a: number, b: number) => a + b, sub: (a: number, b: number) => a - b, mul: (a: number, b: number) => a * b, div: (a: number, b: number) => a / b };
const saved = getBackend();
afterEach(() => setBackend(saved));

const backends = wasmAvailable() ? (["wasm", "js"] as const) : (["js"] as const);
const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

describe("broadcast elementwise through the ops' kernels", () => {
  for (const backend of backends) {
    for (const dtype of ["float32", "float64"] as DType[]) {
      it(`give the reference bits on ${backend}, ${dtype}, heap and plain arrays`, () => {
        setBackend(backend);
        const rand = mulberry32(backend.length * 10 + dtype.length);
        const Arr = dtype === "float32" ? Float32Array : Float64Array;
        for (const [xs, bs, os] of LAYOUTS) {
          for (const [prim, fn] of Object.entries(FNS) as [keyof typeof FNS, (a: number, b: number) => number][]) {
            for (const swap of [false, true]) {
              const shapes = swap ? [bs, xs] : [xs, bs];
              const data = shapes.map((s) => new Arr(size(s)).map(() => (rand() * 2 - 1) * 10 ** Math.floor(rand() * 4 - 2)));
              const want = new Arr(size(os));
              referenceElementwise(want, os, data, shapes, dtype === "float32" ? (a, b) => Math.fround(fn(a, b)) : fn);
              const label = `${prim} [${shapes[0]}] [${shapes[1]}] ${backend} ${dtype}`;
              // Plain arrays.
              const plain = new Arr(size(os));
              ops[prim].kernel(shapes.map((shape, i) => ({ shape, dtype, data: data[i] })), { shape: os, dtype, data: plain }, {});
              expect(Array.from(plain), label).toEqual(Array.from(want));
              // Heap tensors (the allocator's), as eager and graph hold them.
              const vs = shapes.map((s, i) => valueFrom(dtype, s, data[i]));
              const y = execute(prim, vs, {});
              expect(y.shape, label).toEqual(os);
              expect(Array.from(y.data), label).toEqual(Array.from(want));
              vs.forEach(releaseValue);
              releaseValue(y);
            }
          }
        }
      });
    }
  }
});
