import { InvalidArgumentError } from "commander";

/** Commander argument parsers with messages that say what was expected. */

/** A positive integer. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

/** A non-negative integer. */
export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a non-negative integer, got '${value}'`);
  return n;
}

/** A finite positive number. */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got '${value}'`);
  return n;
}

/** An integer seed (negative allowed). */
export function seedValue(value: string): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected an integer seed, got '${value}'`);
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
