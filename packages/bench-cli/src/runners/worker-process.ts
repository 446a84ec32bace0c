import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { childEngineArgs } from "../relaxed-simd.js";

/** The CLI entry (dist/cli.js): measurement workers are this same program run with a hidden command. */
export const CLI_PATH = fileURLToPath(new URL("../cli.js", import.meta.url));

/** What a worker process left behind. */
export interface WorkerOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The command line of a worker: Node's flags for relaxed SIMD (see ../relaxed-simd.ts: the same
 * engine features as this process), the CLI, then `args`.
 */
export function workerArgv(args: readonly string[]): string[] {
  return [...childEngineArgs(), CLI_PATH, ...args];
}

/**
 * Runs `dualgrad <args>` in a fresh Node process (so its memory figures are its own) and
 * collects its output. Rejects only if the process cannot be started.
 */
export function runCliWorker(args: readonly string[]): Promise<WorkerOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, workerArgv(args), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
