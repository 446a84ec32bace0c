/**
 * The fast path for reading predict bodies: one pass over the request's bytes that writes the
 * numbers of `{"instances": [[...], ...]}` straight into float32, with no JSON.parse, no arrays
 * of boxed numbers and no string of the body.
 *
 * It has no verdicts of its own. It accepts only bodies it can prove the reference reader
 * ({@link parseInstances}: JSON.parse, then the checks) would accept, and returns exactly the
 * float32 values that reader stores; on anything else (malformed JSON, another key, a wrong
 * length, a string, too many instances, a number it cannot round with certainty) it hands the
 * body to the reference reader, which gives the answer or the 400 message. So both readers give
 * the same result for every body, and errors cost what they always did.
 *
 * Why it pays: for a 784-number instance JSON.parse builds an array of 784 heap numbers that the
 * checks then walk and copy; profiled under load, that was the largest single cost of a request.
 */
import { FLOAT32_MAX, parseInstances, type InstanceLimits } from "./instances.js";

/** 10^0 .. 10^22: the powers of ten a double holds exactly (written out: `10 ** k` need not be exact). */
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * Relative half-width of the interval known to hold the correctly rounded double of a number
 * whose up to 19 significant digits were accumulated in double arithmetic: at most ~22 roundings
 * of 2^-53 each, so 2^-44 leaves a wide margin.
 */
const APPROX = 2 ** -44;

/** 2^53: every integer below it is an exact double. */
const MAX_EXACT = 2 ** 53;

// Byte values of the JSON punctuation, digits and whitespace.
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const ONE = 0x31;
const NINE = 0x39;
const COLON = 0x3a;
const L_BRACKET = 0x5b;
const R_BRACKET = 0x5d;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const L_BRACE = 0x7b;
const R_BRACE = 0x7d;

/** `"instances"` as bytes. */
const KEY = Buffer.from('"instances"', "latin1");

/** What the fast path returns when the reference reader must decide. */
const DEFER = -1;

/** Reads predict bodies for one model; reuses one scratch buffer, so one parser per server. */
export class InstanceParser {
  private readonly scratch: Float32Array;
  /** Where the number the last {@link number} call read ends (a second return value, without allocating). */
  private end = 0;
  /** Bodies handed to the reference reader so far (errors, and what the fast path cannot prove). */
  deferred = 0;

  constructor(private readonly limits: InstanceLimits) {
    this.scratch = new Float32Array(limits.maxInstances * limits.inputSize);
  }

  /** Same contract as {@link parseInstances}, from the body's bytes (UTF-8). */
  parse(body: Buffer): { x: Float32Array; rows: number } {
    const rows = this.fast(body);
    if (rows === DEFER) {
      this.deferred++;
      return parseInstances(body.toString("utf8"), this.limits);
    }
    return { x: this.scratch.slice(0, rows * this.limits.inputSize), rows };
  }

  /** Row count, with the values in `scratch`; or DEFER. */
  private fast(b: Buffer): number {
    const { inputSize, maxInstances } = this.limits;
    let i = ws(b, 0);
    if (b[i] !== L_BRACE) return DEFER;
    i = ws(b, i + 1);
    if (!b.subarray(i, i + KEY.length).equals(KEY)) return DEFER;
    i = ws(b, i + KEY.length);
    if (b[i] !== COLON) return DEFER;
    i = ws(b, i + 1);
    if (b[i] !== L_BRACKET) return DEFER;
    i = ws(b, i + 1);
    let rows = 0;
    for (;;) {
      if (b[i] !== L_BRACKET || rows === maxInstances) return DEFER;
      i = ws(b, i + 1);
      const base = rows * inputSize;
      let j = 0;
      for (;;) {
        if (j === inputSize || !this.number(b, i, base + j)) return DEFER;
        j++;
        i = ws(b, this.end);
        if (b[i] === COMMA) i = ws(b, i + 1);
        else if (b[i] === R_BRACKET) break;
        else return DEFER;
      }
      if (j !== inputSize) return DEFER;
      rows++;
      i = ws(b, i + 1);
      if (b[i] === COMMA) i = ws(b, i + 1);
      else if (b[i] === R_BRACKET) break;
      else return DEFER;
    }
    i = ws(b, i + 1);
    if (b[i] !== R_BRACE) return DEFER;
    return ws(b, i + 1) === b.length ? rows : DEFER;
  }

  /**
   * Reads one JSON number at `i` into `scratch[at]` as JSON.parse then a Float32Array store would
   * (the correctly rounded double, then rounded to float32); false when the text is not a JSON
   * number or its value is not a finite float32.
   */
  private number(b: Buffer, start: number, at: number): boolean {
    let i = start;
    const negative = b[i] === MINUS;
    if (negative) i++;
    let c = b[i];
    // The digits, '.' dropped, as an integer m: exact while below 2^53, and each digit past
    // that rounds once (the error bound below counts the digit characters, leading zeros too).
    let m = 0;
    let exp10 = 0; // the value is m * 10^exp10
    if (c === ZERO) c = b[++i];
    else if (c >= ONE && c <= NINE) {
      do {
        m = m * 10 + (c - ZERO);
        c = b[++i];
      } while (c >= ZERO && c <= NINE);
    } else return false;
    let digits = i - start - (negative ? 1 : 0);
    if (c === DOT) {
      const fraction = i + 1;
      c = b[fraction];
      if (!(c >= ZERO && c <= NINE)) return false;
      i = fraction;
      do {
        m = m * 10 + (c - ZERO);
        c = b[++i];
      } while (c >= ZERO && c <= NINE);
      exp10 = fraction - i;
      digits -= exp10;
    }
    if (c === LOWER_E || c === UPPER_E) {
      c = b[++i];
      const expNegative = c === MINUS;
      if (expNegative || c === PLUS) c = b[++i];
      if (!(c >= ZERO && c <= NINE)) return false;
      let e = 0;
      do {
        if (e < 100_000) e = e * 10 + (c - ZERO); // beyond that the value is 0 or Infinity either way
        c = b[++i];
      } while (c >= ZERO && c <= NINE);
      exp10 += expNegative ? -e : e;
    }
    this.end = i;
    if (m === 0) {
      this.scratch[at] = negative ? -0 : 0;
      return true;
    }
    if (exp10 >= -22 && exp10 <= 22 && digits <= 19) {
      const y = exp10 >= 0 ? m * POW10[exp10] : m / POW10[-exp10];
      if (m < MAX_EXACT) {
        // No step of m's sum rounded (a rounded one would be >= 2^53, and m never shrinks), so m
        // and 10^|exp10| are exact: one IEEE operation rounds correctly (Clinger's fast path).
        // Below 2^53 * 1e22 < 1e38 the result is a finite float32.
        this.scratch[at] = negative ? -y : y;
        return true;
      }
      // m was rounded, so y is near, not at, the double JSON.parse gives. When every double that
      // near rounds to one float32, that float32 is the answer.
      const lo = Math.fround(y - y * APPROX);
      if (y < 1e38 && lo === Math.fround(y + y * APPROX)) {
        this.scratch[at] = negative ? -lo : lo;
        return true;
      }
    }
    // Rare (long, tiny or huge numbers, or a double right at a float32 rounding boundary): let
    // the engine convert the text, as JSON.parse does.
    const v = Number(b.toString("latin1", start, i));
    if (!(Math.abs(v) <= FLOAT32_MAX)) return false;
    this.scratch[at] = v;
    return true;
  }
}

/** The index of the first non-whitespace byte (JSON whitespace) at or after `i`. */
function ws(b: Buffer, i: number): number {
  for (;;) {
    const c = b[i];
    if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return i;
    i++;
  }
}
