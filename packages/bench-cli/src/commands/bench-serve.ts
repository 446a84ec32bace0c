import type { Command } from "commander";
import { PhiloxGenerator } from "@dualgrad/core";
import { UsageError } from "../errors.js";
import { newTable, note } from "../output.js";
import { listOf, nonNegativeInt, positiveInt, positiveNumber } from "../parse.js";
import { FRONTENDS, type Frontend } from "../runners/index.js";
import { addModelSourceOptions, modelSource, type ModelSourceFlags } from "../serve/model-source.js";
import { measureRequestCosts } from "../serve/request-costs.js";
import { spawnServer, type ServerProcess } from "../serve/spawn-server.js";

interface BenchServeFlags extends ModelSourceFlags {
  frontends: Frontend[];
  concurrency: string;
  requests: number;
  maxSeconds: number;
  maxBatch: number;
  maxWaitMs: number;
  ceiling: boolean;
  rounds: number;
  /** The global --threads, when given. */
  threads?: number;
}

/** One load run against one server configuration (with --rounds, the medians of its runs). */
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
  /** Mean rows per model call (1 without batching). */
  rowsPerCall: number;
  /** CPU time of the server process (all its threads) per answered request, in microseconds. */
  serverCpuUs: number;
  /** CPU time of the load generator (this process) per answered request, in microseconds. */
  clientCpuUs: number;
}

/** The counters of a server's /metrics that a run's figures are differences of. */
interface Counters {
  cpuSeconds: number;
  batchRows: number;
  batches: number;
}

async function scrape(baseUrl: string): Promise<Counters> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  return { cpuSeconds: read("process_cpu_seconds_total"), batchRows: read("dualgrad_batch_size_sum"), batches: read("dualgrad_batch_size_count") };
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
  const cpu = process.cpuUsage();
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
  const used = process.cpuUsage(cpu);
  return { result, seconds: (last - start) / 1000, clientCpuSeconds: (used.user + used.system) / 1e6 };
}

/** One measured run against a started server: throughput, latency, and where the CPU went. */
async function measure(baseUrl: string, body: string, concurrency: number, flags: BenchServeFlags): Promise<Omit<ServeRun, "frontend" | "batching">> {
  const before = await scrape(baseUrl);
  const { result: r, seconds, clientCpuSeconds } = await load(`${baseUrl}/v1/models/m:predict`, body, concurrency, flags.requests, flags.maxSeconds);
  const after = await scrape(baseUrl);
  const done = r["2xx"];
  return {
    concurrency, requests: done, seconds, requestsPerSec: done / seconds, p50Ms: r.latency.p50, p99Ms: r.latency.p99, failures: r.non2xx + r.errors,
    rowsPerCall: (after.batchRows - before.batchRows) / (after.batches - before.batches),
    serverCpuUs: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / done,
    clientCpuUs: (clientCpuSeconds * 1e6) / done,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** One configuration's runs as one row: the median of each figure, the sums of requests and failures. */
function combine(runs: Omit<ServeRun, "frontend" | "batching">[]): Omit<ServeRun, "frontend" | "batching"> {
  const med = (k: "seconds" | "requestsPerSec" | "p50Ms" | "p99Ms" | "rowsPerCall" | "serverCpuUs" | "clientCpuUs") => median(runs.map((r) => r[k]));
  return {
    concurrency: runs[0].concurrency,
    requests: runs.reduce((n, r) => n + r.requests, 0),
    failures: runs.reduce((n, r) => n + r.failures, 0),
    seconds: med("seconds"), requestsPerSec: med("requestsPerSec"), p50Ms: med("p50Ms"), p99Ms: med("p99Ms"),
    rowsPerCall: med("rowsPerCall"), serverCpuUs: med("serverCpuUs"), clientCpuUs: med("clientCpuUs"),
  };
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
    .option("--max-wait-ms <n>", "serve --max-wait-ms", nonNegativeInt, 0)
    .option("--rounds <n>", "runs of every configuration, taken in turn; the table shows medians", positiveInt, 1)
    .option("--no-ceiling", "skip the run against a next-to-no-compute model (what parsing and HTTP alone allow) and the in-process cost figures")
    .action(async (flags: BenchServeFlags) => {
      const levels = flags.concurrency.split(",").map((s) => Number(s.trim()));
      if (levels.some((c) => !Number.isInteger(c) || c <= 0)) throw new UsageError(`--concurrency: expected positive integers like 1,16,64, got '${flags.concurrency}'`);
      const source = modelSource({ ...flags, model: flags.model ?? (flags.layers ? undefined : "mlp") });
      const { spec } = source;
      // One instance per request, as a client sending single examples would.
      const body = JSON.stringify({ instances: [Array.from(new PhiloxGenerator(1).uniform(spec.layers[0], 0, 1))] });
      const modelArgs = [flags.layers ? ["--layers", flags.layers] : ["--model", spec.id], flags.activation ? ["--activation", flags.activation] : [], flags.weights ? ["--weights", flags.weights] : []].flat();
      const top = Math.max(...levels);
      // The load generator shares this machine's cores with the servers. A server's matmul spread
      // over threads waits for a core autocannon holds and its idle workers spin on one, so unless
      // asked otherwise (--threads, DUALGRAD_THREADS) the servers keep their matmuls on one thread.
      const threadArgs = flags.threads === undefined && process.env.DUALGRAD_THREADS === undefined ? ["--threads", "1"] : [];
      const serveArgs = (frontend: Frontend) => [...modelArgs, ...threadArgs, "--name", "m", "--frontend", frontend, "--max-batch", String(flags.maxBatch), "--max-wait-ms", String(flags.maxWaitMs), "--seed", String(flags.seed)];
      const configs: { frontend: Frontend; batching: boolean; args: string[]; levels: number[] }[] = flags.frontends.flatMap((frontend) => [
        { frontend, batching: true, args: serveArgs(frontend), levels },
        { frontend, batching: false, args: [...serveArgs(frontend), "--no-batching"], levels },
      ]);
      // The same requests to a model with next to no compute (one output): what parsing, HTTP
      // and the load generator alone allow on this machine, the bound no batching can beat.
      const ceilingConfig = { frontend: "eager" as Frontend, batching: false, args: ["--layers", `${spec.layers[0]},1`, ...threadArgs, "--name", "m", "--frontend", "eager", "--no-batching"], levels: [top] };
      const all = flags.ceiling ? [...configs, ceilingConfig] : configs;
      // Every server is up for the whole run (an idle one costs nothing), so rounds can take the
      // configurations in turn: a slow spell of a shared machine then hits all of them alike.
      const servers: ServerProcess[] = [];
      const samples = all.map((c) => c.levels.map(() => [] as Omit<ServeRun, "frontend" | "batching">[]));
      try {
        for (const c of all) {
          const server = await spawnServer(c.args);
          servers.push(server);
          await load(`${server.url}/v1/models/m:predict`, body, 4, 200, flags.maxSeconds); // warm-up: JIT, sockets
        }
        for (let round = 1; round <= flags.rounds; round++) {
          for (const [i, c] of all.entries()) {
            for (const [j, concurrency] of c.levels.entries()) {
              const m = await measure(servers[i].url, body, concurrency, flags);
              samples[i][j].push(m);
              const what = c === ceilingConfig ? "ceiling" : `${c.frontend} ${c.batching ? "batching" : "no batching"}`;
              note(`${flags.rounds > 1 ? `round ${round}: ` : ""}${what} c=${concurrency}: ${m.requestsPerSec.toFixed(0)} req/s, p50 ${m.p50Ms} ms, p99 ${m.p99Ms} ms`);
            }
          }
        }
      } finally {
        for (const server of servers) await server.stop();
      }
      const runs: ServeRun[] = configs.flatMap((c, i) => c.levels.map((_, j) => ({ frontend: c.frontend, batching: c.batching, ...combine(samples[i][j]) })));
      const ceiling = flags.ceiling ? combine(samples[all.length - 1][0]) : undefined;
      const table = newTable(["frontend", "batching", "concurrency", "req/s", "p50 ms", "p99 ms", "rows/call", "server cpu µs/req", "client cpu µs/req", "requests", "failures"]);
      for (const r of runs) {
        table.push([r.frontend, r.batching ? "on" : "off", r.concurrency, r.requestsPerSec.toFixed(0), r.p50Ms, r.p99Ms, r.rowsPerCall.toFixed(1), r.serverCpuUs.toFixed(0), r.clientCpuUs.toFixed(0), r.requests, r.failures]);
      }
      const rounds = flags.rounds > 1 ? `, the median of ${flags.rounds} rounds (requests and failures: their sums)` : "";
      process.stdout.write(`${spec.id}: one instance per request, ${flags.requests} requests per run (at most ${flags.maxSeconds} s)${rounds}\n${table.toString()}\n`);
      const graph = runs.find((r) => r.frontend === "graph" && r.batching && r.concurrency === top);
      const eager = runs.find((r) => r.frontend === "eager" && !r.batching && r.concurrency === top);
      if (graph && eager) {
        process.stdout.write(
          `graph with batching vs eager without, at concurrency ${top}: ${(graph.requestsPerSec / eager.requestsPerSec).toFixed(2)}x the throughput; graph p99 ${graph.p99Ms} ms\n`,
        );
      }
      if (ceiling) {
        process.stdout.write(
          `ceiling at concurrency ${top}, the same requests to a ${spec.layers[0]}->1 linear model (parsing and HTTP, next to no compute): ` +
            `${ceiling.requestsPerSec.toFixed(0)} req/s, p99 ${ceiling.p99Ms} ms, server cpu ${ceiling.serverCpuUs.toFixed(0)} µs/req` +
            `${eager ? `; ${(ceiling.requestsPerSec / eager.requestsPerSec).toFixed(2)}x eager without batching is the most any batching could give` : ""}\n`,
        );
      }
      if (flags.ceiling) {
        const c = measureRequestCosts(source, flags.maxBatch, body);
        // The shared part of a request (HTTP, reading, answering) is what the ceiling's server spends on one.
        const shared = ceiling ? ceiling.serverCpuUs : 0;
        process.stdout.write(
          `in process, fastest of many calls: reading a request ${c.parseUs.toFixed(0)} µs (JSON.parse and checks: ${c.jsonParseUs.toFixed(0)}); ` +
            `the forward pass per request ${c.eagerRowUs.toFixed(0)} µs eager on one row, ${c.graphBatchRowUs.toFixed(1)} µs graph in a batch of ${flags.maxBatch}. ` +
            `So batching saves at most ${(c.eagerRowUs - c.graphBatchRowUs).toFixed(0)} µs a request: ${(c.eagerRowUs / c.graphBatchRowUs).toFixed(2)}x if nothing else cost anything` +
            `${ceiling ? `, ${((shared + c.eagerRowUs) / (shared + c.graphBatchRowUs)).toFixed(2)}x with the ceiling's ${shared.toFixed(0)} µs of server CPU a request` : ""}; ` +
            // (S + e) / (S + g) >= 3 exactly when S <= (e - 3g) / 2.
            `3x needs everything but the forward pass to cost at most ${Math.max(0, (c.eagerRowUs - 3 * c.graphBatchRowUs) / 2).toFixed(0)} µs a request\n`,
        );
      }
      if (runs.some((r) => r.failures > 0) || (ceiling?.failures ?? 0) > 0) process.exitCode = 1;
    });
}
