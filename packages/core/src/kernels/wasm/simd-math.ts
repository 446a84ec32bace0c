/**
 * Vectorised float32 exp, log, tanh and sigmoid for WebAssembly SIMD: emitters that inline the
 * code for one f32x4 (four independent lanes) into a function being built with ./emitter.ts.
 * No tables, no branches: every lane runs the same straight-line code and special values are
 * patched in with lane masks, so a lane's result depends on its input alone.
 *
 * ## Method
 *
 * - exp: `x = n*ln2 + r` with `n = nearest(x*log2e)` and `|r| <= ~ln2/2`; ln2 is split in two
 *   (Cody-Waite) with a 15-bit high part so `n*LN2_HI` is exact for every n used. `e^r = 1 + r +
 *   r^2*q(r)` with q of degree 4. Then `2^n` is applied as two halves, `(p*2^(n>>1))*2^(n-(n>>1))`,
 *   so every scale is a normal float and the one rounding of the last multiply makes overflow go
 *   to +Inf and gradual underflow (denormal results) round correctly — nothing is flushed.
 * - log: `x = m*2^k` with m in [sqrt(1/2), sqrt(2)) (denormal inputs are scaled by 2^23 first),
 *   `f = m - 1`, `s = f/(2+f)`, and `log(1+f) = f - (f²/2 - s*(f²/2 + R(s²)))`, the form in which
 *   the division's rounding only touches a small correction term; then `+ k*ln2` in two parts.
 * - tanh: for |x| < 0.625 an odd polynomial `|x| + |x|*z*P(z)`, z = x², P of degree 5; above,
 *   `1 - 2e/(1+e)` with `e = exp(-2|x|)`, which has no cancellation there; the sign of x is put
 *   back last (so tanh(-0) = -0).
 * - sigmoid: `e = exp(-|x|)`, then `1/(1+e)` (x > 0) or `e/(1+e)` (otherwise) finished in float64
 *   lanes (f64x2) and rounded once to float32: in float32 the rounding of `1+e` and of the
 *   division would add up to 2 ulp, in float64 they vanish.
 *
 * The polynomial coefficients were fitted for this file: weighted minimax (Lawson's iteration on
 * Chebyshev-spaced points, against 40-digit mpmath values) of the relative error of each
 * function's reduced form, then rounded to float32.
 *
 * ## Accuracy
 *
 * Measured against `Math.fround` of the float64 Math function (for sigmoid, of
 * `1 / (1 + Math.exp(-x))`, the JavaScript kernel's expression) over all 2^32 float32 inputs:
 * at most 1 ulp for each of the four (off by one ulp on 0.42% of inputs for exp, 0.31% for log,
 * 0.14% for tanh, 1.8% for sigmoid; bitwise equal elsewhere). test/simd-math.test.ts checks
 * every 997th bit pattern (within 2 ulp) and the special values, which are exact: NaN -> NaN,
 * exp(+Inf) = +Inf, exp(-Inf) = 0, exp overflow -> +Inf, underflow -> denormals then 0,
 * log(±0) = -Inf, log(x<0) = NaN, log(+Inf) = +Inf, tanh(±0) = ±0, tanh(±Inf) = ±1 (and ±1 from
 * |x| ≈ 9), sigmoid(-Inf) = 0, sigmoid(+Inf) = 1.
 */
import { ValType, type FunctionBuilder, type SimdOp } from "./emitter.js";

/** Code that pushes one v128 when called; pure, so it may be called (emitted) more than once. */
type Expr = () => void;

/** Bits of the float32 sign. */
const SIGN = 0x80000000 | 0;

// exp: ln2 split so that n*LN2_HI is exact for |n| < 512 (LN2_HI has 15 significant bits).
const LOG2E = 1.4426950408889634;
const LN2_HI = 45426 / 65536; // 0.693145751953125
const LN2_LO = Math.log(2) - LN2_HI; // rounded to float32 where used: 1.4286068e-6
/** q(r) in e^r = 1 + r + r²q(r), |r| <= 0.354; relative error of the fit 3.5e-9. */
const EXP_Q = [0.4999999403953552, 0.16666509211063385, 0.04166853055357933, 0.008370140567421913, 0.0013811651151627302];
/** Below this the result underflows to 0 and above it overflows to +Inf; clamping keeps n small. */
const EXP_LO = -120;
const EXP_HI = 100;

/** R(z)/z in log1p(f) = 2s + s*R(s²), s² <= 0.0301; absolute error of R 1.1e-11. */
const LOG_R = [0.6666666269302368, 0.4000035524368286, 0.28535857796669006, 0.2361116111278534];
/** Smallest normal float32; inputs below it are scaled by 2^23 before the exponent is read. */
const MIN_NORMAL = 2 ** -126;
/** Bits of sqrt(1/2) rounded to float32: m's range starts there. */
const SQRT_HALF_BITS = 0x3f3504f3;

/** P(z) in tanh(x) = x + x*z*P(z), z = x², |x| < TANH_SMALL; relative error of the fit 1.6e-10. */
const TANH_P = [-0.3333333134651184, 0.1333320587873459, -0.05394676327705383, 0.021700697019696236, -0.008177380077540874, 0.0021429448388516903];
const TANH_SMALL = 0.625;

/**
 * A small expression builder over one function: constants and ops return {@link Expr}s, `let`
 * evaluates one into a fresh v128 local (emitting its code now) so that it is computed once.
 */
class Vec {
  constructor(readonly f: FunctionBuilder) {}

  f32(v: number): Expr {
    return () => this.f.f32x4Const(v);
  }

  i32(v: number): Expr {
    return () => this.f.i32x4Const(v);
  }

  op(name: SimdOp, ...args: Expr[]): Expr {
    return () => {
      for (const a of args) a();
      this.f.simd(name);
    };
  }

  /** i32x4 shift of every lane of `a` by `bits`. */
  shift(name: "i32x4.shl" | "i32x4.shr_s", a: Expr, bits: number): Expr {
    return () => {
      a();
      this.f.i32(bits).simd(name);
    };
  }

  /** `mask ? a : b`, bitwise per lane. */
  select(a: Expr, b: Expr, mask: Expr): Expr {
    return this.op("v128.bitselect", a, b, mask);
  }

  let(e: Expr): Expr {
    const l = this.f.local(ValType.v128);
    e();
    this.f.set(l);
    return () => this.f.get(l);
  }

  add = (a: Expr, b: Expr): Expr => this.op("f32x4.add", a, b);
  sub = (a: Expr, b: Expr): Expr => this.op("f32x4.sub", a, b);
  mul = (a: Expr, b: Expr): Expr => this.op("f32x4.mul", a, b);
  div = (a: Expr, b: Expr): Expr => this.op("f32x4.div", a, b);

  /** `c[0] + x*(c[1] + x*(c[2] + ...))`. */
  horner(x: Expr, c: readonly number[]): Expr {
    let acc = this.f32(c[c.length - 1]);
    for (let i = c.length - 2; i >= 0; i--) acc = this.add(this.mul(acc, x), this.f32(c[i]));
    return acc;
  }
}

/** Reads the f32x4 on top of the stack into a local, runs `body` on it and leaves its result on the stack. */
function unary(f: FunctionBuilder, body: (v: Vec, x: Expr) => Expr): void {
  const v = new Vec(f);
  const x = v.let(() => {}); // the value already on the stack
  body(v, x)();
}

/** e^x per lane (see the module comment). */
function expOf(v: Vec, x: Expr): Expr {
  // pmax(x, lo) is `x < lo ? lo : x` and pmin(x, hi) is `hi < x ? hi : x`: both keep a NaN x.
  const xc = v.let(v.op("f32x4.pmin", v.op("f32x4.pmax", x, v.f32(EXP_LO)), v.f32(EXP_HI)));
  const nf = v.let(v.op("f32x4.nearest", v.mul(xc, v.f32(LOG2E))));
  // xc - nf*LN2_HI is exact (nf*LN2_HI is exact and close to xc); only the LN2_LO step rounds.
  const r = v.let(v.sub(v.sub(xc, v.mul(nf, v.f32(LN2_HI))), v.mul(nf, v.f32(LN2_LO))));
  const p = v.add(v.f32(1), v.add(r, v.mul(v.mul(r, r), v.horner(r, EXP_Q))));
  const n = v.let(v.op("i32x4.trunc_sat_f32x4_s", nf)); // NaN -> 0: harmless, p is NaN then
  const n1 = v.let(v.shift("i32x4.shr_s", n, 1));
  const n2 = v.op("i32x4.sub", n, n1);
  const pow2 = (k: Expr) => v.shift("i32x4.shl", v.op("i32x4.add", k, v.i32(127)), 23);
  return v.mul(v.mul(p, pow2(n1)), pow2(n2));
}

/** Natural log per lane (see the module comment). */
function logOf(v: Vec, x: Expr): Expr {
  const tiny = v.let(v.op("f32x4.lt", x, v.f32(MIN_NORMAL)));
  const xs = v.select(v.mul(x, v.f32(2 ** 23)), x, tiny);
  // Adding (1.0 - sqrt(1/2)) in the bit domain carries into the exponent exactly when the
  // mantissa is at least sqrt(2)'s, which picks m in [sqrt(1/2), sqrt(2)).
  const ix = v.let(v.op("i32x4.add", xs, v.i32(0x3f800000 - SQRT_HALF_BITS)));
  const k = v.op("i32x4.add", v.op("i32x4.sub", v.shift("i32x4.shr_s", ix, 23), v.i32(127)), v.op("v128.and", tiny, v.i32(-23)));
  const kf = v.let(v.op("f32x4.convert_i32x4_s", k));
  const m = v.op("i32x4.add", v.op("v128.and", ix, v.i32(0x007fffff)), v.i32(SQRT_HALF_BITS));
  const f = v.let(v.sub(m, v.f32(1)));
  const s = v.let(v.div(f, v.add(v.f32(2), f)));
  const z = v.let(v.mul(s, s));
  const r = v.mul(z, v.horner(z, LOG_R));
  const hfsq = v.let(v.mul(v.mul(v.f32(0.5), f), f));
  const inner = v.add(v.mul(s, v.add(hfsq, r)), v.mul(kf, v.f32(LN2_LO)));
  const res = v.sub(v.mul(kf, v.f32(LN2_HI)), v.sub(v.sub(hfsq, inner), f));
  // Special values: +Inf and NaN pass through; 0 (either sign) gives -Inf; negatives give NaN.
  const finite = v.select(res, x, v.op("f32x4.lt", x, v.f32(Infinity)));
  const zero = v.select(v.f32(-Infinity), finite, v.op("f32x4.eq", x, v.f32(0)));
  return v.select(v.f32(NaN), zero, v.op("f32x4.lt", x, v.f32(0)));
}

/** tanh per lane (see the module comment). */
function tanhOf(v: Vec, x: Expr): Expr {
  const ax = v.let(v.op("f32x4.abs", x));
  const z = v.let(v.mul(ax, ax));
  const small = v.add(ax, v.mul(ax, v.mul(z, v.horner(z, TANH_P))));
  const e = v.let(expOf(v, v.mul(ax, v.f32(-2))));
  const large = v.sub(v.f32(1), v.div(v.add(e, e), v.add(v.f32(1), e)));
  const magnitude = v.select(small, large, v.op("f32x4.lt", ax, v.f32(TANH_SMALL)));
  return v.op("v128.or", magnitude, v.op("v128.and", x, v.i32(SIGN)));
}

/** Bytes of an f64x2 constant. */
function f64x2(value: number): number[] {
  return [...new Uint8Array(new Float64Array([value, value]).buffer)];
}

/** Lane bytes for i8x16.shuffle: the upper two f32 lanes of a vector moved to the bottom. */
const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
/** Lane bytes for i8x16.shuffle: lanes 0-1 of a and lanes 0-1 of b. */
const LOWS = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** sigmoid per lane (see the module comment). */
function sigmoidOf(v: Vec, x: Expr): Expr {
  const f = v.f;
  const e = v.let(expOf(v, v.op("v128.or", x, v.i32(SIGN)))); // exp(-|x|), in (0, 1]
  const num = v.let(v.select(v.f32(1), e, v.op("f32x4.gt", x, v.f32(0))));
  // num/(1+e) on two float64 lanes at a time: (lanes 0-1, lanes 2-3), each rounded once to f32.
  const half = (a: Expr, high: boolean): Expr => () => {
    a();
    if (high) {
      a();
      f.shuffle(HIGH_TO_LOW);
    }
    f.simd("f64x2.promote_low_f32x4");
  };
  const quotient = (high: boolean): Expr => () => {
    half(num, high)();
    f.v128Const(f64x2(1));
    half(e, high)();
    f.simd("f64x2.add").simd("f64x2.div").simd("f32x4.demote_f64x2_zero");
  };
  return () => {
    quotient(false)();
    quotient(true)();
    f.shuffle(LOWS);
  };
}

/** The functions {@link emitSimdMath} emits. */
export type SimdMathFunction = "exp" | "log" | "tanh" | "sigmoid";

const BODIES: Record<SimdMathFunction, (v: Vec, x: Expr) => Expr> = { exp: expOf, log: logOf, tanh: tanhOf, sigmoid: sigmoidOf };

/**
 * Emits code that replaces the f32x4 on top of `f`'s operand stack with `fn` of each lane
 * (declaring the v128 locals it needs; each call emits its own copy, no function call). Within
 * 1 ulp of the float64 Math function rounded to float32, special values exact; see the module comment.
 */
export function emitSimdMath(f: FunctionBuilder, fn: SimdMathFunction): void {
  unary(f, BODIES[fn]);
}

/** Emits `exp` of the f32x4 on top of the stack; denormal results are rounded, not flushed. */
export function emitExp(f: FunctionBuilder): void {
  emitSimdMath(f, "exp");
}

/** Emits `log` of the f32x4 on top of the stack (denormal inputs included). */
export function emitLog(f: FunctionBuilder): void {
  emitSimdMath(f, "log");
}

/** Emits `tanh` of the f32x4 on top of the stack. */
export function emitTanh(f: FunctionBuilder): void {
  emitSimdMath(f, "tanh");
}

/** Emits `1 / (1 + exp(-x))` of the f32x4 on top of the stack. */
export function emitSigmoid(f: FunctionBuilder): void {
  emitSimdMath(f, "sigmoid");
}
