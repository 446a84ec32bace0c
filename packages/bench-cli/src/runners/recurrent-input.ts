import type { Batch } from "../datasets/synthetic.js";
import { batchInputShape, type ModelSpec } from "../models.js";

/**
 * How a batch's flat rows become a model's input. Recurrent batches hold one sequence per row
 * (`[n, T * features]`, T varying between batches for variable lengths); the frontends take
 * them as `[n, T, features]`, or padded to the spec's longest length with a step mask `[T]`
 * when the graph frontend runs variable lengths in one trace.
 */

/** The input shape of `batch` for `spec`: `[n, ...inputShape]` (see batchInputShape), or `[n, T, features]` for a recurrent spec. */
export function inputShape(spec: ModelSpec, batch: Batch): number[] {
  if (!spec.recurrent) return batchInputShape(spec, batch.xShape[0]);
  const f = spec.layers[0];
  return [batch.xShape[0], batch.xShape[1] / f, f];
}

/** True when the graph frontend pads this spec's batches to one length and masks the rest. */
export function padsSequences(spec: ModelSpec): boolean {
  return spec.recurrent?.graphStrategy === "pad";
}

/**
 * `batch`'s x zero-padded to `[n, seqLen, features]` and its step mask (`seqLen` entries: 1 for
 * the batch's own T steps, 0 after), both in `x`'s array type.
 */
export function padSequences(spec: ModelSpec, batch: Batch): { x: Float32Array | Float64Array; shape: number[]; mask: Float32Array | Float64Array } {
  const [n, t, f] = inputShape(spec, batch);
  const full = spec.recurrent!.seqLen;
  const A = batch.x instanceof Float64Array ? Float64Array : Float32Array;
  const x = new A(n * full * f);
  for (let i = 0; i < n; i++) x.set(batch.x.subarray(i * t * f, (i + 1) * t * f), i * full * f);
  const mask = new A(full);
  mask.fill(1, 0, t);
  return { x, shape: [n, full, f], mask };
}
