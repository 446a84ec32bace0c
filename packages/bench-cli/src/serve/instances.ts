/**
 * Reading a predict request body (TF Serving's row format, `{"instances": [[...], ...]}`) into
 * row-major float32 rows. Every way a body can be wrong is a {@link BadRequest} whose message
 * names the problem and where it is, so the client can fix it.
 */

/** A client error: answered with 400 and `{"error": message}`. */
export class BadRequest extends Error {
  override name = "BadRequest";
}

/** The largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** What a request may contain. */
export interface InstanceLimits {
  /** Values per instance (the model's input width). */
  inputSize: number;
  /** Most instances in one request. */
  maxInstances: number;
}

/** Parses and checks a predict body; returns the rows and how many there are. */
export function parseInstances(body: string, limits: InstanceLimits): { x: Float32Array; rows: number } {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    // JSON has no NaN or Infinity literals, so they land here too.
    throw new BadRequest(`malformed JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc) || !("instances" in doc)) {
    throw new BadRequest('expected a JSON object {"instances": [[number, ...], ...]}');
  }
  const instances = (doc as { instances: unknown }).instances;
  if (!Array.isArray(instances)) throw new BadRequest(`"instances" must be a list of instances, got ${typeName(instances)}`);
  if (instances.length === 0) throw new BadRequest('"instances" is empty');
  if (instances.length > limits.maxInstances) {
    throw new BadRequest(`"instances" has ${instances.length} instances; at most ${limits.maxInstances} per request (--max-batch)`);
  }
  const { inputSize } = limits;
  const x = new Float32Array(instances.length * inputSize);
  // Plain loops: this runs for every number of every request, on the server's one thread.
  for (let i = 0; i < instances.length; i++) {
    const row: unknown = instances[i];
    if (!Array.isArray(row)) throw new BadRequest(`instances[${i}] must be a list of ${inputSize} numbers, got ${typeName(row)}`);
    if (row.length !== inputSize) throw new BadRequest(`instances[${i}] has ${row.length} values; the model takes ${inputSize}`);
    for (let j = 0; j < inputSize; j++) {
      const v: unknown = row[j];
      if (typeof v !== "number") throw new BadRequest(`instances[${i}][${j}] must be a number, got ${typeName(v)}`);
      // 1e999 parses to Infinity; 1e39 is finite but overflows float32.
      if (!(Math.abs(v) <= FLOAT32_MAX)) throw new BadRequest(`instances[${i}][${j}] = ${v} is not a finite float32`);
      x[i * inputSize + j] = v;
    }
  }
  return { x, rows: instances.length };
}

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "a list" : typeof v;
}
