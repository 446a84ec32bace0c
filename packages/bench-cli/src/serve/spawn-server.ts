import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** A `dualgrad serve` child process that listens on loopback. */
export interface ServerProcess {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** Resolves with the exit code once the process is gone. */
  readonly exited: Promise<number | null>;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number | null>;
}

/** The built CLI next to this file (dist/serve/ -> dist/cli.js). */
const CLI = fileURLToPath(new URL("../cli.js", import.meta.url));

/**
 * Starts `dualgrad serve <args> --port 0` in its own process (so a load generator in this one
 * never shares its event loop) and resolves once it prints the URL it listens on.
 */
export function spawnServer(args: readonly string[], timeoutMs = 60_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CLI, "serve", ...args, "--host", "127.0.0.1", "--port", "0"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`dualgrad serve did not start within ${timeoutMs} ms: ${stderr.trim()}`));
    }, timeoutMs);
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        child,
        url: m[1],
        exited,
        stderr: () => stderr,
        stop: () => {
          child.kill("SIGTERM");
          return exited;
        },
      });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`dualgrad serve exited with code ${code} before listening: ${stderr.trim()}`));
    });
  });
}
