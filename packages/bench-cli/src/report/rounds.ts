import { formatMsRange, MISSING } from "./format.js";
import type { Measured } from "./metrics.js";
import { minMax } from "./series.js";

/**
 * How the reports show `bench --rounds`: the median row says how many rounds it is the median
 * of, and one more row gives each frontend's lowest and highest round median, so the noise
 * between processes is on the page beside the figure it could move.
 */

/** The label of the row under the median: each frontend's lowest and highest round median. */
export const ROUNDS_SPREAD_LABEL = "ms/step, rounds min–max";

/** A run's round medians (`BenchResult.rounds`), if it is one of our frontends' and ran rounds. */
export function roundMedians(r: Measured | undefined): number[] | undefined {
  return r && "rounds" in r ? r.rounds?.medianMsPerStep : undefined;
}

/** "5 rounds" for the runs that have rounds ("3/5 rounds" if a merged file mixes counts); null when none has. */
export function roundsCount(runs: readonly (Measured | undefined)[]): string | null {
  const counts = [...new Set(runs.map((r) => roundMedians(r)?.length).filter((n): n is number => n !== undefined))];
  return counts.length === 0 ? null : `${counts.join("/")} rounds`;
}

/** A run's lowest–highest round median ("7.50–12.2 ms"), or "-" for a run without rounds. */
export function roundsRange(r: Measured | undefined): string {
  const medians = roundMedians(r);
  if (!medians) return MISSING;
  const { min, max } = minMax(medians);
  return formatMsRange(min, max);
}

/**
 * The spread row for one model's runs: the label, then per run its lowest–highest round median
 * ("-" for a run without rounds), then an empty comparison cell when `compare` is set. Null when
 * no run has rounds, so reports of single-round runs look as they always did.
 */
export function roundsSpreadRow(runs: readonly (Measured | undefined)[], compare: boolean): string[] | null {
  if (roundsCount(runs) === null) return null;
  return [ROUNDS_SPREAD_LABEL, ...runs.map(roundsRange), ...(compare ? [""] : [])];
}
