/**
 * Number formatting shared by the terminal, Markdown and HTML reports, so the same figure reads
 * the same everywhere. Every helper is pure and locale-independent (no `toLocaleString`): a
 * report rendered on two machines from the same JSON must be byte-identical.
 *
 * Missing or non-finite inputs (a field an older report lacks, a diverged loss) render as "-"
 * rather than "NaN" or a thrown error, because a report with one hole is still worth reading.
 */

/** What every formatter prints for a value it cannot show. */
export const MISSING = "-";

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/**
 * A byte count in binary units: whole bytes below 1 KiB ("512 B"), otherwise two decimals below
 * 10 of the unit and one above ("1.50 KiB", "12.3 MiB", "512.0 MiB"), so the width stays small
 * while small figures keep enough digits to compare.
 */
export function formatBytes(n: number): string {
  if (typeof n !== "number" || !Number.isFinite(n)) return MISSING;
  const sign = n < 0 ? "-" : "";
  let v = Math.abs(n);
  if (v < 1024) return `${sign}${Math.round(v)} B`;
  let unit = 0;
  while (v >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  // Rounding can carry a value to 1024 of its unit ("1024.0 KiB"); move it up instead.
  if (Number(v.toFixed(1)) >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${sign}${v.toFixed(v < 10 ? 2 : 1)} ${BYTE_UNITS[unit]}`;
}

/**
 * Milliseconds with precision that adapts to the magnitude, keeping about three significant
 * digits where it matters and never printing noise digits: "0.0042 ms", "0.37 ms", "1.37 ms",
 * "40.2 ms", "1234 ms". Sub-millisecond steps (tiny models) get two significant digits, because
 * timer resolution makes a third meaningless there.
 */
export function formatMs(ms: number): string {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return MISSING;
  const a = Math.abs(ms);
  let s: string;
  if (a === 0) s = "0";
  else if (a >= 100) s = ms.toFixed(0);
  else if (a >= 10) s = ms.toFixed(1);
  else if (a >= 1) s = ms.toFixed(2);
  // Number(...) drops toPrecision's trailing zeros and exponent padding ("0.50" -> "0.5").
  else s = String(Number(ms.toPrecision(2)));
  return `${s} ms`;
}

/** A range of milliseconds with the unit once: "7.50–12.2 ms" ("-" when either end is missing). */
export function formatMsRange(lo: number, hi: number): string {
  const [a, b] = [formatMs(lo), formatMs(hi)];
  return a === MISSING || b === MISSING ? MISSING : `${a.slice(0, -" ms".length)}–${b}`;
}

/**
 * The ratio `a / b` as "1.8x": one decimal from 1x to 100x, whole numbers above, two significant
 * digits below 1x ("0.56x", "0.050x") so a small ratio does not collapse to "0.0x". "-" when `b` is zero or
 * either side is missing.
 */
export function formatRatio(a: number, b: number): string {
  if (typeof a !== "number" || typeof b !== "number" || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return MISSING;
  const r = a / b;
  const m = Math.abs(r);
  let s: string;
  if (m >= 100) s = r.toFixed(0);
  else if (m >= 1) s = r.toFixed(1);
  else if (m === 0) s = "0";
  // Keep toPrecision's trailing zero ("0.50x"): 0.9999 must read "1.0x" like its neighbours.
  else s = r.toPrecision(2);
  return `${s}x`;
}

/**
 * An error magnitude in scientific notation with two significant digits ("1.2e-7"), and a plain
 * "0" for exact zero, the value that matters most in an agreement table (bitwise equal).
 */
export function formatSci(x: number): string {
  if (typeof x !== "number" || Number.isNaN(x)) return MISSING;
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return x > 0 ? "Inf" : "-Inf";
  return x.toExponential(1);
}

/** A plain count or rate: one decimal below 100 (allocations/step can be fractional), none above. */
export function formatCount(x: number): string {
  if (typeof x !== "number" || !Number.isFinite(x)) return MISSING;
  return Math.abs(x) < 100 && !Number.isInteger(x) ? x.toFixed(1) : x.toFixed(0);
}

/** A loss value: four significant digits, scientific when tiny or huge. */
export function formatLoss(x: number): string {
  if (typeof x !== "number" || !Number.isFinite(x)) return MISSING;
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a < 1e-3 || a >= 1e6 ? x.toExponential(3) : String(Number(x.toPrecision(4)));
}
