import { PhiloxGenerator } from "@dualgrad/core";
import type { ModelSpec } from "../models.js";

/** A batch of plain data, frontend-neutral: inputs [n, in] and targets ([n, out] floats or [n] int32 labels). */
export interface Batch {
  x: Float32Array | Float64Array;
  xShape: [number, number];
  y: Float32Array | Float64Array | Int32Array;
  yShape: number[];
}

/**
 * The synthetic recipes of docs/WORKLOADS.md, deterministic for a seed:
 * linreg y = 3x + 2 + 0.1 N(0,1), x ~ U(-1,1); linreg-wide y = x.w* + 0.5 + 0.1 N(0,1) with
 * w* ~ N(0,1); mlp-small y = sin(sum x), x ~ U(-1,1)^8; mlp x ~ U(0,1)^784, labels uniform 0..9;
 * rnn x ~ U(-1,1)^[T,4] per row (stored flat, `[n, T*4]`), y = sin(sum x). `seqLen` overrides a
 * recurrent spec's T (variable-length batches).
 */
export function syntheticBatch(spec: ModelSpec, n: number, seed: number, dtype: "float32" | "float64" = "float32", seqLen?: number): Batch {
  const gen = new PhiloxGenerator(seed + 1_000_003);
  // A recurrent row is a whole sequence, T steps of layers[0] features; the target is
  // sin(sum of all its inputs), as mlp-small's is of its row.
  const inF = spec.recurrent ? spec.layers[0] * (seqLen ?? spec.recurrent.seqLen) : spec.layers[0];
  const outF = spec.layers[spec.layers.length - 1];
  const F = dtype === "float64" ? Float64Array : Float32Array;
  const x = new F(n * inF);
  if (spec.data === "mlp" || spec.data === "classification") gen.fillUniform(x, 0, 1);
  else gen.fillUniform(x, -1, 1);
  if (spec.loss === "ce") {
    const y = new Int32Array(n);
    gen.fillRandint(y, 0, outF);
    return { x, xShape: [n, inF], y, yShape: [n] };
  }
  const noise = new F(n * outF);
  gen.fillNormal(noise, 0, 1);
  const y = new F(n * outF);
  if (spec.data === "linreg") {
    for (let i = 0; i < n; i++) y[i] = 3 * x[i] + 2 + 0.1 * noise[i];
  } else if (spec.data === "linreg-wide") {
    const w = new F(inF);
    gen.fillNormal(w, 0, 1);
    for (let i = 0; i < n; i++) {
      let s = 0.5;
      for (let j = 0; j < inF; j++) s += x[i * inF + j] * w[j];
      y[i] = s + 0.1 * noise[i];
    }
  } else {
    // mlp-small, rnn and custom regression: y = sin(sum of inputs), broadcast over outputs.
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < inF; j++) s += x[i * inF + j];
      for (let k = 0; k < outF; k++) y[i * outF + k] = Math.sin(s);
    }
  }
  return { x, xShape: [n, inF], y, yShape: [n, outF] };
}

/**
 * The batches a workload trains on, step by step. Fixed-length specs repeat one seeded batch.
 * Variable-length recurrent specs draw each step's T uniformly from minLen..seqLen with a
 * Philox stream seeded `seed + 2_000_003`; the batch of length T is `syntheticBatch(spec,
 * spec.batch, seed, dtype, T)` (made once per length and reused).
 */
export function batchStream(spec: ModelSpec, seed: number, dtype: "float32" | "float64" = "float32"): () => Batch {
  const r = spec.recurrent;
  if (r?.minLen === undefined) {
    const batch = syntheticBatch(spec, spec.batch, seed, dtype);
    return () => batch;
  }
  const gen = new PhiloxGenerator(seed + 2_000_003);
  const byLength = new Map<number, Batch>();
  const draw = new Int32Array(1);
  return () => {
    gen.fillRandint(draw, r.minLen!, r.seqLen + 1);
    const t = draw[0];
    let b = byLength.get(t);
    if (!b) byLength.set(t, (b = syntheticBatch(spec, spec.batch, seed, dtype, t)));
    return b;
  };
}
