import { DualgradError } from "../errors.js";
import { PhiloxGenerator, defaultGenerator } from "./philox.js";

/**
 * Fills `out` with a uniformly random permutation of 0..n-1 (n = out.length) drawn from `gen`,
 * by Fisher–Yates: one float64 uniform per position (one `fillUniform` call, so ceil(n/2) Philox
 * blocks) picks the swap partner floor(u * (i + 1)), always <= i for u in [0, 1); its bias
 * (2^-53 relative) is far below anything a shuffle can show. Every shuffle in dualgrad (the
 * DataLoader's, the CLI's minibatches and splits) is this function, so their orders agree.
 */
export function randpermInto(out: Int32Array, gen: PhiloxGenerator = defaultGenerator): Int32Array {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = i;
  const u = new Float64Array(n);
  gen.fillUniform(u);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/** A random permutation of 0..n-1, like `torch.randperm(n, generator=gen)`; see {@link randpermInto}. */
export function randperm(n: number, gen: PhiloxGenerator = defaultGenerator): Int32Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new DualgradError(`randperm: n must be a non-negative integer, got ${String(n)}`);
  return randpermInto(new Int32Array(n), gen);
}
