import { describe, expect, it } from "vitest";
// Imported from the modules themselves (not the package index) so this suite depends only on the
// RNG and the error class.
import { DualgradError } from "../src/errors.js";
import { fillLinearInit, linearInitBound, normalInit, uniformInit } from "../src/random/init.js";
import { PhiloxGenerator, defaultGenerator, manualSeed, philox4x32, philox4x32Into } from "../src/random/philox.js";

/** Random123 kat_vectors, philox4x32 10 (counter words, key words, expected output). */
const KAT: [[number, number, number, number], [number, number], [number, number, number, number]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

/** Philox4x32-10 in BigInt arithmetic, written straight from the paper, as an independent oracle. */
function philoxBig(ctr: readonly number[], key: readonly number[]): number[] {
  const mask = 0xffffffffn;
  let x = ctr.map(BigInt);
  let k = key.map(BigInt);
  for (let r = 0; r < 10; r++) {
    if (r > 0) k = [(k[0] + 0x9e3779b9n) & mask, (k[1] + 0xbb67ae85n) & mask];
    const p0 = 0xd2511f53n * x[0];
    const p1 = 0xcd9e8d57n * x[2];
    x = [(p1 >> 32n) ^ x[1] ^ k[0], p1 & mask, (p0 >> 32n) ^ x[3] ^ k[1], p0 & mask];
  }
  return x.map(Number);
}

/** How many elements satisfy `pred` (one expect per array keeps 100k-element checks fast). */
function countWhere(a: ArrayLike<number>, pred: (v: number) => boolean): number {
  let c = 0;
  for (let i = 0; i < a.length; i++) if (pred(a[i])) c++;
  return c;
}

function moments(a: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  const mean = s / a.length;
  let v = 0;
  for (let i = 0; i < a.length; i++) v += (a[i] - mean) ** 2;
  return { mean, variance: v / a.length };
}

describe("philox4x32", () => {
  it("matches Random123 known-answer vectors", () => {
    for (const [ctr, key, expected] of KAT) {
      expect(philox4x32(ctr, key)).toEqual(expected);
      const out = new Uint32Array(6);
      philox4x32Into(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1], out, 2);
      expect(Array.from(out.subarray(2))).toEqual(expected);
      expect(out[0]).toBe(0);
    }
  });

  it("agrees with a BigInt reference on many pseudo-random inputs (exercises the exact high-word multiply)", () => {
    const words = new PhiloxGenerator(12345).randint(6 * 500, -2147483648, 2147483648);
    for (let i = 0; i < words.length; i += 6) {
      const w = Array.from(words.subarray(i, i + 6), (x) => x >>> 0);
      const ctr = [w[0], w[1], w[2], w[3]] as const;
      const key = [w[4], w[5]] as const;
      expect(philox4x32(ctr, key)).toEqual(philoxBig(ctr, key));
    }
  });
});

describe("PhiloxGenerator determinism and state", () => {
  it("same seed gives the same numbers; different seeds differ", () => {
    const a = new PhiloxGenerator(42).uniform(1000);
    const b = new PhiloxGenerator(42).uniform(1000);
    const c = new PhiloxGenerator(43).uniform(1000);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    // The high key word matters too.
    const d = new PhiloxGenerator(42n + (1n << 32n)).uniform(1000);
    expect(Array.from(a)).not.toEqual(Array.from(d));
  });

  it("the stream is a pure function of (seed, offset): raw words are Philox blocks of [offset, 0, 0, 0]", () => {
    const seed = 0x0123456789abcdefn;
    const g = new PhiloxGenerator(seed);
    g.setState({ seed, offset: 7 });
    const out = new Float32Array(4);
    g.fillUniform(out);
    const words = philox4x32([7, 0, 0, 0], [0x89abcdef, 0x01234567]);
    expect(Array.from(out)).toEqual(words.map((w) => (w >>> 8) * 2 ** -24));
    expect(g.getState()).toEqual({ seed, offset: 8 });
  });

  it("setState replays, getState reports seed and consumed blocks", () => {
    const g = new PhiloxGenerator(7);
    expect(g.getState()).toEqual({ seed: 7n, offset: 0 });
    g.uniform(5); // float32: ceil(5/4) = 2 blocks
    expect(g.offset).toBe(2);
    const saved = g.getState();
    const x = g.normal(100, 0, 1, "float64"); // 50 blocks
    const y = g.randint(3, 0, 10); // 2 blocks
    expect(g.offset).toBe(54);
    g.setState(saved);
    expect(Array.from(g.normal(100, 0, 1, "float64"))).toEqual(Array.from(x));
    expect(Array.from(g.randint(3, 0, 10))).toEqual(Array.from(y));
    // A different generator restored to the same state replays too.
    const h = new PhiloxGenerator(999);
    h.setState(saved);
    expect(Array.from(h.normal(100, 0, 1, "float64"))).toEqual(Array.from(x));
  });

  it("each fill call starts on a fresh block", () => {
    const whole = new PhiloxGenerator(3).uniform(8);
    const g = new PhiloxGenerator(3);
    const parts = [...g.uniform(4), ...g.uniform(4)];
    expect(parts).toEqual(Array.from(whole)); // chunks of whole blocks match
    const h = new PhiloxGenerator(3);
    const odd = [...h.uniform(3), ...h.uniform(5)];
    expect(odd.slice(0, 3)).toEqual(Array.from(whole.subarray(0, 3)));
    expect(odd[3]).toBe(whole[4]); // word 3 of block 0 was discarded
    expect(h.offset).toBe(3);
    const e = new PhiloxGenerator(3);
    e.uniform(0);
    expect(e.offset).toBe(0);
  });

  it("manualSeed resets the offset; the default generator is reseeded by manualSeed()", () => {
    const g = new PhiloxGenerator(1);
    const first = g.uniform(10);
    g.uniform(10);
    g.manualSeed(1);
    expect(g.offset).toBe(0);
    expect(Array.from(g.uniform(10))).toEqual(Array.from(first));
    expect(manualSeed(5)).toBe(defaultGenerator);
    const a = defaultGenerator.uniform(10);
    manualSeed(5);
    expect(Array.from(defaultGenerator.uniform(10))).toEqual(Array.from(a));
    expect(Array.from(a)).toEqual(Array.from(new PhiloxGenerator(5).uniform(10)));
  });

  it("negative seeds wrap to uint64 as in torch; bad seeds and states throw", () => {
    expect(new PhiloxGenerator(-1).seed).toBe((1n << 64n) - 1n);
    expect(() => new PhiloxGenerator(1.5)).toThrow(DualgradError);
    expect(() => new PhiloxGenerator(1n << 64n)).toThrow(/seed/);
    expect(() => new PhiloxGenerator(0).setState({ seed: 1n, offset: -1 })).toThrow(/setState: offset/);
  });
});

describe("uniform", () => {
  it("float32: in range, mean and variance within statistical bounds (n = 100k)", () => {
    const n = 100_000;
    const x = new PhiloxGenerator(2024).uniform(n);
    expect(x).toBeInstanceOf(Float32Array);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    const { mean, variance } = moments(x);
    // sd of the mean is sqrt(1/12/n) ~ 0.0009; sd of the variance ~ 0.00024. Bounds are ~5 sd.
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.0013);
    // Rough uniformity: 10 equal bins each hold 10% +- 0.5%.
    const bins = new Array(10).fill(0);
    for (const v of x) bins[Math.floor(v * 10)]++;
    for (const c of bins) expect(Math.abs(c / n - 0.1)).toBeLessThan(0.005);
  });

  it("float64 with custom bounds: in [low, high), right moments", () => {
    const x = new PhiloxGenerator(11).uniform(100_000, -3, 5, "float64");
    expect(x).toBeInstanceOf(Float64Array);
    expect(countWhere(x, (v) => !(v >= -3 && v < 5))).toBe(0);
    const { mean, variance } = moments(x);
    expect(Math.abs(mean - 1)).toBeLessThan(0.04);
    expect(Math.abs(variance - 64 / 12)).toBeLessThan(0.1);
  });

  it("float64 uniforms use more than 24 bits; float32 uniforms are multiples of 2^-24", () => {
    const d = new PhiloxGenerator(9).uniform(1000, 0, 1, "float64");
    let fine = 0;
    for (const v of d) if (!Number.isInteger(v * 2 ** 24)) fine++;
    expect(fine).toBeGreaterThan(990);
    let beyond32 = 0;
    for (const v of d) if (!Number.isInteger(v * 2 ** 32)) beyond32++;
    expect(beyond32).toBeGreaterThan(990);
    const f = new PhiloxGenerator(9).uniform(1000);
    expect(countWhere(f, (v) => !Number.isInteger(v * 2 ** 24))).toBe(0);
  });

  it("stays in [low, high) after rounding to float32", () => {
    // Near high = 2 a float32 ulp is 2^-23, and with span 1e-5 every u above 1 - 6e-3 gives
    // low + span * u within half an ulp of 2, which would round to 2 without the clamp. low is not
    // a float32 either, so rounding could also land below it.
    const low = 1.99999;
    const x = new PhiloxGenerator(0).uniform(100_000, low, 2);
    expect(countWhere(x, (v) => !(v >= low && v < 2))).toBe(0);
    // The clamp was exercised: many values sit on the largest float32 below 2.
    expect(countWhere(x, (v) => v === Math.fround(2 - 2 ** -23))).toBeGreaterThan(100);
  });

  it("bad arguments throw DualgradError naming the method and values", () => {
    const g = new PhiloxGenerator(0);
    const x = new Float32Array(4);
    expect(() => g.fillUniform(x, 1, 0)).toThrow("PhiloxGenerator.fillUniform: low (1) must be less than high (0)");
    expect(() => g.fillUniform(x, 1, 1)).toThrow(DualgradError);
    expect(() => g.fillUniform(x, 0, Infinity)).toThrow(/fillUniform: high must be a finite number, got Infinity/);
    expect(() => g.fillUniform(x, NaN, 1)).toThrow(/fillUniform: low must be a finite number, got NaN/);
    expect(() => g.fillUniform(x, -1e308, 1.7e308)).toThrow(/overflows/);
    expect(() => g.uniform(-1)).toThrow(/PhiloxGenerator.uniform: n must be a non-negative integer/);
    expect(() => g.fillUniform(new Int32Array(2) as unknown as Float32Array)).toThrow(/Int32Array/);
    expect(g.offset).toBe(0); // failed calls consume nothing
  });
});

describe("normal", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`${dtype}: mean, std and shape within statistical bounds; no NaN or Inf`, () => {
      const n = 100_000;
      const x = new PhiloxGenerator(77).normal(n, 2, 3, dtype);
      let bad = 0;
      let within1 = 0;
      for (const v of x) {
        if (!Number.isFinite(v)) bad++;
        if (Math.abs(v - 2) < 3) within1++;
      }
      expect(bad).toBe(0);
      const { mean, variance } = moments(x);
      // sd of the mean is 3/sqrt(n) ~ 0.0095; sd of the sample std ~ 3/sqrt(2n) ~ 0.0067.
      expect(Math.abs(mean - 2)).toBeLessThan(0.05);
      expect(Math.abs(Math.sqrt(variance) - 3)).toBeLessThan(0.035);
      expect(Math.abs(within1 / n - 0.6827)).toBeLessThan(0.008);
    });
  }

  it("odd lengths, std = 0 and bad arguments", () => {
    const g = new PhiloxGenerator(1);
    const x = g.normal(7);
    expect(g.offset).toBe(2);
    expect(x.every(Number.isFinite)).toBe(true);
    expect(Array.from(g.normal(5, 1.5, 0, "float64"))).toEqual([1.5, 1.5, 1.5, 1.5, 1.5]);
    expect(() => g.fillNormal(new Float32Array(2), 0, -1)).toThrow("PhiloxGenerator.fillNormal: std must be >= 0, got -1");
    expect(() => g.fillNormal(new Float32Array(2), NaN, 1)).toThrow(/fillNormal: mean must be a finite number/);
  });
});

describe("randint", () => {
  it("stays in [low, high) and is roughly uniform", () => {
    const n = 100_000;
    const x = new PhiloxGenerator(5).randint(n, -3, 7);
    const counts = new Array(10).fill(0);
    expect(countWhere(x, (v) => !(v >= -3 && v < 7))).toBe(0);
    for (const v of x) counts[v + 3]++;
    for (const c of counts) expect(Math.abs(c / n - 0.1)).toBeLessThan(0.005);
  });

  it("handles the full int32 range and a span above 2^31", () => {
    const g = new PhiloxGenerator(8);
    const full = g.randint(10_000, -2147483648, 2147483648);
    let neg = 0;
    for (const v of full) if (v < 0) neg++;
    expect(Math.abs(neg / 10_000 - 0.5)).toBeLessThan(0.03);
    const wide = g.randint(10_000, -2147483648, 2147483647);
    expect(countWhere(wide, (v) => v >= 2147483647)).toBe(0);
    const one = g.randint(9, 4, 5);
    expect(Array.from(one)).toEqual(new Array(9).fill(4));
  });

  it("bad arguments throw", () => {
    const g = new PhiloxGenerator(0);
    expect(() => g.fillRandint(new Int32Array(2), 5, 5)).toThrow("PhiloxGenerator.fillRandint: low (5) must be less than high (5)");
    expect(() => g.fillRandint(new Int32Array(2), 0, 2 ** 31 + 1)).toThrow(/does not fit int32/);
    expect(() => g.fillRandint(new Int32Array(2), 0.5, 2)).toThrow(/must be integers/);
  });
});

describe("Linear init", () => {
  it("linearInitBound is 1/sqrt(in) and rejects bad sizes", () => {
    expect(linearInitBound(4)).toBe(0.5);
    expect(() => linearInitBound(0)).toThrow("linearInitBound: inFeatures must be a positive integer, got 0");
  });

  for (const Ctor of [Float32Array, Float64Array]) {
    it(`${Ctor.name}: within the bound, mean ~0, variance ~bound^2/3`, () => {
      const inF = 100;
      const outF = 1000;
      const bound = linearInitBound(inF);
      const w = new Ctor(inF * outF);
      const b = new Ctor(outF);
      fillLinearInit(new PhiloxGenerator(0), w, b, inF, outF);
      expect(countWhere(w, (v) => !(Math.abs(v) < bound))).toBe(0);
      expect(countWhere(b, (v) => !(Math.abs(v) < bound))).toBe(0);
      const { mean, variance } = moments(w);
      expect(Math.abs(mean)).toBeLessThan(0.002);
      expect(Math.abs(variance / (bound * bound / 3) - 1)).toBeLessThan(0.02);
      expect(Math.abs(moments(b).mean)).toBeLessThan(0.01);
    });
  }

  it("same seed gives identical parameters; draw order is weight then bias", () => {
    const make = (seed: number) => {
      const w = new Float32Array(6 * 5);
      const b = new Float32Array(6);
      fillLinearInit(new PhiloxGenerator(seed), w, b, 5, 6);
      return [...w, ...b];
    };
    expect(make(3)).toEqual(make(3));
    expect(make(3)).not.toEqual(make(4));
    const g = new PhiloxGenerator(3);
    const bound = linearInitBound(5);
    const w = g.uniform(30, -bound, bound);
    const b = g.uniform(6, -bound, bound);
    expect(make(3)).toEqual([...w, ...b]);
    // Without a bias only the weight's blocks are consumed.
    const h = new PhiloxGenerator(3);
    fillLinearInit(h, new Float32Array(30), null, 5, 6);
    expect(h.offset).toBe(Math.ceil(30 / 4));
  });

  it("mismatched lengths and bad feature counts throw before drawing", () => {
    const g = new PhiloxGenerator(0);
    expect(() => fillLinearInit(g, new Float32Array(11), null, 3, 4)).toThrow(
      "fillLinearInit: weight has 11 elements, expected outFeatures * inFeatures = 4 * 3 = 12",
    );
    expect(() => fillLinearInit(g, new Float32Array(12), new Float32Array(3), 3, 4)).toThrow(
      "fillLinearInit: bias has 3 elements, expected outFeatures = 4",
    );
    expect(() => fillLinearInit(g, new Float32Array(0), null, 0, 4)).toThrow(/inFeatures must be a positive integer, got 0/);
    expect(g.offset).toBe(0);
  });

  it("uniformInit and normalInit", () => {
    const g = new PhiloxGenerator(1);
    const x = new Float64Array(1000);
    uniformInit(g, x, 0.1);
    expect(countWhere(x, (v) => !(Math.abs(v) < 0.1))).toBe(0);
    expect(() => uniformInit(g, x, 0)).toThrow(/uniformInit: bound must be a finite positive number/);
    normalInit(g, x, 0.02);
    expect(Math.abs(Math.sqrt(moments(x).variance) - 0.02)).toBeLessThan(0.003);
  });
});
