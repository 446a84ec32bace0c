import { availableParallelism } from "node:os";
import { InvalidArgumentError } from "commander";

/**
 * Commander argument parsers with messages that say what was expected. Every number goes
 * through {@link parseDecimal}, so all flags read numbers the same way.
 */

/**
 * Plain decimal notation, as a CSV cell is read: an optional sign, digits with an optional
 * fraction, an optional exponent. Stricter than `Number()`, which also takes "" (as 0), hex
 * ("0x10"), binary, octal and "Infinity"; a flag value like `--lr 0x10` is far more likely a
 * slip than a wish for 16.
 */
export const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/**
 * The one number reader of the CLI: the value of decimal `text` (surrounding blanks ignored), or
 * null when it is not a decimal number or, with `integer`, not written as a whole number
 * (no fraction, no exponent: "1e3" is refused where a count is expected).
 */
export function parseDecimal(text: string, integer = false): number | null {
  const t = text.trim();
  if (!(integer ? INTEGER : DECIMAL).test(t)) return null;
  const n = Number(t);
  if (!Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) return null;
  return n;
}

/** A positive integer. */
export function positiveInt(value: string): number {
  const n = parseDecimal(value, true);
  if (n === null || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

/** A non-negative integer. */
export function nonNegativeInt(value: string): number {
  const n = parseDecimal(value, true);
  if (n === null || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got '${value}'`);
  return n;
}

/** A finite positive number. */
export function positiveNumber(value: string): number {
  const n = parseDecimal(value);
  if (n === null || n <= 0) throw new InvalidArgumentError(`expected a positive number, got '${value}'`);
  return n;
}

/**
 * The seed range: ±2^52. Data, shuffling and peers derive their own seeds by small offsets
 * from the user's (e.g. seed + 1000003), which must stay exact integers; a seed this size leaves
 * them room, so an out-of-range seed is refused here, naming the value the user gave.
 */
export const MAX_SEED = 2 ** 52;

/** An integer seed (negative allowed) in ±{@link MAX_SEED}. */
export function seedValue(value: string): number {
  const n = parseDecimal(value, true);
  if (n === null) throw new InvalidArgumentError(`expected an integer seed, got '${value}'`);
  if (Math.abs(n) > MAX_SEED) throw new InvalidArgumentError(`expected a seed between -${MAX_SEED} and ${MAX_SEED} (±2^52), got '${value}'`);
  return n;
}

/**
 * A thread count from 1 to the machine's available parallelism: more threads than cores only
 * add memory (each worker has its own heap) and contention, never speed.
 */
export function threadCount(value: string): number {
  const n = positiveInt(value);
  const cores = availableParallelism();
  if (n > cores) throw new InvalidArgumentError(`expected at most ${cores} (this machine's available parallelism), got '${value}'`);
  return n;
}

/** A comma-separated list whose items must be among `choices`. */
export function listOf(choices: readonly string[]) {
  return (value: string): string[] => {
    const items = value.split(",").map((s) => s.trim()).filter(Boolean);
    const bad = items.filter((i) => !choices.includes(i));
    if (items.length === 0 || bad.length > 0) {
      throw new InvalidArgumentError(`${bad.length ? `unknown '${bad.join(",")}'` : "empty list"}; valid: ${choices.join(", ")}`);
    }
    return [...new Set(items)];
  };
}
