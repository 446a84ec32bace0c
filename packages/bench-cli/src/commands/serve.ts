import { getThreads } from "@dualgrad/core";
import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import { note } from "../output.js";
import { nonNegativeInt, positiveInt } from "../parse.js";
import type { Frontend } from "../runners/index.js";
import { addModelSourceOptions, modelSource, type ModelSourceFlags } from "../serve/model-source.js";
import { makePredictor } from "../serve/predictor.js";
import { startServer } from "../serve/server.js";

interface ServeFlags extends ModelSourceFlags {
  name?: string;
  frontend: Frontend;
  host: string;
  port: number;
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  maxBodyBytes: number;
  batching: boolean;
}

function batchingNote(flags: ServeFlags): string {
  if (!flags.batching) return "no batching";
  return `batches of up to ${flags.maxBatch}, ${flags.maxWaitMs > 0 ? `waiting up to ${flags.maxWaitMs} ms for company` : "of what queued while the model was busy"}`;
}

/** `dualgrad serve`: an HTTP inference server (TF Serving's REST API) with dynamic batching. */
export function registerServe(program: Command): void {
  const cmd = program
    .command("serve")
    .description("serve a model over HTTP (TF Serving's REST API: POST /v1/models/NAME:predict) with dynamic batching");
  addModelSourceOptions(cmd)
    .option("--name <name>", "model name in the URLs (default: the model id)")
    .addOption(new Option("--frontend <name>", "frontend that runs the model").choices(["graph", "eager"]).default("graph"))
    .option("--host <address>", "address to listen on (loopback by default; 0.0.0.0 exposes the server)", "127.0.0.1")
    .option("--port <n>", "port (0 picks a free one)", nonNegativeInt, 8080)
    .option("--max-batch <n>", "most instances in one batched model call (and in one request)", positiveInt, 64)
    .option("--max-wait-ms <n>", "longest a request waits for others to join its batch (0: none; a batch is what queued while the model was busy)", nonNegativeInt, 0)
    .option("--max-queue <n>", "most requests waiting; more are answered 429", positiveInt, 1024)
    .option("--max-body-bytes <n>", "largest request body", positiveInt, 8 * 1024 * 1024)
    .option("--no-batching", "run each request as its own model call")
    .action(async (flags: ServeFlags) => {
      if (flags.port > 65535) throw new UsageError(`--port: expected 0..65535, got ${flags.port}`);
      const source = modelSource(flags);
      const name = flags.name ?? source.spec.id;
      if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new UsageError(`--name: use letters, digits, '.', '_' and '-' only, got '${name}'`);
      const predictor = makePredictor(source, flags.frontend, flags.maxBatch);
      const running = await startServer(predictor, { ...flags, name }).catch((e: NodeJS.ErrnoException) => {
        predictor.dispose();
        if (e.code === "EADDRINUSE" || e.code === "EACCES" || e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND") {
          throw new UsageError(`cannot listen on ${flags.host}:${flags.port} (${e.code}): ${e.code === "EADDRINUSE" ? "the port is in use" : e.message}`);
        }
        throw e;
      });
      note(
        `serving ${source.spec.id} [${source.spec.layers.join(", ")}] on the ${flags.frontend} frontend at ${running.url}/v1/models/${name}:predict ` +
          `(${source.origin}; ${batchingNote(flags)}` +
          `${predictor.buckets.length ? `, compiled for batch sizes ${predictor.buckets.join(", ")}` : ""}; big matmuls on ${getThreads()} thread${getThreads() === 1 ? "" : "s"})`,
      );
      // SIGTERM/SIGINT: stop accepting, answer what was received, exit 0.
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          note(`${signal}: answering the requests received, then stopping`);
          running.close().then(resolve, resolve);
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      predictor.dispose();
      note("stopped");
    });
}
