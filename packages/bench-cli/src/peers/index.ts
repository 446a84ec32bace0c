import { InvalidArgumentError } from "commander";
import type { ModelSpec } from "../models.js";
import type { PeerResult } from "../report/types.js";
import type { MeasureOptions } from "../runners/timing.js";
import { PEERS, TORCH_PEERS, isTorchPeer, type PeerName } from "./names.js";
import { PeerUnavailableError, packageInfo } from "./shared.js";
import { torchAvailable } from "./torch-env.js";

export { PEERS, TORCH_PEERS, type PeerName } from "./names.js";
export { PeerUnavailableError, packageInfo } from "./shared.js";
export type { PeerResult } from "../report/types.js";

/**
 * Peers: other JS deep-learning libraries run on the same workloads, with the same timing
 * protocol as our frontends (runners/measure.ts), so `dualgrad bench --peers` can print their
 * figures beside ours. They are optional dev dependencies, loaded with dynamic `import()` only
 * when asked for, so the CLI works without them (a note instead of a crash).
 */

/** The versions the peer code was written and checked against (dev dependencies of this package). */
const TESTED: Record<string, string> = {
  "@tensorflow/tfjs-core": "4.22.0",
  "@tensorflow/tfjs-backend-cpu": "4.22.0",
  "@tensorflow/tfjs-backend-wasm": "4.22.0",
  "@jax-js/jax": "0.1.25",
};

/** The npm packages each JS peer needs (the torch peers need a Python with torch instead). */
const PACKAGES: Record<Exclude<PeerName, (typeof TORCH_PEERS)[number]>, string[]> = {
  "tfjs-cpu": ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu"],
  "tfjs-wasm": ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu", "@tensorflow/tfjs-backend-wasm"],
  "jax-js": ["@jax-js/jax"],
};

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
  if (isTorchPeer(name)) return torchAvailable();
  return checkInstalled(name, PACKAGES[name as keyof typeof PACKAGES]);
}

/** `--peers` values: peer names, plus `tfjs` for both TF.js backends, `torch` for the four PyTorch runs, and `all`. */
export function parsePeers(value: string): PeerName[] {
  const out: PeerName[] = [];
  for (const item of value.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (item === "all") out.push(...PEERS);
    else if (item === "tfjs") out.push("tfjs-cpu", "tfjs-wasm");
    else if (item === "torch" || item === "pytorch") out.push(...TORCH_PEERS);
    else if (item === "jax" || item === "jaxjs") out.push("jax-js");
    else if ((PEERS as readonly string[]).includes(item)) out.push(item as PeerName);
    else throw new InvalidArgumentError(`unknown peer '${item}'; valid: tfjs, torch, ${PEERS.join(", ")}, all`);
  }
  if (out.length === 0) throw new InvalidArgumentError(`empty list; valid: tfjs, torch, ${PEERS.join(", ")}, all`);
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
  if (spec.optimizer === "adam") throw new PeerUnavailableError(`peer ${name} skipped for ${spec.id}: peers run SGD (plain or with momentum) only (got ${spec.optimizer})`);
  const peer = name as PeerName;
  if (isTorchPeer(peer)) {
    const { measureTorch } = await import("./torch.js");
    return measureTorch(peer, spec, options, status.versions);
  }
  if (peer === "jax-js") {
    const { measureJaxjs } = await import("./jaxjs.js");
    return measureJaxjs(spec, options, status.versions);
  }
  const { measureTfjs } = await import("./tfjs.js");
  return measureTfjs(peer === "tfjs-cpu" ? "cpu" : "wasm", spec, options, status.versions);
}

