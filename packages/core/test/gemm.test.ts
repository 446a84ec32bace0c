import { describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { gemm, gemmReference } from "../src/kernels/gemm.js";

type FloatArray = Float32Array | Float64Array;
type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

const prng = mulberry32;

/**
 * Values with mixed signs and magnitudes spread over ~2^±8, so that summing in a different
 * order would almost surely change the rounded result: bitwise equality then really checks
 * that the fast kernel keeps the reference's accumulation order.
 */
function randomArray(ctor: Ctor, size: number, rand: () => number): FloatArray {
  const x = new ctor(size);
  for (let i = 0; i < size; i++) x[i] = (rand() * 2 - 1) * 2 ** Math.floor(rand() * 16 - 8);
  return x;
}

const SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 17, 31, 33, 64, 65, 127, 129];
const FLAGS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];
const DTYPES: [string, Ctor][] = [["float32", Float32Array], ["float64", Float64Array]];

/** Runs both kernels on the same inputs (with offsets and garbage-filled C) and returns both outputs. */
function runBoth(ctor: Ctor, m: number, n: number, k: number, transA: boolean, transB: boolean, seed: number): [FloatArray, FloatArray] {
  const rand = prng(seed);
  const aOff = 1 + Math.floor(rand() * 5);
  const bOff = Math.floor(rand() * 5);
  const cOff = 2 + Math.floor(rand() * 5);
  const a = randomArray(ctor, aOff + m * k + 3, rand);
  const b = randomArray(ctor, bOff + k * n + 2, rand);
  // C starts as garbage (same in both), so a missed store shows, as does a store outside C.
  const c1 = randomArray(ctor, cOff + m * n + 4, rand);
  const c2 = c1.slice();
  gemm(m, n, k, a, aOff, transA, b, bOff, transB, c1, cOff);
  gemmReference(m, n, k, a, aOff, transA, b, bOff, transB, c2, cOff);
  return [c1, c2];
}

describe("gemmReference", () => {
  // [[1,2,3],[4,5,6]] @ [[7,8],[9,10],[11,12]] = [[58,64],[139,154]], worked by hand.
  const A = [1, 2, 3, 4, 5, 6];
  const At = [1, 4, 2, 5, 3, 6]; // A^T stored [3,2]
  const B = [7, 8, 9, 10, 11, 12];
  const Bt = [7, 9, 11, 8, 10, 12]; // B^T stored [2,3]
  const expected = [58, 64, 139, 154];
  for (const [name, ctor] of DTYPES) {
    it(`2x3 @ 3x2 worked example, ${name}, every transpose combination`, () => {
      for (const [transA, transB] of FLAGS) {
        const c = new ctor(4).fill(-1);
        gemmReference(2, 2, 3, ctor.from(transA ? At : A), 0, transA, ctor.from(transB ? Bt : B), 0, transB, c, 0);
        expect(Array.from(c)).toEqual(expected);
        const c2 = new ctor(4).fill(-1);
        gemm(2, 2, 3, ctor.from(transA ? At : A), 0, transA, ctor.from(transB ? Bt : B), 0, transB, c2, 0);
        expect(Array.from(c2)).toEqual(expected);
      }
    });
  }
  it("respects offsets", () => {
    const a = Float64Array.from([99, 99, ...A]);
    const b = Float64Array.from([99, ...B, 99]);
    const c = new Float64Array(7).fill(-1);
    gemmReference(2, 2, 3, a, 2, false, b, 1, false, c, 3);
    expect(Array.from(c)).toEqual([-1, -1, -1, ...expected]);
  });
});

describe("gemm is bitwise identical to gemmReference", () => {
  // All 15^3 shape triples x 4 flag pairs x 2 dtypes is too slow for a unit test; take every
  // triple with a 0 or 1 in it from a small set plus a fixed pseudo-random sample of the rest.
  const rand = prng(12345);
  const shapes: [number, number, number][] = [];
  for (const m of [0, 1, 5]) for (const n of [0, 1, 8]) for (const k of [0, 1, 3]) shapes.push([m, n, k]);
  for (let t = 0; t < 60; t++) {
    const pick = (): number => SIZES[Math.floor(rand() * SIZES.length)];
    shapes.push([pick(), pick(), pick()]);
  }
  // Exact tile multiples, remainders of every size, and the largest listed shape.
  shapes.push([4, 8, 4], [8, 16, 9], [5, 9, 2], [6, 10, 1], [7, 15, 13], [129, 129, 129]);

  for (const [name, ctor] of DTYPES) {
    for (const [transA, transB] of FLAGS) {
      it(`${name} transA=${transA} transB=${transB} over ${shapes.length} shapes`, () => {
        shapes.forEach(([m, n, k], idx) => {
          const [c1, c2] = runBoth(ctor, m, n, k, transA, transB, idx * 7919 + 1);
          expect(Array.from(c1), `m=${m} n=${n} k=${k}`).toEqual(Array.from(c2));
        });
      });
    }
  }

  it("across cache-block boundaries (several row and column blocks, long k)", () => {
    // k = 784 gives 32-row A blocks and 128-column B blocks; k = 5000 shrinks blocks to one panel.
    const cases: [number, number, number][] = [[70, 300, 784], [9, 19, 5000], [128, 256, 784]];
    for (const [name, ctor] of DTYPES) {
      for (const [transA, transB] of FLAGS) {
        for (const [m, n, k] of cases) {
          const [c1, c2] = runBoth(ctor, m, n, k, transA, transB, m * 31 + n);
          expect(Array.from(c1), `${name} m=${m} n=${n} k=${k} tA=${transA} tB=${transB}`).toEqual(Array.from(c2));
        }
      }
    }
  });

  it("special values propagate the same way (NaN, Infinity, -0, denormals)", () => {
    const specials = [NaN, Infinity, -Infinity, -0, 0, 5e-324, 1e-40, 3.4e38, -1];
    for (const [, ctor] of DTYPES) {
      const m = 5, n = 9, k = 6;
      const a = new ctor(m * k);
      const b = new ctor(k * n);
      for (let i = 0; i < a.length; i++) a[i] = specials[(i * 5) % specials.length];
      for (let i = 0; i < b.length; i++) b[i] = specials[(i * 7 + 3) % specials.length];
      const c1 = new ctor(m * n);
      const c2 = new ctor(m * n);
      gemm(m, n, k, a, 0, false, b, 0, false, c1, 0);
      gemmReference(m, n, k, a, 0, false, b, 0, false, c2, 0);
      expect(Array.from(c1)).toEqual(Array.from(c2));
    }
  });

  it("k = 0 writes zeros to C and nothing else", () => {
    const c = new Float32Array(10).fill(7);
    gemm(2, 3, 0, new Float32Array(0), 0, false, new Float32Array(0), 0, false, c, 2);
    expect(Array.from(c)).toEqual([7, 7, 0, 0, 0, 0, 0, 0, 7, 7]);
  });

  it("rejects a matrix that overruns its buffer or a bad size", () => {
    const a = new Float32Array(6);
    const c = new Float32Array(4);
    expect(() => gemm(2, 2, 3, a, 1, false, new Float32Array(6), 0, false, c, 0)).toThrow(RangeError);
    expect(() => gemmReference(2, 2, 3, a, 0, false, new Float32Array(5), 0, false, c, 0)).toThrow(/B \[3x2\]/);
    expect(() => gemm(-1, 2, 3, a, 0, false, a, 0, false, c, 0)).toThrow(/m must be a non-negative integer/);
  });
});
