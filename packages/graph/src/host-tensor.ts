import { DualgradError, arrayConstructor, dtypeOfArray, formatShape, sizeOf, type DType, type Shape, type TypedArray } from "@dualgrad/core";

/**
 * A concrete array handed to or returned from a compiled graph: plain data outside the
 * allocator, like a NumPy array coming back from `jax.jit` (results are copies, so later
 * calls never change them).
 */
export class HostTensor {
  constructor(readonly shape: Shape, readonly dtype: DType, readonly data: TypedArray) {
    if (data.length !== sizeOf(shape)) throw new DualgradError(`tensor: ${data.length} values do not fill shape ${formatShape(shape)}`);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.data.length !== 1) throw new DualgradError(`item: only one element tensors can be converted to numbers (got shape ${formatShape(this.shape)})`);
    return this.data[0];
  }

  /** Nested arrays (a number for rank 0). */
  toArray(): unknown {
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return this.data[offset];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }
}

/** Anything shaped like a tensor: HostTensor, an eager Tensor, a Variable. */
export interface TensorData {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly data: TypedArray;
}

/** True for tensor-like arguments (as opposed to static arguments). */
export function isTensorData(x: unknown): x is TensorData {
  return typeof x === "object" && x !== null && "shape" in x && "dtype" in x && "data" in x && ArrayBuffer.isView((x as TensorData).data);
}

function flattenNested(data: unknown, shape: number[], out: number[], depth: number): void {
  if (Array.isArray(data)) {
    if (shape.length === depth) shape.push(data.length);
    else if (shape[depth] !== data.length) throw new DualgradError(`tensor: ragged nested array at depth ${depth}`);
    for (const d of data) flattenNested(d, shape, out, depth + 1);
  } else if (typeof data === "number") {
    if (depth !== shape.length) throw new DualgradError(`tensor: ragged nested array at depth ${depth}`);
    out.push(data);
  } else throw new DualgradError(`tensor: expected numbers or nested arrays, got ${typeof data}`);
}

/** A HostTensor from nested arrays or a typed array (with `shape` for flat data), as `tf.tensor`. */
export function tensor(data: unknown, shape?: Shape, dtype?: DType): HostTensor {
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray;
    const d = dtype ?? dtypeOfArray(arr);
    const copy = new (arrayConstructor(d))(arr.length);
    copy.set(arr);
    return new HostTensor(shape ?? [arr.length], d, copy);
  }
  const flat: number[] = [];
  const inferred: number[] = [];
  flattenNested(data, inferred, flat, 0);
  const d = dtype ?? "float32";
  const arr = new (arrayConstructor(d))(flat.length);
  arr.set(flat);
  return new HostTensor(shape ?? inferred, d, arr);
}
