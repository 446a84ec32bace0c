import { InstanceParser } from "./instance-parser.js";
import { parseInstances } from "./instances.js";
import type { ModelSource } from "./model-source.js";
import { makePredictor } from "./predictor.js";

/** What one request costs the server's thread outside HTTP, in microseconds (each the fastest of many calls). */
export interface RequestCosts {
  /** Reading one request body: JSON.parse and the checks, as the server did before its fast path. */
  jsonParseUs: number;
  /** Reading it with the server's parser. */
  parseUs: number;
  /** One forward pass of one row, eager (what a request costs without batching). */
  eagerRowUs: number;
  /** A forward pass of `maxBatch` rows on the graph frontend, per row (the least a request costs with batching). */
  graphBatchRowUs: number;
}

/** Calls timed per figure; the fastest counts, the others met a busy machine. */
const SAMPLES = 50;
const WARM_UP = 200;

function fastestUs(f: () => void): number {
  // Untimed calls first, so the JavaScript parts run optimized (JSON.parse needs no warming).
  for (let k = 0; k < WARM_UP; k++) f();
  let best = Infinity;
  for (let k = 0; k < SAMPLES; k++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best * 1000;
}

/**
 * Times, in this process, the parts of a request that batching can and cannot change: the
 * model's forward pass per row alone and in a full batch, and reading the body. Batching can at
 * best save the difference of the two forward passes per request; the rest is paid either way.
 */
export function measureRequestCosts(source: ModelSource, maxBatch: number, body: string): RequestCosts {
  const eager = makePredictor(source, "eager", maxBatch);
  const graph = makePredictor(source, "graph", maxBatch);
  try {
    const limits = { inputSize: graph.inputSize, maxInstances: maxBatch };
    const parser = new InstanceParser(limits);
    const bytes = Buffer.from(body);
    const x = parser.parse(bytes).x;
    const batch = new Float32Array(maxBatch * graph.inputSize);
    for (let r = 0; r < maxBatch; r++) batch.set(x, r * graph.inputSize);
    return {
      jsonParseUs: fastestUs(() => parseInstances(bytes.toString("utf8"), limits)),
      parseUs: fastestUs(() => parser.parse(bytes)),
      eagerRowUs: fastestUs(() => eager.predict(x, 1)),
      graphBatchRowUs: fastestUs(() => graph.predict(batch, maxBatch)) / maxBatch,
    };
  } finally {
    eager.dispose();
    graph.dispose();
  }
}
