import { DualgradError, allocValue, cancelReleaseOnCollect, formatShape, releaseOnCollect, releaseValue, sizeOf, type DType, type Shape, type TypedArray, type Value } from "@dualgrad/core";

let counter = 0;
const names = new Set<string>();

/**
 * A persistent tensor that lives between calls of a compiled function (a parameter or an
 * optimizer slot), like `tf.Variable`. Its buffer comes from core's allocator and is updated in
 * place by the graph's `assign`s. Release it with `dispose()`; one dropped undisposed is freed
 * when the garbage collector reclaims it (core's backstop).
 */
export class Variable {
  readonly name: string;
  private readonly buffer: Value;
  private disposed = false;

  constructor(shape: Shape, dtype: DType = "float32", options: { name?: string; init?: ArrayLike<number> } = {}) {
    let name = options.name ?? `var_${counter++}`;
    // Names identify variables inside graphs, so they must be unique in the process.
    while (names.has(name)) name = `${options.name ?? "var"}_${counter++}`;
    names.add(name);
    this.name = name;
    this.buffer = allocValue(dtype, shape, true);
    // Registered first: a variable whose constructor throws below is garbage and frees its buffer.
    releaseOnCollect(this, this.buffer.buffer);
    if (options.init) {
      if (options.init.length !== sizeOf(shape)) {
        throw new DualgradError(`Variable ${name}: ${options.init.length} initial values do not fill shape ${formatShape(shape)}`);
      }
      this.buffer.data.set(options.init);
    }
  }

  /** Its shape (still readable after `dispose()`, for messages). */
  get shape(): Shape {
    return this.buffer.shape;
  }

  /** Its element type (still readable after `dispose()`). */
  get dtype(): DType {
    return this.buffer.dtype;
  }

  /** The buffer itself, for compiled graphs to read and update in place; throws after `dispose()`. */
  get value(): Value {
    this.checkAlive("value");
    return this.buffer;
  }

  /**
   * The current contents (a live view). Reading this after `dispose()` throws; a view taken
   * before dies with the variable: the allocator hands its memory to the next tensor, so copy
   * it (`.slice()`) to keep the numbers.
   */
  get data(): TypedArray {
    this.checkAlive("data");
    return this.buffer.data;
  }

  /** Overwrites the contents. */
  assign(values: ArrayLike<number>): void {
    this.checkAlive("assign");
    const data = this.buffer.data;
    if (values.length !== data.length) {
      throw new DualgradError(`Variable ${this.name}: assign of ${values.length} values to shape ${formatShape(this.shape)}`);
    }
    data.set(values);
  }

  /** Throws, naming the variable, once it has been disposed. */
  checkAlive(api: string): void {
    if (this.disposed) throw new DualgradError(`${api}: Variable ${this.name} ${this.dtype}${formatShape(this.shape)} used after dispose()`);
  }

  /** Releases the buffer. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    names.delete(this.name);
    cancelReleaseOnCollect(this);
    releaseValue(this.buffer);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}
