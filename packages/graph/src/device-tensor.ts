import { DualgradError, cancelReleaseOnCollect, formatShape, releaseOnCollect, releaseValue, sizeOf, valueFrom, type DType, type Shape, type TypedArray, type Value } from "@dualgrad/core";
import type { TensorData } from "./host-tensor.js";

/**
 * A tensor held in core's allocator, which puts it in the WebAssembly heap where there is one:
 * the analogue of the array `jax.device_put` returns. Compiled functions read their inputs where
 * the caller keeps them, so a DeviceTensor passed every step costs no copy at all (a plain
 * {@link HostTensor} works too, but its float32 data is copied into the heap by each wasm kernel
 * that reads it). Owned by the caller: release it with `dispose()` (or `using`); one dropped
 * undisposed is freed when the garbage collector reclaims it (core's backstop).
 */
export class DeviceTensor implements TensorData {
  /** Its shape (still readable after `dispose()`, for messages). */
  readonly shape: Shape;
  /** Its element type (still readable after `dispose()`). */
  readonly dtype: DType;
  private value: Value | null;

  constructor(shape: Shape, dtype: DType, values: ArrayLike<number>) {
    if (values.length !== sizeOf(shape)) throw new DualgradError(`put: ${values.length} values do not fill shape ${formatShape(shape)}`);
    this.value = valueFrom(dtype, shape, values);
    this.shape = this.value.shape;
    this.dtype = dtype;
    releaseOnCollect(this, this.value.buffer);
  }

  /**
   * The elements, in place (writing them changes the tensor). Reading this after `dispose()`
   * throws; a view taken before dies with the tensor: the allocator hands its memory to the next
   * tensor, so copy it (`.slice()`) to keep the numbers.
   */
  get data(): TypedArray {
    if (!this.value) throw new DualgradError(`data: DeviceTensor ${this.dtype}${formatShape(this.shape)} used after dispose()`);
    return this.value.data;
  }

  /** Whether `dispose()` has run. */
  get disposed(): boolean {
    return this.value === null;
  }

  /** Returns the memory to the allocator; reading `data` afterwards throws. Idempotent. */
  dispose(): void {
    if (!this.value) return;
    cancelReleaseOnCollect(this);
    releaseValue(this.value);
    this.value = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Copies `x` into core's allocator (the WebAssembly heap where there is one), like `jax.device_put`. */
export function put(x: TensorData): DeviceTensor {
  return new DeviceTensor(x.shape, x.dtype, x.data);
}
