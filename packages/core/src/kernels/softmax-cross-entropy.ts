import type { TypedArray } from "../dtype.js";
import { DualgradError } from "../errors.js";
import { referenceReduceInto, safeShift } from "./reduce.js";

/**
 * Kernels of the fused softmax cross-entropy over integer labels (see
 * ../ops/softmax-cross-entropy.ts). Every row's log-sum-exp is taken in float64, in index order,
 * with logsumexp's shift (the row maximum when finite, else 0), so the loss is rounded to the
 * output dtype once instead of after each of the composite's six primitives.
 */

/** Throws naming `op` for the first label outside [0, classes), before anything is written. */
export function checkLabels(op: string, labels: TypedArray, classes: number): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(y >= 0 && y < classes)) throw new DualgradError(`${op}: label ${y} at index ${i} is out of range [0, ${classes})`);
  }
}

/** log(sum(exp(x[at .. at+c-1]))) of one row: shifted by its maximum, summed in index order. */
function rowLogSumExp(x: TypedArray, at: number, c: number): number {
  let m = -Infinity;
  for (let j = 0; j < c; j++) {
    const v = x[at + j];
    if (v > m || v !== v) m = v;
  }
  const shift = safeShift(m);
  let s = 0;
  for (let j = 0; j < c; j++) s += Math.exp(x[at + j] - shift);
  return shift + Math.log(s);
}

/** mean over rows of lse(row) - row[label]: logits [b, c], labels [b], `out` one element. */
export function softmaxCrossEntropyKernel(x: TypedArray, labels: TypedArray, out: TypedArray, b: number, c: number): void {
  checkLabels("softmax_cross_entropy", labels, c);
  let total = 0;
  for (let i = 0; i < b; i++) total += rowLogSumExp(x, i * c, c) - x[i * c + labels[i]];
  out[0] = total / b;
}

/** (softmax(row) - onehot(label)) * g / b for every row: the loss's gradient with respect to the logits. */
export function softmaxCrossEntropyGradKernel(x: TypedArray, labels: TypedArray, g: number, out: TypedArray, b: number, c: number): void {
  checkLabels("softmax_cross_entropy_grad", labels, c);
  const scale = g / b;
  for (let i = 0; i < b; i++) {
    const at = i * c;
    const lse = rowLogSumExp(x, at, c);
    const y = at + labels[i];
    for (let k = at; k < at + c; k++) out[k] = (Math.exp(x[k] - lse) - (k === y ? 1 : 0)) * scale;
  }
}

/**
 * Each row's log-sum-exp from core's reference reductions (max, then the shifted exp-sum over
 * axis 1), as logsumexp's reference computes it: the same float64 values, in the same order, as
 * the fast kernels' per-row loop.
 */
export function referenceRowLogSumExp(x: TypedArray, b: number, c: number): Float64Array {
  const max = new Float64Array(b).fill(-Infinity);
  referenceReduceInto("max", x, [b, c], [1], max);
  const shift = max.map(safeShift);
  const acc = new Float64Array(b);
  referenceReduceInto("sumExpShifted", x, [b, c], [1], acc, shift);
  return acc.map((s, i) => shift[i] + Math.log(s));
}
