/**
 * Parameter initialisers shared by both frontends. They draw from an explicit {@link PhiloxGenerator}
 * in a documented order, so eager and graph models built from the same seed start from
 * bitwise-identical parameters.
 */
import { DualgradError } from "../errors.js";
import type { PhiloxGenerator } from "./philox.js";

function checkFeatures(api: string, name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new DualgradError(`${api}: ${name} must be a positive integer, got ${String(value)}`);
  }
}

/**
 * The bound of PyTorch's default `nn.Linear` initialisation, `1 / sqrt(inFeatures)`.
 *
 * PyTorch initialises the weight with `kaiming_uniform_(a = sqrt(5))`: gain = sqrt(2 / (1 + a^2))
 * = sqrt(1/3), std = gain / sqrt(fan_in), bound = sqrt(3) * std = 1 / sqrt(fan_in); the bias uses
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) directly. So both are uniform with this bound.
 */
export function linearInitBound(inFeatures: number): number {
  checkFeatures("linearInitBound", "inFeatures", inFeatures);
  return 1 / Math.sqrt(inFeatures);
}

/**
 * Fills `out` with U(-bound, bound) from `gen` (one {@link PhiloxGenerator.fillUniform} call).
 * Values stay strictly inside the bound in the array's precision.
 */
export function uniformInit(gen: PhiloxGenerator, out: Float32Array | Float64Array, bound: number): void {
  if (typeof bound !== "number" || !Number.isFinite(bound) || bound <= 0) {
    throw new DualgradError(`uniformInit: bound must be a finite positive number, got ${String(bound)}`);
  }
  gen.fillUniform(out, -bound, bound);
}

/** Fills `out` with N(mean, std^2) from `gen` (one {@link PhiloxGenerator.fillNormal} call). */
export function normalInit(gen: PhiloxGenerator, out: Float32Array | Float64Array, std: number, mean = 0): void {
  gen.fillNormal(out, mean, std);
}

/**
 * PyTorch's default `nn.Linear(inFeatures, outFeatures)` initialisation, equal in law (not
 * bitwise: PyTorch's CPU generator is mt19937): weight `[outFeatures, inFeatures]` (row-major)
 * and bias `[outFeatures]` both U(-b, b) with b = {@link linearInitBound}(inFeatures).
 *
 * **Draw order (both frontends rely on it for identical parameters):** the weight is filled by
 * one `gen.fillUniform` call, then the bias (if not null) by a second call, which therefore starts
 * on a fresh Philox block. The generator advances by the blocks of both calls; with `bias = null`
 * only the weight's blocks are consumed.
 */
export function fillLinearInit(
  gen: PhiloxGenerator,
  weight: Float32Array | Float64Array,
  bias: Float32Array | Float64Array | null,
  inFeatures: number,
  outFeatures: number,
): void {
  const api = "fillLinearInit";
  checkFeatures(api, "inFeatures", inFeatures);
  checkFeatures(api, "outFeatures", outFeatures);
  // Validate every length before drawing, so a bad call leaves the generator untouched.
  if (weight.length !== outFeatures * inFeatures) {
    throw new DualgradError(
      `${api}: weight has ${weight.length} elements, expected outFeatures * inFeatures = ${outFeatures} * ${inFeatures} = ${outFeatures * inFeatures}`,
    );
  }
  if (bias !== null && bias.length !== outFeatures) {
    throw new DualgradError(`${api}: bias has ${bias.length} elements, expected outFeatures = ${outFeatures}`);
  }
  const bound = linearInitBound(inFeatures);
  gen.fillUniform(weight, -bound, bound);
  if (bias !== null) gen.fillUniform(bias, -bound, bound);
}
