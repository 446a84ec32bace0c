import { InvalidArgumentError } from "commander";
import { UsageError } from "./errors.js";
import type { ModelSpec } from "./models.js";
import { parseDecimal } from "./parse.js";

/**
 * `bench --sweep batch=1,4,16` / `--sweep width=16,64,256`: one model measured at several sizes,
 * so a report can show where per-op overhead stops mattering. Each size is an ordinary spec
 * (its own id, e.g. `mlp@batch=16`), measured like any model; the report's `sweeps` entry lists
 * which results belong to which size.
 */

/** What a sweep varies: the batch size, or the width of every hidden layer. */
export type SweepParam = "batch" | "width";

/** A parsed `--sweep` flag. */
export interface Sweep {
  param: SweepParam;
  values: number[];
}

/** Commander parser for `--sweep batch=1,4,16` or `--sweep width=16,64`. */
export function parseSweep(text: string): Sweep {
  const m = /^(batch|width)=(.+)$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`expected batch=N,N,... or width=N,N,..., got '${text}'`);
  const values = m[2].split(",").map((s) => parseDecimal(s.trim(), true));
  if (values.some((v) => v === null || v <= 0)) throw new InvalidArgumentError(`${m[1]} sizes must be positive integers, got '${m[2]}'`);
  const unique = [...new Set(values as number[])].sort((a, b) => a - b);
  return { param: m[1] as SweepParam, values: unique };
}

/** The id of `base` at one sweep size. */
export function sweepId(base: ModelSpec, param: SweepParam, value: number): string {
  return `${base.id}@${param}=${value}`;
}

/**
 * `base` at each size of the sweep: batch sets the batch size; width sets every hidden layer
 * (input and output widths stay, as the data recipe fixes them).
 * @throws UsageError for a width sweep of a model without hidden layers.
 */
export function sweepSpecs(base: ModelSpec, sweep: Sweep): ModelSpec[] {
  if (sweep.param === "width" && base.layers.length < 3) {
    throw new UsageError(`--sweep width: model ${base.id} has no hidden layer to widen (layers ${base.layers.join(",")})`);
  }
  return sweep.values.map((v) => {
    const id = sweepId(base, sweep.param, v);
    if (sweep.param === "batch") return { ...base, id, batch: v };
    const layers = base.layers.map((w, i) => (i === 0 || i === base.layers.length - 1 ? w : v));
    return { ...base, id, layers };
  });
}
