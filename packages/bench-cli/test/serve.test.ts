import { spawn, spawnSync } from "node:child_process";
import { Agent, createServer, request } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PhiloxGenerator } from "@dualgrad/core";
import { describe, expect, it } from "vitest";
import { WORKLOADS, makeTrainer, type Frontend } from "../src/index.js";
import { modelSource } from "../src/serve/model-source.js";
import { makePredictor } from "../src/serve/predictor.js";
import { startServer, type RunningServer, type ServeOptions } from "../src/serve/server.js";

/** Small model, so thousands of requests take seconds. */
const SPEC = WORKLOADS["mlp-small"];
const IN = SPEC.layers[0];

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTP request on loopback. */
function send(url: string, opts: { method?: string; body?: string; type?: string | null; agent?: Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (opts.type !== null) headers["content-type"] = opts.type ?? "application/json";
    const req = request(url, { method: opts.method ?? (opts.body === undefined ? "GET" : "POST"), headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** Starts a server of mlp-small (graph frontend by default) on a free loopback port, runs `body`, then closes it and frees the model. */
async function withServer(options: Partial<ServeOptions>, body: (s: RunningServer, predictUrl: string) => Promise<void>, frontend: Frontend = "graph"): Promise<void> {
  const predictor = makePredictor(modelSource({ model: SPEC.id, seed: 0 }), frontend, options.maxBatch ?? 64);
  const s = await startServer(predictor, {
    name: "m", host: "127.0.0.1", port: 0, maxBatch: 64, maxWaitMs: 2, maxQueue: 1024, maxBodyBytes: 1 << 20, batching: true, ...options,
  });
  try {
    await body(s, `${s.url}/v1/models/m:predict`);
  } finally {
    await s.close();
    predictor.dispose();
  }
}

/** The library's own prediction for one instance (a separate model from the same seed). */
function reference(): ((x: number[]) => number[]) & { dispose(): void } {
  const t = makeTrainer("graph", SPEC, { seed: 0 });
  const out = new Map<string, number[]>();
  return Object.assign((x: number[]) => {
    const key = x.join(",");
    if (!out.has(key)) out.set(key, Array.from(t.predict({ x: Float32Array.from(x), xShape: [1, IN], y: new Float32Array(1), yShape: [1, 1] })));
    return out.get(key)!;
  }, { dispose: () => t.dispose() });
}

/** Batched and single-row matmuls take different kernel paths, so agreement is to float32 rounding, not bits. */
function expectClose(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  const scale = Math.max(1e-30, ...want.map(Math.abs));
  for (let j = 0; j < got.length; j++) expect(Math.abs(got[j] - want[j]) / scale).toBeLessThanOrEqual(1e-5);
}

function instance(i: number): number[] {
  return Array.from(new PhiloxGenerator(i).uniform(IN, -1, 1));
}

/** Bodies that must each get a 400, with a word the error must contain. */
const MALFORMED: { body: string; type?: string; error: RegExp }[] = [
  { body: '{"instances": [[1,2', error: /malformed JSON/ },
  { body: `{"instances": [[${Array(IN).fill(1).join(",")}, NaN]]}`, error: /malformed JSON/ },
  { body: '{"inputs": []}', error: /expected a JSON object \{"instances"/ },
  { body: '{"instances": 3}', error: /"instances" must be a list/ },
  { body: '{"instances": []}', error: /"instances" is empty/ },
  { body: '{"instances": [[1, 2, 3]]}', error: /instances\[0\] has 3 values; the model takes 8/ },
  { body: '{"instances": [5]}', error: /instances\[0\] must be a list of 8 numbers/ },
  { body: `{"instances": [[${Array(IN - 1).fill(1).join(",")}, "x"]]}`, error: /instances\[0\]\[7\] must be a number, got string/ },
  { body: `{"instances": [[${Array(IN - 1).fill(1).join(",")}, 1e999]]}`, error: /instances\[0\]\[7\] = Infinity is not a finite float32/ },
  { body: `{"instances": [[${Array(IN - 1).fill(1).join(",")}, 1e39]]}`, error: /is not a finite float32/ },
  { body: `{"instances": [[${Array(IN).fill(1).join(",")}]]}`, type: "text/plain", error: /content-type must be application\/json/ },
];

describe("dualgrad serve: the HTTP API", () => {
  it("answers predict, status and metrics in TF Serving's and Prometheus's shapes", async () => {
    const ref = reference();
    await withServer({}, async (s, url) => {
      const x = [instance(1), instance(2)];
      const r = await send(url, { body: JSON.stringify({ instances: x }) });
      expect(r.status).toBe(200);
      const { predictions } = JSON.parse(r.body) as { predictions: number[][] };
      expect(predictions).toHaveLength(2);
      predictions.forEach((p, i) => expectClose(p, ref(x[i])));
      const status = await send(`${s.url}/v1/models/m`);
      expect(JSON.parse(status.body)).toEqual({ model_version_status: [{ version: "1", state: "AVAILABLE", status: { error_code: "OK", error_message: "" } }] });
      expect((await send(`${s.url}/v1/models/other`)).status).toBe(404);
      expect((await send(url)).status).toBe(405);
      await send(url, { body: "{" });
      const m = await send(`${s.url}/metrics`);
      expect(m.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
      // Every line is a comment or `name{labels} value`; each metric family has HELP and TYPE.
      for (const line of m.body.trimEnd().split("\n")) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{\w+="[^"]*"\})? -?[\d.e+-]+)$/);
      expect(m.body).toContain('dualgrad_requests_total{code="200"} 1');
      expect(m.body).toContain('dualgrad_requests_total{code="400"} 1');
      expect(m.body).toContain('dualgrad_requests_total{code="405"} 1');
      expect(m.body).toContain("dualgrad_request_errors_total 2");
      expect(m.body).toMatch(/dualgrad_request_duration_seconds_bucket\{le="\+Inf"\} 3\n/);
      expect(m.body).toMatch(/# TYPE dualgrad_batch_size histogram\n/);
      expect(m.body).toMatch(/dualgrad_batch_size_count 1\n/);
    });
    ref.dispose();
  });

  it("the eager frontend serves the same predictions, batched", async () => {
    const ref = reference();
    await withServer({ maxWaitMs: 50 }, async (_s, url) => {
      const xs = Array.from({ length: 12 }, (_, i) => instance(100 + i));
      const replies = await Promise.all(xs.map((x) => send(url, { body: JSON.stringify({ instances: [x] }) })));
      replies.forEach((r, i) => expectClose((JSON.parse(r.body) as { predictions: number[][] }).predictions[0], ref(xs[i])));
    }, "eager");
    ref.dispose();
  });

  it("answers each kind of bad input with 400 and an error naming the problem", async () => {
    await withServer({ maxBodyBytes: 4096, maxBatch: 4 }, async (_s, url) => {
      for (const m of MALFORMED) {
        const r = await send(url, { body: m.body, type: m.type });
        expect(r.status, m.body).toBe(400);
        expect(JSON.parse(r.body).error, m.body).toMatch(m.error);
      }
      let r = await send(url, { body: "{}", type: null });
      expect(JSON.parse(r.body).error).toMatch(/content-type must be application\/json, got 'none'/);
      r = await send(url, { body: JSON.stringify({ instances: Array.from({ length: 5 }, (_, i) => instance(i)) }) });
      expect([r.status, JSON.parse(r.body).error]).toEqual([400, '"instances" has 5 instances; at most 4 per request (--max-batch)']);
      r = await send(url, { body: JSON.stringify({ instances: [instance(0)], pad: "x".repeat(5000) }) });
      expect([r.status, JSON.parse(r.body).error]).toEqual([400, expect.stringMatching(/the limit is 4096/)]);
      // Still serving.
      expect((await send(url, { body: JSON.stringify({ instances: [instance(0)] }) })).status).toBe(200);
    });
  });

  it("answers 429 when the queue is full", async () => {
    // Requests wait 300 ms for company, so three sent at once find a queue of two full.
    await withServer({ maxQueue: 2, maxWaitMs: 300 }, async (_s, url) => {
      const body = JSON.stringify({ instances: [instance(0)] });
      const replies = await Promise.all([send(url, { body }), send(url, { body }), send(url, { body })]);
      expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 429]);
      expect(JSON.parse(replies.find((r) => r.status === 429)!.body).error).toMatch(/queue is full \(2 requests waiting\)/);
    });
  });

  it("10,000 requests at concurrency 64, 5% malformed: every good one answered with the model's prediction, every bad one 400, none lost", async () => {
    const ref = reference();
    await withServer({}, async (s, url) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 64 });
      const total = 10_000;
      const results = new Array<Reply | Error>(total);
      let next = 0;
      const worker = async () => {
        while (next < total) {
          const i = next++;
          const bad = i % 20 === 7;
          const m = MALFORMED[i % MALFORMED.length];
          const body = bad ? m.body : JSON.stringify({ instances: [instance(i % 50)] });
          results[i] = await send(url, { body, type: bad ? m.type : undefined, agent }).catch((e: Error) => e);
        }
      };
      await Promise.all(Array.from({ length: 64 }, worker));
      agent.destroy();
      let good = 0;
      let bad = 0;
      results.forEach((r, i) => {
        expect(r, `request ${i}`).not.toBeInstanceOf(Error);
        const reply = r as Reply;
        if (i % 20 === 7) {
          expect(reply.status, `request ${i}`).toBe(400);
          bad++;
        } else {
          expect(reply.status, `request ${i}`).toBe(200);
          expectClose((JSON.parse(reply.body) as { predictions: number[][] }).predictions[0], ref(instance(i % 50)));
          good++;
        }
      });
      expect([good, bad]).toEqual([9500, 500]);
      // Batching happened, and the server is still up.
      const metrics = (await send(`${s.url}/metrics`)).body;
      expect(Number(/dualgrad_batch_size_count (\d+)/.exec(metrics)![1])).toBeLessThan(9500);
      expect((await send(`${s.url}/v1/models/m`)).status).toBe(200);
    });
    ref.dispose();
  }, 120_000);
});

describe("dualgrad serve: the process", () => {
  const root = fileURLToPath(new URL("../../..", import.meta.url));
  const cli = join(root, "packages/bench-cli/dist/cli.js");
  // These tests run the built CLI, as a user would (built once by vitest.global-setup.ts).

  /** Starts `dualgrad serve` on a free port; resolves with the child and its base URL once it listens. */
  async function serve(args: string[]) {
    const child = spawn(process.execPath, [cli, "serve", "--model", SPEC.id, "--port", "0", "--name", "m", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
        const m = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr);
        if (m) resolve(m[1]);
      });
      child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, url, exited, stderr: () => stderr };
  }

  it("SIGTERM answers the requests already received and exits 0, also under load", async () => {
    // Requests waiting in the batch queue (for up to 5 s) when SIGTERM arrives are still answered.
    let srv = await serve(["--max-wait-ms", "5000"]);
    const body = JSON.stringify({ instances: [instance(3)] });
    const queued = Array.from({ length: 8 }, () => send(`${srv.url}/v1/models/m:predict`, { body }));
    // SIGTERM once the server has all eight (a connection still in the backlog is not "received").
    while (!/dualgrad_queue_depth 8\n/.test((await send(`${srv.url}/metrics`)).body)) await new Promise((r) => setTimeout(r, 20));
    const signalled = Date.now();
    srv.child.kill("SIGTERM");
    expect((await Promise.all(queued)).map((r) => r.status)).toEqual(Array(8).fill(200));
    // Run at once on shutdown, not after the 5 s wait.
    expect(Date.now() - signalled).toBeLessThan(4000);
    expect(await srv.exited).toBe(0);
    expect(srv.stderr()).toMatch(/SIGTERM: answering the requests received, then stopping\nstopped\n/);
    expect(srv.stderr()).toMatch(/; big matmuls on \d+ threads?\)\n/);

    // Under load from 64 keep-alive clients: every reply is a 200 or a 503 (sent after the
    // signal); a request the server never received fails to connect; the process exits 0.
    srv = await serve([]);
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    let answered = 0;
    let stop = false;
    const statuses = new Set<number>();
    const worker = async () => {
      while (!stop) {
        const r = await send(`${srv.url}/v1/models/m:predict`, { body, agent }).catch((e: NodeJS.ErrnoException) => e);
        if (r instanceof Error) {
          expect(["ECONNREFUSED", "ECONNRESET", "EPIPE"]).toContain(r.code);
          break;
        }
        statuses.add(r.status);
        if (++answered === 500) srv.child.kill("SIGTERM");
      }
    };
    const done = Promise.all(Array.from({ length: 64 }, worker));
    expect(await srv.exited).toBe(0);
    stop = true;
    await done;
    agent.destroy();
    expect(answered).toBeGreaterThanOrEqual(500);
    expect([...statuses].every((c) => c === 200 || c === 503)).toBe(true);
  }, 120_000);

  it("a port in use is a usage error (exit 2, one line)", async () => {
    const busy = createServer().listen(0, "127.0.0.1");
    await new Promise((r) => busy.once("listening", r));
    const port = String((busy.address() as { port: number }).port);
    try {
      const r = spawnSync(process.execPath, [cli, "serve", "--model", SPEC.id, "--port", port], { encoding: "utf8", timeout: 60_000 });
      expect([r.status, r.stderr]).toEqual([2, `dualgrad: cannot listen on 127.0.0.1:${port} (EADDRINUSE): the port is in use\n`]);
    } finally {
      busy.close();
    }
  });

  it("bench-serve drives the server with autocannon and prints throughput and latency per configuration, the medians of its rounds", () => {
    const r = spawnSync(process.execPath, [cli, "bench-serve", "--model", SPEC.id, "--frontends", "graph", "--concurrency", "1,4", "--requests", "60", "--max-seconds", "5", "--rounds", "2"], {
      encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^mlp-small: one instance per request, 60 requests per run \(at most 5 s\), the median of 2 rounds \(requests and failures: their sums\)\n/m);
    const rows = r.stdout.split("\n").filter((l) => /^│ graph/.test(l));
    expect(rows).toHaveLength(4); // batching on and off, at concurrency 1 and 4
    for (const row of rows) {
      const cells = row.split("│").map((c) => c.trim()).filter(Boolean);
      expect(cells.slice(0, 3)).toEqual(["graph", expect.stringMatching(/^(on|off)$/), expect.stringMatching(/^(1|4)$/)]);
      expect(Number(cells[3])).toBeGreaterThan(0); // req/s
      expect(Number(cells[6])).toBeGreaterThanOrEqual(1); // rows per model call
      if (cells[1] === "off") expect(cells[6]).toBe("1.0");
      expect(Number(cells[7])).toBeGreaterThan(0); // server CPU per request, from its /metrics
      expect(Number(cells[8])).toBeGreaterThan(0); // load generator CPU per request
      expect(cells.slice(9)).toEqual(["120", "0"]); // every request of both rounds answered, no failures
    }
    // The next-to-no-compute model's run, at the top concurrency.
    expect(r.stdout).toMatch(/^ceiling at concurrency 4, the same requests to a 8->1 linear model \(parsing and HTTP, next to no compute\): \d+ req\/s, p99 [\d.]+ ms, server cpu \d+ µs\/req\n/m);
    // In-process figures: reading a request, and the forward pass alone and batched (mlp-small: 64 is the max batch).
    expect(r.stdout).toMatch(/^in process, fastest of many calls: reading a request \d+ µs \(JSON\.parse and checks: \d+\); the forward pass per request \d+ µs eager on one row, [\d.]+ µs graph in a batch of 64\. So batching saves at most -?\d+ µs a request: [\d.]+x if nothing else cost anything, [\d.]+x with the ceiling's \d+ µs of server CPU a request; 3x needs everything but the forward pass to cost at most \d+ µs a request\n/m);
  }, 120_000);
});

