import type { ModelSpec } from "../models.js";
import type { BenchResult } from "../report/types.js";
import type { Frontend } from "./index.js";

/**
 * `bench --rounds n`: every (model, frontend) measured in n fresh processes, then reported as
 * one result. On a shared machine one process's step time can be 1.5x another's minutes later,
 * so a single process per frontend can put that drift into the eager/graph ratio; several
 * rounds taken in turn (eager, graph, eager, graph, ...) let slow drift hit both frontends alike,
 * and the median round is what the tables show, with the rounds' spread beside it.
 */

/**
 * Measures every spec on every frontend `rounds` times: per spec, round by round, and inside a
 * round each frontend in turn (e0 g0 e1 g1 ...), so a slow spell lands on both frontends rather
 * than on all of one. `run` measures once (in a fresh process); its `round` is 1-based, for
 * progress notes. Returns one result per (spec, frontend), specs in order and frontends in order
 * within a spec, each {@link combineRounds} of its rounds. With one round, `run`'s results as they are.
 */
export async function measureRounds(
  specs: readonly ModelSpec[],
  frontends: readonly Frontend[],
  rounds: number,
  run: (spec: ModelSpec, frontend: Frontend, round: number) => Promise<BenchResult>,
): Promise<BenchResult[]> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`measureRounds: rounds must be a positive integer, got ${rounds}`);
  const out: BenchResult[] = [];
  for (const spec of specs) {
    const samples = frontends.map(() => [] as BenchResult[]);
    for (let round = 1; round <= rounds; round++) {
      for (const [i, frontend] of frontends.entries()) samples[i].push(await run(spec, frontend, round));
    }
    out.push(...samples.map(combineRounds));
  }
  return out;
}

/**
 * One (model, frontend)'s rounds as one result: the whole result of the round whose median
 * ms/step is the median of the rounds' medians, so every figure in it (p90, memory, launches,
 * static costs) comes from one real process rather than a mix of several; with
 * `rounds.medianMsPerStep` (every round's median, in the order run) attached. For an even count
 * it takes the lower of the two middle rounds: a real round rather than an average of two, and
 * of the two the one a busy neighbour slowed less. Equal medians rank in run order. One round is
 * returned unchanged (no `rounds` field), so `--rounds 1` output is what it always was.
 *
 * @throws Error when `results` is empty or mixes models or frontends.
 */
export function combineRounds(results: readonly BenchResult[]): BenchResult {
  if (results.length === 0) throw new Error("combineRounds: no rounds to combine");
  const [first] = results;
  const odd = results.find((r) => r.model !== first.model || r.frontend !== first.frontend);
  if (odd) throw new Error(`combineRounds: rounds of ${first.model}/${first.frontend} include ${odd.model}/${odd.frontend}`);
  if (results.length === 1) return first;
  const medians = results.map((r) => r.msPerStep.median);
  // A stable sort of the round indices by median: equal medians keep run order.
  const order = medians.map((_, i) => i).sort((a, b) => medians[a] - medians[b]);
  return { ...results[order[(results.length - 1) >> 1]], rounds: { medianMsPerStep: medians } };
}
