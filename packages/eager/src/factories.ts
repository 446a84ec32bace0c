import {
  DualgradError, PhiloxGenerator, allocValue, defaultGenerator, dtypeOfArray, isDType, sizeOf, valueFrom,
  type DType, type Shape, type TypedArray,
} from "@dualgrad/core";
import { Tensor, type NestedArray } from "./tensor.js";

/** Options every factory takes. */
export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

/** Options of the random factories: a generator (default: the global one, see `manualSeed`). */
export interface RandomOptions extends TensorOptions {
  generator?: PhiloxGenerator;
}

function checkDType(dtype: DType | undefined, fallback: DType): DType {
  const d = dtype ?? fallback;
  if (!isDType(d)) throw new DualgradError(`tensor: unknown dtype ${String(d)} (expected float32, float64 or int32)`);
  return d;
}

/** Shape and row-major elements of a nested array, checking that it is rectangular. */
function flattenNested(data: NestedArray): { shape: number[]; flat: number[] } {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as NestedArray;
    if (cur === undefined) break;
  }
  const flat: number[] = [];
  const walk = (x: NestedArray, dim: number, path: string) => {
    if (dim === shape.length) {
      if (typeof x !== "number") throw new DualgradError(`tensor: expected a number at ${path || "the top"}, got ${Array.isArray(x) ? "an array" : typeof x}`);
      flat.push(x);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[dim]) {
      throw new DualgradError(`tensor: ragged nested array at ${path || "the top"} (expected length ${shape[dim]} at depth ${dim})`);
    }
    x.forEach((y, i) => walk(y, dim + 1, `${path}[${i}]`));
  };
  walk(data, 0, "");
  return { shape, flat };
}

/**
 * A tensor from nested arrays, a typed array or a number, like `torch.tensor`. The dtype
 * defaults to the typed array's, else float32 (as TF.js; PyTorch would pick int64 for integers).
 * `shape` reshapes flat data.
 */
export function tensor(data: NestedArray | TypedArray | readonly number[], options: TensorOptions & { shape?: Shape } = {}): Tensor {
  let flat: ArrayLike<number>;
  let shape: Shape;
  let fallback: DType = "float32";
  if (ArrayBuffer.isView(data)) {
    flat = data as TypedArray;
    fallback = dtypeOfArray(data as TypedArray);
    shape = [flat.length];
  } else {
    ({ shape, flat } = flattenNested(data as NestedArray));
  }
  if (options.shape) {
    if (sizeOf(options.shape) !== flat.length) {
      throw new DualgradError(`tensor: ${flat.length} values do not fill shape [${options.shape.join(",")}]`);
    }
    shape = options.shape;
  }
  const dtype = checkDType(options.dtype, fallback);
  return new Tensor(valueFrom(dtype, shape, flat), options.requiresGrad ?? false);
}

/** A tensor filled with `value`. */
export function full(shape: Shape, value: number, options: TensorOptions = {}): Tensor {
  const v = allocValue(checkDType(options.dtype, "float32"), shape);
  v.data.fill(value);
  return new Tensor(v, options.requiresGrad ?? false);
}
/** Zeros. */ export const zeros = (shape: Shape, options: TensorOptions = {}): Tensor => full(shape, 0, options);
/** Ones. */ export const ones = (shape: Shape, options: TensorOptions = {}): Tensor => full(shape, 1, options);
/** Zeros shaped and typed like `t`. */ export const zerosLike = (t: Tensor, options: TensorOptions = {}): Tensor => full(t.shape, 0, { dtype: t.dtype, ...options });
/** Ones shaped and typed like `t`. */ export const onesLike = (t: Tensor, options: TensorOptions = {}): Tensor => full(t.shape, 1, { dtype: t.dtype, ...options });

function random(shape: Shape, options: RandomOptions, fill: (gen: PhiloxGenerator, out: Float32Array | Float64Array) => void): Tensor {
  const dtype = checkDType(options.dtype, "float32");
  if (dtype === "int32") throw new DualgradError("rand: dtype must be float32 or float64 (use randint for integers)");
  const v = allocValue(dtype, shape);
  fill(options.generator ?? defaultGenerator, v.data as Float32Array | Float64Array);
  return new Tensor(v, options.requiresGrad ?? false);
}
/** U(0, 1) samples from core's Philox generator. */
export const rand = (shape: Shape, options: RandomOptions = {}): Tensor => random(shape, options, (g, out) => g.fillUniform(out, 0, 1));
/** N(0, 1) samples from core's Philox generator. */
export const randn = (shape: Shape, options: RandomOptions = {}): Tensor => random(shape, options, (g, out) => g.fillNormal(out, 0, 1));
/** U(low, high) samples. */
export const uniform = (shape: Shape, low: number, high: number, options: RandomOptions = {}): Tensor =>
  random(shape, options, (g, out) => g.fillUniform(out, low, high));
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: Shape, options: { generator?: PhiloxGenerator } = {}): Tensor {
  const v = allocValue("int32", shape);
  (options.generator ?? defaultGenerator).fillRandint(v.data as Int32Array, low, high);
  return new Tensor(v);
}

/** `start, start+step, ...` below `end` (one argument: 0..end). */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  const [lo, hi] = end === undefined ? [0, start] : [start, end];
  if (step === 0 || !Number.isFinite(step)) throw new DualgradError(`arange: step must be a non-zero finite number, got ${step}`);
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  const values = Array.from({ length: n }, (_, i) => lo + i * step);
  return new Tensor(valueFrom(checkDType(options.dtype, "float32"), [n], values), options.requiresGrad ?? false);
}
