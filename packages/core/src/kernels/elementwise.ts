import type { TypedArray } from "../dtype.js";
import { broadcastStrides, coalesceDims, contiguousStrides, sizeOf, type Shape } from "../shape.js";

/**
 * Elementwise kernels generated from a JavaScript expression over locals `x0, x1, x2`
 * (one per input). Generating the loop with the expression inlined means no function call
 * per element, which is what makes plain-JS elementwise code fast. Elementwise programs (one
 * primitive or a fused chain) become such an expression in ./elementwise-program.ts.
 */
export type ElementwiseKernel = (out: TypedArray, outShape: Shape, inputs: readonly TypedArray[], inShapes: readonly Shape[]) => void;

const cache = new Map<string, ElementwiseKernel>();

/** Local variable names the expression may use, one per input. */
export function inputVar(i: number): string {
  return `x${i}`;
}

/**
 * Compiles (once per `key`) a kernel computing `out[i] = expr(x0[i], x1[i], ...)` with NumPy
 * broadcasting. `expr` must only use the locals `x0..x{arity-1}` and `Math`. `prelude` is
 * optional statements run per element before `expr` (a program's intermediate
 * `const t0 = ...;` lines, from programSource).
 */
export function compileElementwise(key: string, arity: number, expr: string, prelude = ""): ElementwiseKernel {
  const hit = cache.get(key);
  if (hit) return hit;
  const ins = Array.from({ length: arity }, (_, i) => i);
  const loadSame = ins.map((i) => `const x${i} = a${i}[i];`).join(" ");
  const sameLoop = new Function("o", ...ins.map((i) => `a${i}`), `const n = o.length; for (let i = 0; i < n; i++) { ${loadSame} ${prelude} o[i] = ${expr}; }`) as (
    ...a: unknown[]
  ) => void;
  // Broadcasting: an odometer walks the outer dimensions and the innermost dimension runs with
  // per-input strides. One loop per pattern of inputs that are constant along the innermost
  // dimension (bit i: input i's inner stride is 0, a per-channel bias over [B,C,H*W] say): those
  // are loaded once per row instead of once per element. Same values, same expression, so the
  // same bits whichever loop runs.
  const loops = new Map<number, (...a: unknown[]) => void>();
  const broadcastLoop = (pattern: number): ((...a: unknown[]) => void) => {
    let loop = loops.get(pattern);
    if (loop) return loop;
    const hoisted = (i: number) => ((pattern >> i) & 1) === 1;
    const moving = ins.filter((i) => !hoisted(i));
    const body = `
      const n = o.length;
      const rank = shape.length, inner = shape[rank - 1];
      if (inner === 0) return;
      const idx = new Int32Array(rank);
      ${ins.map((i) => `const is${i} = s${i}[rank - 1]; let p${i} = 0;`).join(" ")}
      for (let base = 0; base < n; base += inner) {
        ${ins.filter(hoisted).map((i) => `const x${i} = a${i}[p${i}];`).join(" ")}
        ${moving.map((i) => `let q${i} = p${i};`).join(" ")}
        for (let j = 0; j < inner; j++) {
          ${moving.map((i) => `const x${i} = a${i}[q${i}];`).join(" ")}
          ${prelude}
          o[base + j] = ${expr};
          ${moving.map((i) => `q${i} += is${i};`).join(" ")}
        }
        for (let d = rank - 2; d >= 0; d--) {
          idx[d]++;
          ${ins.map((i) => `p${i} += s${i}[d];`).join(" ")}
          if (idx[d] < shape[d]) break;
          ${ins.map((i) => `p${i} -= s${i}[d] * shape[d];`).join(" ")}
          idx[d] = 0;
        }
      }`;
    loop = new Function("o", "shape", ...ins.flatMap((i) => [`a${i}`, `s${i}`]), body) as (...a: unknown[]) => void;
    loops.set(pattern, loop);
    return loop;
  };
  const kernel: ElementwiseKernel = (out, outShape, inputs, inShapes) => {
    const n = out.length;
    if (n === 0) return;
    let same = true;
    for (const a of inputs) if (a.length !== n) same = false;
    if (same) {
      sameLoop(out, ...inputs);
      return;
    }
    // Walk as few dimensions as the operands' strides allow (same element order).
    const dims = coalesceDims(outShape, [contiguousStrides(outShape), ...inShapes.map((s) => broadcastStrides(s, outShape))]);
    const inner = dims.shape.length - 1;
    let pattern = 0;
    const call: unknown[] = [out, dims.shape];
    for (let i = 0; i < arity; i++) {
      const strides = dims.strides[i + 1];
      if (i < 30 && strides[inner] === 0) pattern |= 1 << i; // (a bit mask: hoist only the first 30)
      call.push(inputs[i], strides);
    }
    broadcastLoop(pattern)(...call);
  };
  cache.set(key, kernel);
  return kernel;
}

/**
 * The reference elementwise kernel: for every output index, unravel it, find each input's
 * element by broadcasting rules, and call `fn`. Slow and obviously right.
 */
export function referenceElementwise(
  out: TypedArray,
  outShape: Shape,
  inputs: readonly TypedArray[],
  inShapes: readonly Shape[],
  fn: (...xs: number[]) => number,
): void {
  const n = sizeOf(outShape);
  const outStrides = contiguousStrides(outShape);
  for (let flat = 0; flat < n; flat++) {
    const xs = inputs.map((a, k) => {
      const shape = inShapes[k];
      const offset = outShape.length - shape.length;
      let pos = 0;
      let stride = 1;
      for (let d = shape.length - 1; d >= 0; d--) {
        const coord = Math.floor(flat / outStrides[d + offset]) % outShape[d + offset];
        pos += (shape[d] === 1 ? 0 : coord) * stride;
        stride *= shape[d];
      }
      return a[pos];
    });
    out[flat] = fn(...xs);
  }
}
