import { DualgradError, allocValue, formatShape, releaseValue, sizeOf, type DType, type Shape, type TypedArray, type Value } from "@dualgrad/core";

let counter = 0;
const names = new Set<string>();

/**
 * A persistent tensor that lives between calls of a compiled function (a parameter or an
 * optimizer slot), like `tf.Variable`. Its buffer comes from core's allocator and is updated in
 * place by the graph's `assign`s.
 */
export class Variable {
  readonly name: string;
  readonly value: Value;
  private disposed = false;

  constructor(shape: Shape, dtype: DType = "float32", options: { name?: string; init?: ArrayLike<number> } = {}) {
    let name = options.name ?? `var_${counter++}`;
    // Names identify variables inside graphs, so they must be unique in the process.
    while (names.has(name)) name = `${options.name ?? "var"}_${counter++}`;
    names.add(name);
    this.name = name;
    this.value = allocValue(dtype, shape, true);
    if (options.init) {
      if (options.init.length !== sizeOf(shape)) {
        throw new DualgradError(`Variable ${name}: ${options.init.length} initial values do not fill shape ${formatShape(shape)}`);
      }
      this.value.data.set(options.init);
    }
  }

  get shape(): Shape {
    return this.value.shape;
  }

  get dtype(): DType {
    return this.value.dtype;
  }

  /** The current contents (a live view). */
  get data(): TypedArray {
    if (this.disposed) throw new DualgradError(`Variable ${this.name} was disposed`);
    return this.value.data;
  }

  /** Overwrites the contents. */
  assign(values: ArrayLike<number>): void {
    if (values.length !== this.value.data.length) {
      throw new DualgradError(`Variable ${this.name}: assign of ${values.length} values to shape ${formatShape(this.shape)}`);
    }
    this.data.set(values);
  }

  /** Releases the buffer. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    names.delete(this.name);
    releaseValue(this.value);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}
