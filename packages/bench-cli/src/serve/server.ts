import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamicBatcher, QueueFullError, type BatcherOptions } from "./batcher.js";
import { InstanceParser } from "./instance-parser.js";
import { BadRequest } from "./instances.js";
import { predictionsJson } from "./predictions.js";
import { ServerMetrics } from "./metrics.js";
import type { Predictor } from "./predictor.js";

/**
 * The inference server: TF Serving's REST shape over node:http.
 * - `POST /v1/models/<name>:predict` `{"instances": [...]}` → `{"predictions": [...]}`
 * - `GET /v1/models/<name>` → TF Serving's `model_version_status`
 * - `GET /metrics` → Prometheus text
 * Bad requests get 400 and `{"error": "..."}`; a full queue 429; nothing a client sends can
 * crash the process.
 */

/** Server settings. */
export interface ServeOptions extends BatcherOptions {
  /** The model's name in URLs. */
  name: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: number;
}

/** A running server. */
export interface RunningServer {
  readonly server: Server;
  readonly url: string;
  readonly metrics: ServerMetrics;
  /** Stops accepting, answers every request already received, then resolves. */
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, code: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...extraHeaders });
  res.end(text);
}

/** Reads the body up to `limit` bytes; a larger one is a BadRequest (the rest is drained, not stored). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BadRequest(`the body has ${declared} bytes; the limit is ${limit}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on("end", () => {
      if (size > limit) reject(new BadRequest(`the body has more than ${limit} bytes`));
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    req.on("error", reject);
  });
}

/** Starts the server on `options.host:options.port`; resolves once it listens. */
export async function startServer(predictor: Predictor, options: ServeOptions): Promise<RunningServer> {
  let batcher: DynamicBatcher | null = null;
  const metrics = new ServerMetrics(() => batcher?.pending ?? 0);
  batcher = new DynamicBatcher(
    (x, rows) => predictor.predict(x, rows),
    predictor.inputSize,
    predictor.outputSize,
    options,
    (rows) => metrics.batchSize.observe(rows),
  );
  const parser = new InstanceParser({ inputSize: predictor.inputSize, maxInstances: options.maxBatch });
  const modelPath = `/v1/models/${options.name}`;
  let closing = false;

  const predict = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const type = req.headers["content-type"] ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new BadRequest(`content-type must be application/json, got '${type || "none"}'`);
    }
    const body = await readBody(req, options.maxBodyBytes);
    const { x, rows } = parser.parse(body);
    const text = predictionsJson(await batcher!.submit(x, rows), rows, predictor.outputSize);
    // The text is ASCII, so its length is its byte count.
    res.writeHead(200, { "content-type": "application/json", "content-length": text.length }).end(text);
    return 200;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = (req.url ?? "/").split("?")[0];
    // While shutting down, every answer also closes its connection, so keep-alive clients let go.
    if (closing) res.setHeader("connection", "close");
    if (url === `${modelPath}:predict`) {
      const start = process.hrtime.bigint();
      let code: number;
      try {
        if (req.method !== "POST") {
          code = 405;
          sendJson(res, code, { error: `use POST for ${url}` }, { allow: "POST" });
        } else if (closing) {
          code = 503;
          sendJson(res, code, { error: "the server is shutting down" }, { connection: "close" });
        } else {
          code = await predict(req, res);
        }
      } catch (e) {
        code = e instanceof BadRequest ? 400 : e instanceof QueueFullError ? 429 : 500;
        // A client that sent an oversized body may still be sending it: close after answering.
        sendJson(res, code, { error: e instanceof Error ? e.message : String(e) }, code === 400 ? { connection: "close" } : {});
      }
      metrics.request(code, Number(process.hrtime.bigint() - start) / 1e9);
      return;
    }
    if (req.method === "GET" && url === modelPath) {
      sendJson(res, 200, { model_version_status: [{ version: "1", state: closing ? "UNLOADING" : "AVAILABLE", status: { error_code: "OK", error_message: "" } }] });
    } else if (req.method === "GET" && url === "/metrics") {
      const text = metrics.render();
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": Buffer.byteLength(text) });
      res.end(text);
    } else {
      sendJson(res, 404, { error: `no route ${req.method} ${url}; try POST ${modelPath}:predict, GET ${modelPath} or GET /metrics` });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: e instanceof Error ? e.message : String(e) });
      else res.destroy();
    });
  });
  // A request line or header Node cannot parse: answer 400 on the raw socket.
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"malformed HTTP request"}');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    metrics,
    async close() {
      closing = true;
      // close() stops accepting and resolves when every connection is gone; idle keep-alive
      // connections are closed now, busy ones once their response is sent.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await batcher!.drain();
      await closed;
    },
  };
}
