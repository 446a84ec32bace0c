import type { Command } from "commander";
import { PhiloxGenerator } from "@dualgrad/core";
import { UsageError } from "../errors.js";
import { newTable, note } from "../output.js";
import { listOf, nonNegativeInt, positiveInt, positiveNumber } from "../parse.js";
import { FRONTENDS, type Frontend } from "../runners/index.js";
import { addModelSourceOptions, modelSource, type ModelSourceFlags } from "../serve/model-source.js";
import { spawnServer } from "../serve/spawn-server.js";

interface BenchServeFlags extends ModelSourceFlags {
  frontends: Frontend[];
  concurrency: string;
  requests: number;
  maxSeconds: number;
  maxBatch: number;
  maxWaitMs: number;
}

/** One load run against one server configuration. */
export interface ServeRun {
  frontend: Frontend;
  batching: boolean;
  concurrency: number;
  requests: number;
  seconds: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses that were not 2xx, and connection errors or timeouts. */
  failures: number;
}

/**
 * Runs autocannon (a dev dependency, loaded when this command runs) against `url`, bounded by
 * request count and time. Returns its result and the seconds from the start to the last
 * response: autocannon ends a run with `amount` only at its next 1 s tick, so its own duration
 * would round every run up to whole seconds.
 */
async function load(url: string, body: string, connections: number, amount: number, maxSeconds: number) {
  let autocannon: typeof import("autocannon");
  try {
    autocannon = (await import("autocannon")).default;
  } catch {
    throw new UsageError("bench-serve needs the load generator autocannon (a dev dependency of @dualgrad/bench-cli): run pnpm install");
  }
  const start = performance.now();
  let last = start;
  const result = await new Promise<import("autocannon").Result>((resolve, reject) => {
    const instance = autocannon(
      { url, method: "POST", headers: { "content-type": "application/json" }, body, connections, amount, timeout: 10 },
      (err, r) => (err ? reject(err) : resolve(r)),
    );
    instance.on("response", () => (last = performance.now()));
    // amount bounds the requests; this bounds the time on a slow machine.
    const timer = setTimeout(() => instance.stop(), maxSeconds * 1000);
    instance.on("done", () => clearTimeout(timer));
  });
  return { result, seconds: (last - start) / 1000 };
}

/** `dualgrad bench-serve`: throughput and latency of `dualgrad serve`, eager vs graph, batching on vs off. */
export function registerBenchServe(program: Command): void {
  const cmd = program
    .command("bench-serve")
    .description("load-test dualgrad serve on loopback (autocannon): requests/s and p50/p99 latency, eager vs graph, batching on vs off");
  addModelSourceOptions(cmd)
    .option("--frontends <list>", "frontends to serve with", listOf(FRONTENDS), [...FRONTENDS])
    .option("--concurrency <list>", "connections kept busy, one run each", "1,16,64")
    .option("--requests <n>", "requests per run", positiveInt, 3000)
    .option("--max-seconds <s>", "time limit per run", positiveNumber, 10)
    .option("--max-batch <n>", "serve --max-batch", positiveInt, 64)
    .option("--max-wait-ms <n>", "serve --max-wait-ms", nonNegativeInt, 2)
    .action(async (flags: BenchServeFlags) => {
      const levels = flags.concurrency.split(",").map((s) => Number(s.trim()));
      if (levels.some((c) => !Number.isInteger(c) || c <= 0)) throw new UsageError(`--concurrency: expected positive integers like 1,16,64, got '${flags.concurrency}'`);
      const source = modelSource({ ...flags, model: flags.model ?? (flags.layers ? undefined : "mlp") });
      const { spec } = source;
      // One instance per request, as a client sending single examples would.
      const body = JSON.stringify({ instances: [Array.from(new PhiloxGenerator(1).uniform(spec.layers[0], 0, 1))] });
      const modelArgs = [flags.layers ? ["--layers", flags.layers] : ["--model", spec.id], flags.activation ? ["--activation", flags.activation] : [], flags.weights ? ["--weights", flags.weights] : []].flat();
      const runs: ServeRun[] = [];
      for (const frontend of flags.frontends) {
        for (const batching of [true, false]) {
          const args = [...modelArgs, "--name", "m", "--frontend", frontend, "--max-batch", String(flags.maxBatch), "--max-wait-ms", String(flags.maxWaitMs), "--seed", String(flags.seed)];
          const server = await spawnServer(batching ? args : [...args, "--no-batching"]);
          const url = `${server.url}/v1/models/m:predict`;
          try {
            await load(url, body, 4, 200, flags.maxSeconds); // warm-up: JIT, sockets
            for (const concurrency of levels) {
              const { result: r, seconds } = await load(url, body, concurrency, flags.requests, flags.maxSeconds);
              const done = r["2xx"];
              const run: ServeRun = {
                frontend, batching, concurrency, requests: done, seconds,
                requestsPerSec: done / seconds, p50Ms: r.latency.p50, p99Ms: r.latency.p99, failures: r.non2xx + r.errors,
              };
              runs.push(run);
              note(`${frontend} ${batching ? "batching" : "no batching"} c=${concurrency}: ${run.requestsPerSec.toFixed(0)} req/s, p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms`);
            }
          } finally {
            await server.stop();
          }
        }
      }
      const table = newTable(["frontend", "batching", "concurrency", "req/s", "p50 ms", "p99 ms", "requests", "failures"]);
      for (const r of runs) table.push([r.frontend, r.batching ? "on" : "off", r.concurrency, r.requestsPerSec.toFixed(0), r.p50Ms, r.p99Ms, r.requests, r.failures]);
      process.stdout.write(`${spec.id}: one instance per request, ${flags.requests} requests per run (at most ${flags.maxSeconds} s)\n${table.toString()}\n`);
      const top = Math.max(...levels);
      const graph = runs.find((r) => r.frontend === "graph" && r.batching && r.concurrency === top);
      const eager = runs.find((r) => r.frontend === "eager" && !r.batching && r.concurrency === top);
      if (graph && eager) {
        process.stdout.write(
          `graph with batching vs eager without, at concurrency ${top}: ${(graph.requestsPerSec / eager.requestsPerSec).toFixed(2)}x the throughput; graph p99 ${graph.p99Ms} ms\n`,
        );
      }
      if (runs.some((r) => r.failures > 0)) process.exitCode = 1;
    });
}
