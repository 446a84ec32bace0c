import type { Measured } from "./metrics.js";
import type { BenchReport } from "./types.js";

/**
 * Every measured run of a report indexed by model and frontend, built in one pass. The renderers
 * ask "the run of model m on frontend f" once per cell; answering by scanning `results` made a
 * 40k-model report take minutes (quadratic), a Map makes it linear.
 */
export interface RunIndex {
  /** Models with at least one measured run (frontend or peer), in report order. */
  models: string[];
  /** Frontends and peers seen anywhere, in first-seen order. */
  frontends: string[];
  /** The run of `model` on `frontend` (the last one wins if a file repeats a pair). */
  get(model: string, frontend: string): Measured | undefined;
  /** All runs of `model` (our frontends' and peers'), in report order. */
  runsOf(model: string): Measured[];
}

interface Cached {
  results: unknown;
  peers: unknown;
  resultCount: number;
  peerCount: number;
  index: RunIndex;
}

// One index per report object; rebuilt when its arrays were replaced or grew (bench adds peers
// to a report before writing it).
const cache = new WeakMap<BenchReport, Cached>();

/** The run index of `report`, built once per report (and again only if its run arrays changed). */
export function runIndex(report: BenchReport): RunIndex {
  const hit = cache.get(report);
  const peers = report.peers ?? [];
  if (hit && hit.results === report.results && hit.peers === report.peers && hit.resultCount === report.results.length && hit.peerCount === peers.length) {
    return hit.index;
  }
  const byModel = new Map<string, Map<string, Measured>>();
  const lists = new Map<string, Measured[]>();
  const frontends = new Set<string>();
  for (const r of [...report.results, ...peers] as Measured[]) {
    let m = byModel.get(r.model);
    if (!m) {
      byModel.set(r.model, (m = new Map()));
      lists.set(r.model, []);
    }
    m.set(r.frontend, r);
    lists.get(r.model)!.push(r);
    frontends.add(r.frontend);
  }
  const index: RunIndex = {
    models: [...byModel.keys()],
    frontends: [...frontends],
    get: (model, frontend) => byModel.get(model)?.get(frontend),
    runsOf: (model) => lists.get(model) ?? [],
  };
  cache.set(report, { results: report.results, peers: report.peers, resultCount: report.results.length, peerCount: peers.length, index });
  return index;
}

/** The canonical column order: eager first (the baseline), graph second, anything else after. */
const FRONTEND_ORDER = ["eager", "graph"];

/** Every measured run: our frontends' results, then the peer libraries' (`bench --peers`). */
export function runsOf(report: BenchReport): Measured[] {
  return [...report.results, ...(report.peers ?? [])];
}

/** Models in the order the report lists them (bench order), peer-only and agreement-only models after. */
export function modelsOf(report: BenchReport): string[] {
  const seen = new Set<string>();
  for (const r of runsOf(report)) seen.add(r.model);
  for (const a of report.agreement) seen.add(a.model);
  return [...seen];
}

/** Models with at least one measured run (frontend or peer), in report order. */
export function benchedModels(report: BenchReport): string[] {
  return runIndex(report).models;
}

/** The frontends and peers measured anywhere in the report: eager, graph, then the peers. */
export function frontendsOf(report: BenchReport): string[] {
  const seen = [...runIndex(report).frontends];
  const rank = (f: string) => {
    const i = FRONTEND_ORDER.indexOf(f);
    return i < 0 ? FRONTEND_ORDER.length + seen.indexOf(f) : i;
  };
  return seen.sort((a, b) => rank(a) - rank(b));
}

/** True when both frontends were measured, i.e. a "graph vs eager" comparison makes sense. */
export function hasComparison(report: BenchReport): boolean {
  const fs = frontendsOf(report);
  return fs.includes("eager") && fs.includes("graph");
}
