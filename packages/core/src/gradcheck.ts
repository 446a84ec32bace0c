import { DualgradError } from "./errors.js";

/**
 * Gradient checking by central finite differences in float64, as `torch.autograd.gradcheck`:
 * frontend-agnostic, it only sees plain arrays. A frontend supplies `f` (its forward pass,
 * reduced to a scalar) and its analytic gradients; for non-scalar outputs reduce with a random
 * projection sum(out * r) first, which checks the VJP for that cotangent.
 */

/** Tolerances and step. Defaults are PyTorch's: eps 1e-6, atol 1e-5, rtol 1e-3. */
export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
}

/** Where analytic and numeric gradients disagree most. */
export interface GradcheckReport {
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  /** The worst element: which input, which flat index, and both values. */
  worst: { input: number; index: number; analytic: number; numeric: number } | null;
  numeric: Float64Array[];
}

/** Central differences (f(x+eps) - f(x-eps)) / 2eps for every element of every input. `f` must not keep the arrays. */
export function numericGradient(f: (inputs: Float64Array[]) => number, inputs: readonly Float64Array[], eps = 1e-6): Float64Array[] {
  const xs = inputs.map((x) => Float64Array.from(x));
  return xs.map((x) => {
    const g = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const orig = x[i];
      x[i] = orig + eps;
      const up = f(xs);
      x[i] = orig - eps;
      const down = f(xs);
      x[i] = orig;
      g[i] = (up - down) / (2 * eps);
    }
    return g;
  });
}

/**
 * Compares `analytic` gradients with finite differences of `f` at `inputs`. An element passes
 * when |analytic - numeric| <= atol + rtol * |numeric|. Returns a report; never throws on mismatch.
 */
export function gradcheck(
  f: (inputs: Float64Array[]) => number,
  inputs: readonly Float64Array[],
  analytic: readonly ArrayLike<number>[],
  options: GradcheckOptions = {},
): GradcheckReport {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3 } = options;
  if (analytic.length !== inputs.length) {
    throw new DualgradError(`gradcheck: ${analytic.length} analytic gradients for ${inputs.length} inputs`);
  }
  const numeric = numericGradient(f, inputs, eps);
  let ok = true;
  let maxAbsError = 0;
  let maxRelError = 0;
  let worst: GradcheckReport["worst"] = null;
  let worstExcess = -Infinity;
  numeric.forEach((num, k) => {
    const ana = analytic[k];
    if (ana.length !== num.length) {
      throw new DualgradError(`gradcheck: analytic gradient ${k} has ${ana.length} elements, input has ${num.length}`);
    }
    for (let i = 0; i < num.length; i++) {
      const err = Math.abs(ana[i] - num[i]);
      const bound = atol + rtol * Math.abs(num[i]);
      if (!(err <= bound)) ok = false;
      maxAbsError = Math.max(maxAbsError, err);
      maxRelError = Math.max(maxRelError, err / Math.max(Math.abs(num[i]), 1e-300));
      const excess = Number.isNaN(err) ? Infinity : err - bound;
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = { input: k, index: i, analytic: ana[i], numeric: num[i] };
      }
    }
  });
  return { ok, maxAbsError, maxRelError, worst, numeric };
}

/** {@link gradcheck} that throws a DualgradError describing the worst element on failure. */
export function assertGradcheck(
  name: string,
  f: (inputs: Float64Array[]) => number,
  inputs: readonly Float64Array[],
  analytic: readonly ArrayLike<number>[],
  options: GradcheckOptions = {},
): GradcheckReport {
  const r = gradcheck(f, inputs, analytic, options);
  if (!r.ok) {
    const w = r.worst!;
    throw new DualgradError(
      `gradcheck ${name}: input ${w.input} element ${w.index}: analytic ${w.analytic} vs numeric ${w.numeric} (max abs error ${r.maxAbsError})`,
    );
  }
  return r;
}
