import { describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { gemmReference } from "../src/kernels/gemm.js";
import { gemmWasm } from "../src/kernels/wasm/gemm-wasm.js";
import { setGemvParallelThreshold } from "../src/kernels/wasm/gemv-wasm.js";
import { workerStats } from "../src/kernels/wasm/threads.js";
import { heapByteOffset } from "../src/kernels/wasm/heap.js";
import { allocator, type DataBuffer } from "../src/memory.js";
import { getThreads, setThreads, wasmAvailable, warmUpThreads } from "../src/kernels/backend.js";

const FLAGS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

/** Float32 tensors from the allocator (so in the wasm heap), released by `done`. */
function heapArrays() {
  const held: DataBuffer[] = [];
  return {
    random(size: number, rand: () => number): Float32Array {
      const b = allocator.alloc("float32", size);
      held.push(b);
      for (let i = 0; i < size; i++) b.data[i] = rand() * 2 - 1;
      return b.data as Float32Array;
    },
    done: () => held.forEach((b) => allocator.release(b)),
  };
}

/** The documented dotRows order: four lane sums over p = lane mod 4, (l0 + l1) + (l2 + l3), then the tail in order. */
function dotInOrder(row: ArrayLike<number>, v: ArrayLike<number>, k: number): number {
  const f = Math.fround;
  const lanes = [0, 0, 0, 0];
  const k4 = k - (k % 4);
  for (let p = 0; p < k4; p++) lanes[p % 4] = f(lanes[p % 4] + f(row[p] * v[p]));
  let s = f(f(lanes[0] + lanes[1]) + f(lanes[2] + lanes[3]));
  for (let p = k4; p < k; p++) s = f(s + f(row[p] * v[p]));
  return s;
}

/** The documented axpyRows order: increasing p, one rounding per multiply and per add. */
function axpyInOrder(v: ArrayLike<number>, col: (p: number) => number, k: number): number {
  let s = 0;
  for (let p = 0; p < k; p++) s = Math.fround(s + Math.fround(v[p] * col(p)));
  return s;
}

describe.runIf(wasmAvailable())("wasm matrix-vector products on heap tensors", () => {
  it("allocator buffers live in the wasm heap", () => {
    const b = allocator.alloc("float32", 10);
    expect(heapByteOffset(b.data)).toBeGreaterThan(0);
    expect(heapByteOffset(new Float32Array(10))).toBe(-1);
    allocator.release(b);
  });

  const sizes = [1, 3, 4, 5, 17, 33, 255, 257];
  for (const [transA, transB] of FLAGS) {
    it(`m = 1 and n = 1, transA=${transA} transB=${transB}: the documented summation order, bit for bit`, () => {
      const rand = mulberry32(7);
      const h = heapArrays();
      try {
        for (const rows of sizes) {
          for (const k of [1, 2, 3, 4, 7, 8, 64, 255, 256, 257]) {
            for (const vectorIs of ["m", "n"] as const) {
              const [m, n] = vectorIs === "m" ? [1, rows] : [rows, 1];
              const a = h.random(m * k + 2, rand), b = h.random(k * n + 3, rand), c = h.random(m * n + 1, rand);
              const aOff = 2, bOff = 3, cOff = 1;
              const last = c[0];
              gemmWasm(m, n, k, a, aOff, transA, b, bOff, transB, c, cOff);
              expect(c[0]).toBe(last); // nothing written before C
              // op(A)[i,p] and op(B)[p,j] read through the flags.
              const A = (i: number, p: number) => a[aOff + (transA ? p * m + i : i * k + p)];
              const B = (p: number, j: number) => b[bOff + (transB ? j * k + p : p * n + j)];
              const want = new Float64Array(m * n);
              gemmReference(m, n, k, Float64Array.from(a), aOff, transA, Float64Array.from(b), bOff, transB, want, 0);
              for (let i = 0; i < m; i++) {
                for (let j = 0; j < n; j++) {
                  const got = c[cOff + i * n + j];
                  // Which loop runs follows from where the matrix's rows are contiguous.
                  const dots = (n === 1 && !transA) || (m === 1 && transB);
                  const row = Array.from({ length: k }, (_, p) => (n === 1 ? A(i, p) : B(p, j)));
                  const vec = Array.from({ length: k }, (_, p) => (n === 1 ? B(p, 0) : A(0, p)));
                  const expected = dots ? dotInOrder(row, vec, k) : axpyInOrder(vec, (p) => row[p], k);
                  expect(got).toBe(expected);
                  expect(Math.abs(got - want[i * n + j])).toBeLessThanOrEqual(k * 2 ** -22 * (k + 1));
                }
              }
            }
          }
        }
      } finally {
        h.done();
      }
    });
  }

  it("gemmWasm takes the matrix-vector path for heap tensors and agrees with the staged path within float32 rounding", () => {
    const rand = mulberry32(11);
    const h = heapArrays();
    try {
      const [m, k] = [1024, 256];
      const x = h.random(m * k, rand), w = h.random(k, rand), y = h.random(m, rand);
      gemmWasm(m, 1, k, x, 0, false, w, 0, true, y, 0);
      const staged = new Float32Array(m);
      gemmWasm(m, 1, k, Float32Array.from(x), 0, false, Float32Array.from(w), 0, true, staged, 0);
      for (let i = 0; i < m; i++) {
        expect(y[i]).toBe(dotInOrder(x.subarray(i * k, i * k + k), w, k));
        expect(Math.abs(y[i] - staged[i])).toBeLessThan(1e-4);
      }
      // The weight gradient's shape: [1,m] @ [m,k] with A flagged transposed (stored [m,1]).
      const g = h.random(k, rand);
      gemmWasm(1, k, m, y, 0, true, x, 0, false, g, 0);
      for (let j = 0; j < k; j += 17) expect(g[j]).toBe(axpyInOrder(y, (p) => x[p * k + j], m));
    } finally {
      h.done();
    }
  });

  it("shares big products with worker threads, bit for bit as on one thread", async () => {
    const saved = getThreads();
    const rand = mulberry32(13);
    const h = heapArrays();
    try {
      setGemvParallelThreshold(0);
      const cases: [number, number, number, boolean, boolean][] = [
        [1030, 1, 257, false, true], // dotRows by rows (not a multiple of 4 per share)
        [1, 1030, 259, false, true], // dotRows over B's rows
        [1, 1001, 300, true, false], // axpyRows by columns (not a multiple of 32)
        [999, 1, 64, true, false], // axpyRows over A stored [k,m]
      ];
      const inputs = cases.map(([m, n, k]) => [h.random(m * k, rand), h.random(k * n, rand), h.random(m * n, rand), h.random(m * n, rand)] as const);
      setThreads(1);
      cases.forEach(([m, n, k, tA, tB], i) => gemmWasm(m, n, k, inputs[i][0], 0, tA, inputs[i][1], 0, tB, inputs[i][2], 0));
      setThreads(2);
      await warmUpThreads();
      const before = workerStats().workerChunks;
      // The caller may win every share on a loaded machine: repeat until a worker has taken one.
      for (let r = 0; r < 200 && (r === 0 || workerStats().workerChunks === before); r++) {
        cases.forEach(([m, n, k, tA, tB], i) => {
          gemmWasm(m, n, k, inputs[i][0], 0, tA, inputs[i][1], 0, tB, inputs[i][3], 0);
          expect(Array.from(inputs[i][3])).toEqual(Array.from(inputs[i][2]));
        });
      }
      expect(workerStats().workerChunks).toBeGreaterThan(before);
    } finally {
      setGemvParallelThreshold(1 << 18);
      setThreads(saved);
      h.done();
    }
  });

  it("gives the same bits whether or not the operands are in the heap (the path follows the shape alone)", () => {
    const rand = mulberry32(17);
    const h = heapArrays();
    try {
      for (const [m, n, k, tA, tB] of [[5, 1, 7, false, false], [1, 9, 33, true, true], [1, 40, 6, false, false], [37, 1, 3, true, false]] as const) {
        const a = h.random(m * k, rand), b = h.random(k * n, rand), c = h.random(m * n, rand);
        gemmWasm(m, n, k, a, 0, tA, b, 0, tB, c, 0);
        const plain = new Float32Array(m * n);
        gemmWasm(m, n, k, Float32Array.from(a), 0, tA, Float32Array.from(b), 0, tB, plain, 0);
        expect(Array.from(plain)).toEqual(Array.from(c));
      }
    } finally {
      h.done();
    }
  });
});
