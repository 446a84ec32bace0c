/**
 * Helpers for long number series (a 3M-step loss curve, 40k results): loops, never a spread into
 * `Math.min(...xs)`, which passes every element as an argument and overflows the stack at about
 * 100k of them.
 */

/** The smallest and largest of `values` (Infinity and -Infinity when empty, as `Math.min()`/`Math.max()`). */
export function minMax(values: readonly number[]): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/**
 * At most ~2·buckets `[step, value]` points of `values`, steps being the true indices: each
 * bucket keeps its lowest and highest finite point, in step order, so spikes and the overall
 * shape survive while a 100k-step run stays a small chart. A bucket with no finite value keeps
 * its first point, so a diverged stretch still shows as a gap. The last point is always kept.
 */
export function downsample(values: readonly number[], buckets = 400): [number, number][] {
  const n = values.length;
  if (n <= buckets * 2) return Array.from(values, (v, i): [number, number] => [i, v]);
  const out: [number, number][] = [];
  const size = n / buckets;
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor(b * size);
    const end = Math.floor((b + 1) * size);
    let lo = -1;
    let hi = -1;
    for (let i = start; i < end; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      if (lo < 0 || v < values[lo]) lo = i;
      if (hi < 0 || v > values[hi]) hi = i;
    }
    if (lo < 0) out.push([start, values[start]]);
    else if (lo === hi) out.push([lo, values[lo]]);
    else for (const i of lo < hi ? [lo, hi] : [hi, lo]) out.push([i, values[i]]);
  }
  if (out[out.length - 1][0] !== n - 1) out.push([n - 1, values[n - 1]]);
  return out;
}
