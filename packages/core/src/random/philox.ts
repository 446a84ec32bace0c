/**
 * Counter-based seeded randomness: Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As
 * Easy as 1, 2, 3", SC'11; the Random123 library) and a `torch.Generator`-like {@link PhiloxGenerator}.
 *
 * Why counter-based: the output is a pure function of (key, counter), so a generator's whole
 * state is two numbers — the 64-bit seed and how many 128-bit blocks it has consumed. Both
 * frontends (eager and graph) can therefore reproduce each other's parameters and data exactly,
 * a state can be saved and replayed without copying a large state vector (as mt19937 needs),
 * and a stream can be jumped forward in O(1).
 *
 * JavaScript has no 64-bit integer multiply, so the 32x32->64 products Philox needs are split
 * into 16-bit halves whose partial products are exact in doubles; the results match Random123's
 * known-answer vectors bit for bit.
 */
import { DualgradError } from "../errors.js";
import type { TypedArrayOf } from "../dtype.js";

/** Philox4x32 round multipliers (Random123's PHILOX_M4x32_0 / _1). */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
/** Weyl-sequence key increments (Random123's PHILOX_W32_0 / _1: golden ratio, sqrt(3) - 1). */
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

// 16-bit halves of the multipliers, precomputed because every round splits its products.
const M0_HI = M0 >>> 16;
const M0_LO = M0 & 0xffff;
const M1_HI = M1 >>> 16;
const M1_LO = M1 & 0xffff;

const TWO_POW_32 = 4294967296;
const TWO_POW_M24 = 1 / 16777216; // 2^-24
const TWO_POW_M32 = 1 / TWO_POW_32; // 2^-32
const TWO_POW_M53 = 1 / 9007199254740992; // 2^-53
const TWO_PI = 2 * Math.PI;

/**
 * High 32 bits of the 64-bit product of two uint32 values, exactly.
 *
 * A double holds 53 bits, so `a * b` (up to 64 bits) would round. Splitting both factors into
 * 16-bit halves gives four partial products below 2^32, each exact; the carries out of the low
 * half are added explicitly.
 */
function mulhi32(a: number, b: number): number {
  const aHi = a >>> 16;
  const aLo = a & 0xffff;
  const bHi = b >>> 16;
  const bLo = b & 0xffff;
  // Partial products are below 2^32, so they are exact and `>>> 16` reads their high halves.
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  // Bits 16..47 of the product: carry of the low partial product plus the low halves of the
  // cross terms; at most 3 * 2^16, so only its bits >= 16 reach the high word.
  const mid = ((aLo * bLo) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aHi * bHi + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/**
 * Philox4x32-10 into a preallocated array: writes the four output words for counter
 * (c0, c1, c2, c3) and key (k0, k1) to `out[at .. at + 3]`. This is the allocation-free hot path
 * that {@link PhiloxGenerator} uses; {@link philox4x32} is the friendlier tuple form.
 *
 * All inputs are taken modulo 2^32. The ten rounds run on local variables, so nothing is
 * allocated and the output array is written once at the end.
 */
export function philox4x32Into(
  c0: number, c1: number, c2: number, c3: number,
  k0: number, k1: number,
  out: Uint32Array, at = 0,
): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    // Random123 bumps the key before every round except the first.
    if (round > 0) {
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    // hi/lo of M0 * x0 and M1 * x2, with the multipliers' halves inlined (see mulhi32).
    const a0Hi = x0 >>> 16;
    const a0Lo = x0 & 0xffff;
    const lh0 = a0Lo * M0_HI;
    const hl0 = a0Hi * M0_LO;
    const mid0 = ((a0Lo * M0_LO) >>> 16) + (lh0 & 0xffff) + (hl0 & 0xffff);
    const hi0 = (a0Hi * M0_HI + (lh0 >>> 16) + (hl0 >>> 16) + (mid0 >>> 16)) >>> 0;
    const lo0 = Math.imul(x0, M0) >>> 0;

    const a2Hi = x2 >>> 16;
    const a2Lo = x2 & 0xffff;
    const lh1 = a2Lo * M1_HI;
    const hl1 = a2Hi * M1_LO;
    const mid1 = ((a2Lo * M1_LO) >>> 16) + (lh1 & 0xffff) + (hl1 & 0xffff);
    const hi1 = (a2Hi * M1_HI + (lh1 >>> 16) + (hl1 >>> 16) + (mid1 >>> 16)) >>> 0;
    const lo1 = Math.imul(x2, M1) >>> 0;

    const n0 = (hi1 ^ x1 ^ key0) >>> 0;
    const n2 = (hi0 ^ x3 ^ key1) >>> 0;
    x0 = n0;
    x1 = lo1;
    x2 = n2;
    x3 = lo0;
  }
  out[at] = x0;
  out[at + 1] = x1;
  out[at + 2] = x2;
  out[at + 3] = x3;
}

/**
 * Philox4x32 with 10 rounds, exactly as Random123 defines it: the four 32-bit output words for a
 * 128-bit counter and a 64-bit key (both given as uint32 words, least significant first as in
 * Random123's arrays). Matches Random123's `kat_vectors`, e.g. counter 0, key 0 ->
 * `[0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]`.
 */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
): [number, number, number, number] {
  const out = new Uint32Array(4);
  philox4x32Into(counter[0], counter[1], counter[2], counter[3], key[0], key[1], out, 0);
  return [out[0], out[1], out[2], out[3]];
}

/**
 * A generator's complete state: the stream is a pure function of it.
 * `seed` is the 64-bit Philox key; `offset` is the number of 128-bit counter blocks consumed.
 */
export interface GeneratorState {
  /** The 64-bit Philox key, in [0, 2^64). */
  seed: bigint;
  /** Counter blocks consumed so far (the next block's counter); a non-negative safe integer. */
  offset: number;
}

/** Float dtypes the convenience samplers can return. */
export type FloatDType = "float32" | "float64";

const UINT64_MASK = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);

/** Normalises a user seed to a uint64 bigint, accepting negatives as torch does (two's complement). */
function normalizeSeed(api: string, seed: number | bigint): bigint {
  let s: bigint;
  if (typeof seed === "bigint") {
    s = seed;
  } else if (typeof seed === "number" && Number.isSafeInteger(seed)) {
    s = BigInt(seed);
  } else {
    throw new DualgradError(`${api}: seed must be an integer (a safe-integer number or a bigint), got ${String(seed)}`);
  }
  if (s < INT64_MIN || s > UINT64_MASK) {
    throw new DualgradError(`${api}: seed ${s} is outside [-2^63, 2^64)`);
  }
  return BigInt.asUintN(64, s);
}

function checkFinite(api: string, name: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new DualgradError(`${api}: ${name} must be a finite number, got ${String(value)}`);
  }
}

function checkCount(api: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new DualgradError(`${api}: n must be a non-negative integer, got ${String(n)}`);
  }
}

// Scratch views for stepping floats by one ulp (used once per fill call, never per element).
const f32 = new Float32Array(1);
const f32Bits = new Int32Array(f32.buffer);
const f64 = new Float64Array(1);
const f64Bits = new BigInt64Array(f64.buffer);

/** The largest float32 strictly below `x` (x finite or +Infinity). */
function float32Below(x: number): number {
  const f = Math.fround(x);
  if (f < x) return f;
  f32[0] = f;
  if (f > 0) f32Bits[0] -= 1;
  else if (f === 0) f32Bits[0] = 0x80000001 | 0; // -smallest subnormal
  else f32Bits[0] += 1;
  return f32[0];
}

/** The smallest float32 at or above `x` (x finite). */
function float32AtOrAbove(x: number): number {
  const f = Math.fround(x);
  if (f >= x) return f;
  f32[0] = f;
  if (f > 0) f32Bits[0] += 1;
  else if (f === 0) f32Bits[0] = 1; // x is a tiny positive: the smallest subnormal
  else f32Bits[0] -= 1;
  return f32[0];
}

/** The largest double strictly below finite `x`. */
function float64Below(x: number): number {
  f64[0] = x;
  if (x > 0) f64Bits[0] -= 1n;
  else if (x === 0) f64Bits[0] = -0x7fffffffffffffffn; // bits 0x8000000000000001: -smallest subnormal
  else f64Bits[0] += 1n;
  return f64[0];
}

/**
 * A seeded source of random numbers, like `torch.Generator`, built on Philox4x32-10.
 *
 * The 64-bit seed is the Philox key and `offset` — the number of 128-bit counter blocks consumed
 * so far — is the counter, so the numbers a call produces depend only on (seed, offset) and the
 * call itself. Two generators with equal state produce identical numbers on any machine.
 *
 * **Block consumption.** Every fill call starts on a fresh counter block and consumes whole
 * blocks (4 words each), discarding any words left in its last block. So a call's results depend
 * only on the state when it starts and its own length; the next call never shares a block with
 * it. Consequently, filling an array in one call equals filling it in several calls only when
 * each chunk (except the last) uses a whole number of blocks; chunking is otherwise visible.
 * Words per element, and so blocks per call for n elements:
 *
 * | method                     | words/element | blocks for n |
 * |----------------------------|---------------|--------------|
 * | fillUniform (Float32Array) | 1             | ceil(n / 4)  |
 * | fillUniform (Float64Array) | 2             | ceil(n / 2)  |
 * | fillNormal (Float32Array)  | 1             | ceil(n / 4)  |
 * | fillNormal (Float64Array)  | 2             | ceil(n / 2)  |
 * | fillRandint (Int32Array)   | 2             | ceil(n / 2)  |
 *
 * Counter layout: block `offset` uses counter words `[offset mod 2^32, floor(offset / 2^32), 0, 0]`
 * and key words `[seed mod 2^32, floor(seed / 2^32)]`.
 */
export class PhiloxGenerator {
  private seedValue: bigint = 0n;
  private key0 = 0;
  private key1 = 0;
  private offsetValue = 0;
  /** One block of output, reused by every fill so the hot loops allocate nothing. */
  private readonly block = new Uint32Array(4);

  /** Creates a generator at offset 0 for `seed` (a safe integer or a bigint in [-2^63, 2^64); negatives wrap as in torch). */
  constructor(seed: number | bigint = 0) {
    this.setSeed("PhiloxGenerator", seed);
  }

  /** Reseeds (offset back to 0), like `torch.Generator.manual_seed`; returns this generator. */
  manualSeed(seed: number | bigint): this {
    this.setSeed("PhiloxGenerator.manualSeed", seed);
    return this;
  }

  /** The 64-bit seed (the Philox key). */
  get seed(): bigint {
    return this.seedValue;
  }

  /** Counter blocks consumed so far. */
  get offset(): number {
    return this.offsetValue;
  }

  /** The full state; pass it to {@link PhiloxGenerator.setState} to replay the stream from here. */
  getState(): GeneratorState {
    return { seed: this.seedValue, offset: this.offsetValue };
  }

  /** Restores a state from {@link PhiloxGenerator.getState} (or any seed and block offset). */
  setState(state: GeneratorState): void {
    const { seed, offset } = state;
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new DualgradError(`PhiloxGenerator.setState: offset must be a non-negative safe integer, got ${String(offset)}`);
    }
    this.setSeed("PhiloxGenerator.setState", seed);
    this.offsetValue = offset;
  }

  /**
   * Fills `out` with independent uniforms in [low, high), each a deterministic function of the
   * generator state. Float32 arrays use 24 random bits per element (`(u >>> 8) * 2^-24`), float64
   * arrays 53 bits from two words. The bounds are honoured in the array's precision: values lie
   * in [low, high) even after rounding to float32 (a value that would round up to `high` is moved
   * to the largest representable value below it). Consumes ceil(n/4) blocks for float32 and
   * ceil(n/2) for float64.
   */
  fillUniform(out: Float32Array | Float64Array, low = 0, high = 1): void {
    const api = "PhiloxGenerator.fillUniform";
    checkFinite(api, "low", low);
    checkFinite(api, "high", high);
    if (!(low < high)) throw new DualgradError(`${api}: low (${low}) must be less than high (${high})`);
    const span = high - low;
    if (!Number.isFinite(span)) throw new DualgradError(`${api}: high - low overflows (low ${low}, high ${high})`);
    const n = out.length;
    const b = this.block;
    if (out instanceof Float32Array) {
      const minV = float32AtOrAbove(low);
      const maxV = float32Below(high);
      if (minV > maxV) {
        throw new DualgradError(`${api}: no float32 value lies in [${low}, ${high})`);
      }
      const blocks = this.reserve(api, Math.ceil(n / 4));
      let c0 = blocks.c0;
      let c1 = blocks.c1;
      for (let i = 0; i < n; i += 4) {
        philox4x32Into(c0, c1, 0, 0, this.key0, this.key1, b, 0);
        if (++c0 === TWO_POW_32) { c0 = 0; c1++; }
        const m = n - i < 4 ? n - i : 4;
        for (let j = 0; j < m; j++) {
          let v = low + span * ((b[j] >>> 8) * TWO_POW_M24);
          // Clamp so that rounding to float32 cannot leave [low, high).
          if (v > maxV) v = maxV;
          else if (v < minV) v = minV;
          out[i + j] = v;
        }
      }
    } else if (out instanceof Float64Array) {
      const maxV = float64Below(high);
      const blocks = this.reserve(api, Math.ceil(n / 2));
      let c0 = blocks.c0;
      let c1 = blocks.c1;
      for (let i = 0; i < n; i += 2) {
        philox4x32Into(c0, c1, 0, 0, this.key0, this.key1, b, 0);
        if (++c0 === TWO_POW_32) { c0 = 0; c1++; }
        // 27 + 26 = 53 bits, the standard full-precision double in [0, 1).
        let v = low + span * (((b[0] >>> 5) * 67108864 + (b[1] >>> 6)) * TWO_POW_M53);
        out[i] = v > maxV ? maxV : v; // low + span*u can round up to high when span is inexact
        if (i + 1 < n) {
          v = low + span * (((b[2] >>> 5) * 67108864 + (b[3] >>> 6)) * TWO_POW_M53);
          out[i + 1] = v > maxV ? maxV : v;
        }
      }
    } else {
      throw new DualgradError(`${api}: out must be a Float32Array or Float64Array, got ${describe(out)}`);
    }
  }

  /**
   * Fills `out` with independent normals N(mean, std^2) by the Box–Muller transform, computed in
   * double precision. Each pair of normals uses u1 in (0, 1] (so log(u1) is never log(0)) and u2
   * in [0, 1): for float32 arrays u1 and u2 are single 32-bit words (4 normals per block, largest
   * |z| about 6.7), for float64 arrays they have 53 bits each (2 normals per block, largest |z|
   * about 8.6). `std = 0` gives `mean` everywhere. Consumes ceil(n/4) blocks for float32 and
   * ceil(n/2) for float64.
   */
  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): void {
    const api = "PhiloxGenerator.fillNormal";
    checkFinite(api, "mean", mean);
    checkFinite(api, "std", std);
    if (std < 0) throw new DualgradError(`${api}: std must be >= 0, got ${std}`);
    const n = out.length;
    const b = this.block;
    if (out instanceof Float32Array) {
      const blocks = this.reserve(api, Math.ceil(n / 4));
      let c0 = blocks.c0;
      let c1 = blocks.c1;
      for (let i = 0; i < n; i += 4) {
        philox4x32Into(c0, c1, 0, 0, this.key0, this.key1, b, 0);
        if (++c0 === TWO_POW_32) { c0 = 0; c1++; }
        // Two Box–Muller pairs per block: (b0, b1) and (b2, b3).
        for (let p = 0; p < 4 && i + p < n; p += 2) {
          const u1 = (b[p] + 1) * TWO_POW_M32; // (0, 1]
          const theta = TWO_PI * (b[p + 1] * TWO_POW_M32);
          const r = Math.sqrt(-2 * Math.log(u1));
          out[i + p] = mean + std * (r * Math.cos(theta));
          if (i + p + 1 < n) out[i + p + 1] = mean + std * (r * Math.sin(theta));
        }
      }
    } else if (out instanceof Float64Array) {
      const blocks = this.reserve(api, Math.ceil(n / 2));
      let c0 = blocks.c0;
      let c1 = blocks.c1;
      for (let i = 0; i < n; i += 2) {
        philox4x32Into(c0, c1, 0, 0, this.key0, this.key1, b, 0);
        if (++c0 === TWO_POW_32) { c0 = 0; c1++; }
        const u1 = ((b[0] >>> 5) * 67108864 + (b[1] >>> 6) + 1) * TWO_POW_M53; // (0, 1]
        const theta = TWO_PI * (((b[2] >>> 5) * 67108864 + (b[3] >>> 6)) * TWO_POW_M53);
        const r = Math.sqrt(-2 * Math.log(u1));
        out[i] = mean + std * (r * Math.cos(theta));
        if (i + 1 < n) out[i + 1] = mean + std * (r * Math.sin(theta));
      }
    } else {
      throw new DualgradError(`${api}: out must be a Float32Array or Float64Array, got ${describe(out)}`);
    }
  }

  /**
   * Fills `out` with integers uniform on [low, high) (high exclusive, as `torch.randint`).
   * Each element takes a 64-bit random x (two words) and returns low + floor(x * span / 2^64),
   * computed exactly: the bias is below span / 2^64 <= 2^-32 per value, and unlike rejection
   * sampling the number of blocks consumed, ceil(n/2), does not depend on the values drawn.
   * `low` and `high` must be integers with -2^31 <= low < high <= 2^31.
   */
  fillRandint(out: Int32Array, low: number, high: number): void {
    const api = "PhiloxGenerator.fillRandint";
    if (!(out instanceof Int32Array)) {
      throw new DualgradError(`${api}: out must be an Int32Array, got ${describe(out)}`);
    }
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high)) {
      throw new DualgradError(`${api}: low and high must be integers, got low ${String(low)}, high ${String(high)}`);
    }
    if (!(low < high)) throw new DualgradError(`${api}: low (${low}) must be less than high (${high})`);
    if (low < -2147483648 || high > 2147483648) {
      throw new DualgradError(`${api}: [${low}, ${high}) does not fit int32 (need -2^31 <= low < high <= 2^31)`);
    }
    const span = high - low; // in [1, 2^32]
    const n = out.length;
    const b = this.block;
    const blocks = this.reserve(api, Math.ceil(n / 2));
    let c0 = blocks.c0;
    let c1 = blocks.c1;
    for (let i = 0; i < n; i += 2) {
      philox4x32Into(c0, c1, 0, 0, this.key0, this.key1, b, 0);
      if (++c0 === TWO_POW_32) { c0 = 0; c1++; }
      out[i] = low + scaleHi64(b[0], b[1], span);
      if (i + 1 < n) out[i + 1] = low + scaleHi64(b[2], b[3], span);
    }
  }

  /** A fresh array of `n` uniforms in [low, high) of `dtype` (default float32); see {@link PhiloxGenerator.fillUniform}. */
  uniform<D extends FloatDType = "float32">(n: number, low = 0, high = 1, dtype: D = "float32" as D): TypedArrayOf[D] {
    checkCount("PhiloxGenerator.uniform", n);
    const out = newFloatArray("PhiloxGenerator.uniform", dtype, n);
    this.fillUniform(out, low, high);
    return out as TypedArrayOf[D];
  }

  /** A fresh array of `n` normals N(mean, std^2) of `dtype` (default float32); see {@link PhiloxGenerator.fillNormal}. */
  normal<D extends FloatDType = "float32">(n: number, mean = 0, std = 1, dtype: D = "float32" as D): TypedArrayOf[D] {
    checkCount("PhiloxGenerator.normal", n);
    const out = newFloatArray("PhiloxGenerator.normal", dtype, n);
    this.fillNormal(out, mean, std);
    return out as TypedArrayOf[D];
  }

  /** A fresh Int32Array of `n` integers uniform on [low, high); see {@link PhiloxGenerator.fillRandint}. */
  randint(n: number, low: number, high: number): Int32Array {
    checkCount("PhiloxGenerator.randint", n);
    const out = new Int32Array(n);
    this.fillRandint(out, low, high);
    return out;
  }

  private setSeed(api: string, seed: number | bigint): void {
    const s = normalizeSeed(api, seed);
    this.seedValue = s;
    this.key0 = Number(s & 0xffffffffn);
    this.key1 = Number(s >> 32n);
    this.offsetValue = 0;
  }

  /** Claims `count` blocks and returns the counter words of the first; advances the offset. */
  private reserve(api: string, count: number): { c0: number; c1: number } {
    const start = this.offsetValue;
    const end = start + count;
    if (end > Number.MAX_SAFE_INTEGER) {
      throw new DualgradError(`${api}: generator offset would pass 2^53 blocks (offset ${start}, need ${count})`);
    }
    this.offsetValue = end;
    return { c0: start % TWO_POW_32, c1: Math.floor(start / TWO_POW_32) };
  }
}

/**
 * floor(x * span / 2^64) for x = hi * 2^32 + lo (uint32 words) and 1 <= span <= 2^32, exactly.
 * x * span = hi * span * 2^32 + lo * span; only the high word of lo * span can carry into the
 * result, so result = high word of (hi * span) plus the carry out of (low word of hi * span +
 * high word of lo * span).
 */
function scaleHi64(hi: number, lo: number, span: number): number {
  if (span === TWO_POW_32) return hi;
  const pHi = mulhi32(hi, span);
  const pLo = Math.imul(hi, span) >>> 0;
  const q = mulhi32(lo, span);
  return pHi + (pLo + q >= TWO_POW_32 ? 1 : 0);
}

function newFloatArray(api: string, dtype: FloatDType, n: number): Float32Array | Float64Array {
  if (dtype === "float32") return new Float32Array(n);
  if (dtype === "float64") return new Float64Array(n);
  throw new DualgradError(`${api}: dtype must be "float32" or "float64", got ${String(dtype)}`);
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (typeof x === "object") return (x as object).constructor?.name ?? "object";
  return typeof x;
}

/**
 * The process-wide default generator (seed 0 at start), like torch's default CPU generator.
 * Prefer passing an explicit {@link PhiloxGenerator}; this one exists for quick scripts and for
 * {@link manualSeed}.
 */
export const defaultGenerator: PhiloxGenerator = new PhiloxGenerator(0);

/** Reseeds {@link defaultGenerator} (offset back to 0), like `torch.manual_seed`; returns it. */
export function manualSeed(seed: number | bigint): PhiloxGenerator {
  return defaultGenerator.manualSeed(seed);
}
