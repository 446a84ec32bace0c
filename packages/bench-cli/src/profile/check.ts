import { SHARES } from "./summary.js";

/**
 * The first structural problem of a report's `profile` field (what `dualgrad profile --add-to`
 * writes), as a phrase naming the field, or null: the HTML report reads these numbers, so a
 * hand-edited or truncated file is refused rather than drawn wrong.
 */
export function profileProblem(profile: unknown): string | null {
  if (!Array.isArray(profile)) return "'profile' is not an array";
  for (let i = 0; i < profile.length; i++) {
    const p = profile[i] as Record<string, unknown> | null;
    const at = `profile[${i}]`;
    if (typeof p !== "object" || p === null) return `${at} is not an object`;
    if (typeof p.model !== "string") return `${at}.model is missing or not a string`;
    if (p.matmulPath !== undefined && typeof p.matmulPath !== "string") return `${at}.matmulPath is not a string`;
    if (p.simdPeak !== undefined) {
      const peak = p.simdPeak as Record<string, unknown> | null;
      if (typeof peak !== "object" || peak === null || typeof peak.op !== "string" || !positive(peak.threads) || !positive(peak.gflops)) {
        return `${at}.simdPeak needs a string op and positive threads and gflops`;
      }
    }
    if (!Array.isArray(p.frontends)) return `${at}.frontends is missing or not an array`;
    for (let j = 0; j < p.frontends.length; j++) {
      const f = p.frontends[j] as Record<string, unknown> | null;
      const fat = `${at}.frontends[${j}]`;
      if (typeof f !== "object" || f === null) return `${fat} is not an object`;
      if (f.frontend !== "eager" && f.frontend !== "graph") return `${fat}.frontend is not "eager" or "graph"`;
      const split = f.split as Record<string, unknown> | null;
      if (typeof split !== "object" || split === null) return `${fat}.split is missing or not an object`;
      for (const [, k] of SHARES) {
        if (typeof split[k] !== "number") return `${fat}.split.${k} is missing or not a number`;
      }
      if (!Array.isArray(f.ops)) return `${fat}.ops is missing or not an array`;
      for (let k = 0; k < f.ops.length; k++) {
        const r = f.ops[k] as Record<string, unknown> | null;
        if (typeof r !== "object" || r === null || typeof r.op !== "string" || typeof r.shapes !== "string") return `${fat}.ops[${k}] needs string op and shapes`;
        for (const n of ["calls", "kernelMs", "bytes"]) if (typeof r[n] !== "number") return `${fat}.ops[${k}].${n} is missing or not a number`;
        // Added later (GFLOP/s): optional, so older files still load.
        if (r.flops !== undefined && typeof r.flops !== "number") return `${fat}.ops[${k}].flops is not a number`;
        for (const n of ["gflops", "peakFraction"]) if (r[n] !== undefined && r[n] !== null && typeof r[n] !== "number") return `${fat}.ops[${k}].${n} is not a number or null`;
      }
    }
  }
  return null;
}

function positive(x: unknown): boolean {
  return typeof x === "number" && x > 0;
}
