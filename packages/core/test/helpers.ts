import { Generator, allocator, valueFrom, type DType, type Value } from "../src/index.js";
import type { InputSpec } from "./op-cases.js";

/** Draws a value for an input spec, deterministically from `gen`. */
export function makeInput(gen: Generator, spec: InputSpec, floatDtype: DType): Value {
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
