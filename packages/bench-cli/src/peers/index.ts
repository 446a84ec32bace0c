import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { InvalidArgumentError } from "commander";
import type { ModelSpec } from "../models.js";
import type { BenchResult } from "../report/types.js";
import type { MeasureOptions } from "../runners/measure.js";
import { stepStatistics, type Timed } from "../runners/timing.js";

/**
 * Peers: other JS deep-learning libraries run on the same workloads, with the same timing
 * protocol as our frontends (runners/measure.ts), so `dualgrad bench --peers` can print their
 * figures beside ours. They are optional dev dependencies, loaded with dynamic `import()` only
 * when asked for, so the CLI works without them (a note instead of a crash).
 */

/** The peers we know how to run: TF.js on its cpu and wasm backends, jax-js with `jit`. */
export const PEERS = ["tfjs-cpu", "tfjs-wasm", "jax-js"] as const;
export type PeerName = (typeof PEERS)[number];

/** One model on one peer: a `BenchResult` whose frontend is the peer name. */
export interface PeerResult extends Omit<BenchResult, "frontend" | "memory" | "graph"> {
  frontend: PeerName;
  memory: {
    /** Peak resident set size of the process (OS figure), as for our frontends. */
    peakRssBytes: number;
    heapUsedBytes: number;
    /** The library's own tensor accounting, where it has one (TF.js: `tf.profile`, `tf.memory`). */
    peakTensorBytes?: number;
    liveTensorBytes?: number;
    /** TF.js: kernel outputs per step (each a new tensor). */
    allocationsPerStep?: number;
    kernelLaunchesPerStep?: number;
  };
  /** What ran: package versions, backend and how it was driven. */
  peer: { packages: Record<string, string>; backend: string; detail: string };
}

/** The versions the peer code was written and checked against (dev dependencies of this package). */
const TESTED: Record<string, string> = {
  "@tensorflow/tfjs-core": "4.22.0",
  "@tensorflow/tfjs-backend-cpu": "4.22.0",
  "@tensorflow/tfjs-backend-wasm": "4.22.0",
  "@jax-js/jax": "0.1.25",
};

/** The npm packages each peer needs. */
const PACKAGES: Record<PeerName, string[]> = {
  "tfjs-cpu": ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu"],
  "tfjs-wasm": ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu", "@tensorflow/tfjs-backend-wasm"],
  "jax-js": ["@jax-js/jax"],
};

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

/** Versions of `packages`, or a note naming the missing ones and how to install them. */
export function checkInstalled(peer: string, packages: string[]): { available: true; versions: Record<string, string> } | { available: false; note: string } {
  const versions: Record<string, string> = {};
  const missing: string[] = [];
  for (const p of packages) {
    const info = packageInfo(p);
    if (info) versions[p] = info.version;
    else missing.push(p);
  }
  if (missing.length === 0) return { available: true, versions };
  return {
    available: false,
    note: `peer ${peer} skipped: ${missing.join(", ")} not installed (pnpm add -D --filter @dualgrad/bench-cli ${missing.map((p) => (TESTED[p] ? `${p}@${TESTED[p]}` : p)).join(" ")})`,
  };
}

/** Whether `name` is a known peer with its packages installed; when not, the note to print. */
export function peerAvailable(name: string): { available: true; versions: Record<string, string> } | { available: false; note: string } {
  if (!(PEERS as readonly string[]).includes(name)) return { available: false, note: `unknown peer '${name}' (known: ${PEERS.join(", ")})` };
  return checkInstalled(name, PACKAGES[name as PeerName]);
}

/** `--peers` values: peer names, plus `tfjs` for both TF.js backends and `all`. */
export function parsePeers(value: string): PeerName[] {
  const out: PeerName[] = [];
  for (const item of value.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (item === "all") out.push(...PEERS);
    else if (item === "tfjs") out.push("tfjs-cpu", "tfjs-wasm");
    else if (item === "jax" || item === "jaxjs") out.push("jax-js");
    else if ((PEERS as readonly string[]).includes(item)) out.push(item as PeerName);
    else throw new InvalidArgumentError(`unknown peer '${item}'; valid: tfjs, ${PEERS.join(", ")}, all`);
  }
  if (out.length === 0) throw new InvalidArgumentError(`empty list; valid: tfjs, ${PEERS.join(", ")}, all`);
  return [...new Set(out)];
}

/**
 * Times one model on one peer: warm-up, then each step individually (each step reads its loss
 * back, which forces completion), at least `steps` steps and `minSeconds`, as `measure` does for
 * our frontends. Meant to run in a fresh process (the `peer-worker` command).
 */
export async function measurePeer(name: string, spec: ModelSpec, options: MeasureOptions): Promise<PeerResult> {
  const status = peerAvailable(name);
  if (!status.available) throw new PeerUnavailableError(status.note);
  if (spec.optimizer !== "sgd") throw new PeerUnavailableError(`peer ${name} skipped for ${spec.id}: peers run plain SGD only (got ${spec.optimizer})`);
  const peer = name as PeerName;
  if (peer === "jax-js") {
    const { measureJaxjs } = await import("./jaxjs.js");
    return measureJaxjs(spec, options, status.versions);
  }
  const { measureTfjs } = await import("./tfjs.js");
  return measureTfjs(peer === "tfjs-cpu" ? "cpu" : "wasm", spec, options, status.versions);
}

export { timeSteps, type Timed } from "../runners/timing.js";

/** A `PeerResult` from a timed run, with the same statistics as `measure` (median, p90, mean, min). */
export function summarize(peer: PeerName, spec: ModelSpec, options: MeasureOptions, run: Timed, info: PeerResult["peer"], tensorMemory: Partial<PeerResult["memory"]> = {}): PeerResult {
  const n = run.times.length;
  const { msPerStep, stepsPerSec, lossCurve } = stepStatistics(run);
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
    peer: info,
  };
}
