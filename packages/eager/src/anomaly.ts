import type { TypedArray } from "@dualgrad/core";

/** "nan" or "inf" for the first non-finite element of `data`, or null if all are finite. */
export function firstNonFinite(data: TypedArray): "nan" | "inf" | null {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) return v !== v ? "nan" : "inf";
  }
  return null;
}
