/**
 * Element types. float32 is the working type, float64 exists for gradient checks
 * and PyTorch agreement, int32 holds class labels and indices.
 */
export type DType = "float32" | "float64" | "int32";

/** Every dtype, in promotion order (a later entry never loses precision of an earlier float). */
export const DTYPES: readonly DType[] = ["int32", "float32", "float64"];

/** The typed array that stores elements of a dtype. */
export type TypedArray = Float32Array | Float64Array | Int32Array;

/** Maps a dtype to its typed array, for APIs that want the precise array type. */
export interface TypedArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
}

type ArrayCtor = Float32ArrayConstructor | Float64ArrayConstructor | Int32ArrayConstructor;

const INFO: Record<DType, { bytes: number; ctor: ArrayCtor; isFloat: boolean }> = {
  float32: { bytes: 4, ctor: Float32Array, isFloat: true },
  float64: { bytes: 8, ctor: Float64Array, isFloat: true },
  int32: { bytes: 4, ctor: Int32Array, isFloat: false },
};

/** True for the names of supported dtypes; use to validate user input. */
export function isDType(name: unknown): name is DType {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(INFO, name);
}

/** Bytes per element. */
export function bytesPerElement(dtype: DType): number {
  return INFO[dtype].bytes;
}

/** True for float32 and float64. */
export function isFloat(dtype: DType): boolean {
  return INFO[dtype].isFloat;
}

/** The typed-array constructor for a dtype. */
export function arrayConstructor(dtype: DType): ArrayCtor {
  return INFO[dtype].ctor;
}

/** A fresh zero-filled typed array of `size` elements (outside the allocator: for I/O and tests). */
export function newArray<D extends DType>(dtype: D, size: number): TypedArrayOf[D] {
  return new INFO[dtype].ctor(size) as TypedArrayOf[D];
}

/** The dtype a typed array stores. */
export function dtypeOfArray(array: TypedArray): DType {
  if (array instanceof Float32Array) return "float32";
  if (array instanceof Float64Array) return "float64";
  return "int32";
}

/**
 * Copies `src` into `dst`, converting elements. Float -> int truncates toward zero as C
 * (and `torch.Tensor.to(torch.int32)`) does; NaN becomes 0.
 */
export function castInto(src: ArrayLike<number>, dst: TypedArray): void {
  if (src.length !== dst.length) {
    throw new RangeError(`cast: length mismatch ${src.length} != ${dst.length}`);
  }
  // Typed-array assignment already rounds to float32 and wraps to int32 after Math.trunc.
  if (dst instanceof Int32Array) {
    for (let i = 0; i < src.length; i++) dst[i] = Math.trunc(src[i]) | 0;
  } else {
    dst.set(src as ArrayLike<number>);
  }
}

/**
 * The dtype that holds both `a` and `b` (`torch.promote_types` for these three): int32 with a
 * float gives the float, float32 with float64 gives float64.
 */
export function promoteTypes(a: DType, b: DType): DType {
  return DTYPES.indexOf(a) >= DTYPES.indexOf(b) ? a : b;
}

/** The dtype a float result takes when no operand is floating (PyTorch's default dtype). */
export const DEFAULT_FLOAT: DType = "float32";

/**
 * The dtype of an op's result over tensors (given by their dtypes) and JS numbers (scalars), as
 * `torch.result_type`: the tensors' promoted dtype, except that a non-integer number (0.5, NaN,
 * Infinity) with only int32 tensors gives the default float, float32. A number never widens a
 * float tensor (float32 + 0.1 stays float32). JS cannot tell `2.0` from `2`, so an integral
 * number counts as an int, as a Python int does. With numbers only: float32 if any is
 * non-integral, else int32.
 */
export function resultType(operands: readonly (DType | number)[]): DType {
  let tensors: DType | null = null;
  let fractional = false;
  for (const o of operands) {
    if (typeof o === "number") fractional ||= !Number.isInteger(o);
    else tensors = tensors === null ? o : promoteTypes(tensors, o);
  }
  const base = tensors ?? "int32";
  return fractional && !isFloat(base) ? DEFAULT_FLOAT : base;
}

/**
 * The dtype of an op whose result is always floating (true division): int32 gives the default
 * float, as `torch.div(int, int)` does; float dtypes stay.
 */
export function floatResultType(dtype: DType): DType {
  return isFloat(dtype) ? dtype : DEFAULT_FLOAT;
}
