import { describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { reduceInto, referenceReduceInto, type Combine } from "../src/kernels/reduce.js";

/**
 * The reducers' loops (an odometer over merged dims, a local running value when the last dim
 * is reduced) must accumulate every output in the input's row-major order, as the
 * reference does one element at a time: same bits, for every kind and layout. Values span many
 * magnitudes so that any change of order shows in the float64 sums.
 */

const CASES: [number[], number[]][] = [
  [[6, 8, 5, 7], [0, 2, 3]], // bias gradient: 8 channels, groups of 4
  [[3, 7, 3, 3], [0, 2, 3]], // 7 channels: one group and a tail of 3
  [[5, 3, 11], [0, 2]], // fewer channels than a group
  [[4, 6, 1, 9], [0, 2, 3]], // a size-1 dim
  [[2, 3, 4, 5], [1, 3]], // interleaved kept and reduced dims
  [[9, 13], [1]], // row sums
  [[9, 13], [0]], // column sums
  [[2, 5, 3, 7], [3]], // last axis only
  [[17], [0]], // everything
  [[2, 3, 4], [0, 1, 2]],
  [[6, 5, 4], [0]],
];

function values(n: number, rand: () => number, Arr: Float32ArrayConstructor | Float64ArrayConstructor): Float32Array | Float64Array {
  const out = new Arr(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * 10 ** Math.floor(rand() * 16 - 8);
  return out;
}

describe("reduceInto accumulates in the reference's order", () => {
  for (const kind of ["sum", "max", "sumExpShifted"] as Combine[]) {
    for (const Arr of [Float32Array, Float64Array]) {
      it(`${kind}, ${Arr.name}: bitwise equal to the reference`, () => {
        const rand = mulberry32(kind.length * 3 + Arr.BYTES_PER_ELEMENT);
        for (const [shape, axes] of CASES) {
          const x = values(shape.reduce((a, b) => a * b, 1), rand, Arr);
          const outSize = shape.reduce((a, d, i) => (axes.includes(i) ? a : a * d), 1);
          const init = kind === "max" ? -Infinity : 0;
          const shift = kind === "sumExpShifted" ? Float64Array.from({ length: outSize }, () => rand() * 4 - 2) : null;
          // Small magnitudes for exp, which would overflow on the rest.
          if (kind === "sumExpShifted") for (let i = 0; i < x.length; i++) x[i] = Math.fround(Math.sign(x[i]) * Math.min(Math.abs(x[i]), 50) * rand());
          const got = new Float64Array(outSize).fill(init), want = new Float64Array(outSize).fill(init);
          reduceInto(kind, x, shape, axes, got, shift);
          referenceReduceInto(kind, x, shape, axes, want, shift);
          for (let q = 0; q < outSize; q++) expect(Object.is(got[q], want[q]), `[${shape}] over ${axes} at ${q}: ${got[q]} vs ${want[q]}`).toBe(true);
        }
      });
    }
  }
});
