import { format } from "node:util";
import type { Command } from "commander";
import { UsageError } from "../errors.js";
import type { ModelSpec } from "../models.js";
import { PeerUnavailableError, measurePeer, type PeerName, type PeerResult } from "../peers/index.js";
import { runCliWorker } from "../runners/worker-process.js";
import { addProtocolOptions } from "./protocol-options.js";


/** What a peer worker reports: a result, or why the peer did not run (a note, not a failure). */
export type PeerOutcome = { ok: true; result: PeerResult } | { ok: false; peer: string; model: string; note: string };

/** The protocol flags a peer worker takes (those of `bench`). */
export interface PeerFlags {
  steps: number;
  warmup: number;
  minTime: number;
  seed: number;
}

/**
 * `dualgrad peer-worker` (hidden): times one model on one peer library in this process and
 * prints one JSON line, a `PeerOutcome`. Libraries that log to stdout are sent to stderr so the
 * line stays parseable.
 */
export function registerPeerWorker(program: Command): void {
  addProtocolOptions(program.command("peer-worker", { hidden: true }).requiredOption("--peer <name>").requiredOption("--spec <json>"))
    .action(async (flags: PeerFlags & { peer: string; spec: string }) => {
      let spec: ModelSpec;
      try {
        spec = JSON.parse(flags.spec) as ModelSpec;
      } catch {
        throw new UsageError("peer-worker: --spec must be JSON");
      }
      const out = process.stdout.write.bind(process.stdout);
      const toStderr = (...args: unknown[]) => void process.stderr.write(`${format(...args)}\n`);
      console.log = toStderr;
      console.info = toStderr;
      let outcome: PeerOutcome;
      try {
        const result = await measurePeer(flags.peer, spec, { steps: flags.steps, warmup: flags.warmup, minSeconds: flags.minTime, seed: flags.seed });
        outcome = { ok: true, result };
      } catch (err) {
        if (!(err instanceof PeerUnavailableError)) throw err;
        outcome = { ok: false, peer: flags.peer, model: spec.id, note: err.message };
      }
      out(`${JSON.stringify(outcome)}\n`);
    });
}

/**
 * Runs one model on one peer in a fresh Node process (like bench's `runWorker`). Never rejects:
 * a worker that crashes becomes a note with the end of its stderr, so one broken peer does not
 * cost the rest of the run.
 */
export async function runPeerWorker(spec: ModelSpec, peer: PeerName, flags: PeerFlags): Promise<PeerOutcome> {
  const args = [
    "peer-worker", "--peer", peer, "--spec", JSON.stringify(spec),
    "--steps", String(flags.steps), "--warmup", String(flags.warmup), "--min-time", String(flags.minTime), "--seed", String(flags.seed),
  ];
  const failed = (why: string): PeerOutcome => ({ ok: false, peer, model: spec.id, note: `peer ${peer} failed on ${spec.id}: ${why}` });
  let run;
  try {
    run = await runCliWorker(args);
  } catch (e) {
    return failed(e instanceof Error ? e.message : String(e));
  }
  if (run.code !== 0) return failed(`exit ${run.code}: ${run.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  const line = run.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as PeerOutcome;
  } catch {
    return failed(`printed no result: ${run.stdout.slice(0, 200)}`);
  }
}
