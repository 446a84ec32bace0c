import { PhiloxGenerator, allocator, valueFrom, type DType, type Value } from "../src/index.js";
import type { InputSpec } from "./op-cases.js";

/** Draws a value for an input spec, deterministically from `gen`. */
export function makeInput(gen: PhiloxGenerator, spec: InputSpec, floatDtype: DType): Value {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const [lo, hi] = spec.range ?? [-1, 1];
  const raw = new Float64Array(n);
  gen.fillUniform(raw, lo, hi);
  if (spec.kind === "int32") return valueFrom("int32", spec.shape, raw.map(Math.floor));
  if (spec.kind === "mask") return valueFrom(floatDtype, spec.shape, raw.map((x) => (x > 0 ? 1 : 0)));
  // Keep values away from kinks (relu, abs at 0) so finite differences are meaningful.
  const values = spec.awayFromZero ? raw.map((x) => (Math.abs(x) < 0.2 ? x + Math.sign(x || 1) * 0.3 : x)) : raw;
  return valueFrom(floatDtype, spec.shape, values);
}

/** Live tensor bytes now; tests assert they return to this after releasing. */
export function liveBytes(): number {
  return allocator.stats().liveBytes;
}

/**
 * A tiny seeded PRNG (mulberry32) returning numbers in [0, 1): for test data that must not
 * depend on core's own RNG (so an RNG bug cannot hide a kernel bug).
 */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * max |ours - ref| / max |ref| (NaN counts as the largest error): the tolerance measure the
 * PyTorch reference checks use, relative to the reference tensor's magnitude.
 */
export function relativeError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  let diff = 0;
  let mag = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i] - ref[i]);
    diff = d > diff || d !== d ? d : diff;
    mag = Math.max(mag, Math.abs(ref[i]));
  }
  return diff / (mag || 1);
}
