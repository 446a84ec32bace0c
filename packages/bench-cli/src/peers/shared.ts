import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ModelSpec } from "../models.js";
import type { PeerResult } from "../report/types.js";
import { stepStatistics, type MeasureOptions, type Timed } from "../runners/timing.js";
import type { PeerName } from "./names.js";

/**
 * What every peer runner (tfjs.ts, jaxjs.ts) shares with the peer selection in index.ts: the
 * "cannot run here" error, finding an installed package, and turning a timed run into a
 * `PeerResult`. Its own module so that the runners, which index.ts loads lazily, never import
 * index.ts back.
 */

/** A peer that cannot run here: not installed, unknown, or failing to start. The message is the note to print. */
export class PeerUnavailableError extends Error {
  override name = "PeerUnavailableError";
}

const require = createRequire(import.meta.url);

/** Where an installed package lives and its version, or null when it cannot be resolved from here. */
export function packageInfo(name: string): { dir: string; entry: string; version: string } | null {
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    return null;
  }
  // Walk up from the entry to the package's own package.json (some packages do not export it).
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
    if (pkg.name === name) return { dir, entry, version: pkg.version ?? "unknown" };
  }
  return null;
}

/** A `PeerResult` from a timed run, with the same statistics as `measure` (median, p90, mean, min). */
export function summarize(peer: PeerName, spec: ModelSpec, options: MeasureOptions, run: Timed, info: PeerResult["peer"], tensorMemory: Partial<PeerResult["memory"]> = {}): PeerResult {
  const n = run.times.length;
  const { msPerStep, stepsPerSec, lossCurve, lossSteps } = stepStatistics(run);
  return {
    model: spec.id,
    frontend: peer,
    steps: n,
    warmup: options.warmup,
    msPerStep,
    stepsPerSec,
    memory: {
      ...tensorMemory,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      heapUsedBytes: process.memoryUsage().heapUsed,
    },
    loss: { first: run.losses[0], last: run.losses[n - 1] },
    lossCurve,
    lossSteps,
    peer: info,
  };
}
