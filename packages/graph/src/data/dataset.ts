import { DualgradError, PhiloxGenerator, arrayConstructor, defaultGenerator, formatShape, shapesEqual, sizeOf } from "@dualgrad/core";
import { fn, type GraphFunction } from "../function.js";
import { HostTensor, tensor, type TensorData } from "../host-tensor.js";
import { leavesOf, withLeaves, isTensorLeaf, type Element, type MapLeaves, type Structure } from "../structure.js";
import { SymbolicTensor } from "../symbolic.js";

/**
 * `tf.data` on the graph frontend: an input pipeline of host-side elements (HostTensors in
 * arrays or plain objects) built from a source with chained transformations. A dataset is a
 * recipe: each iteration (`for...of`, `for await...of`, `model.fit(dataset)`) runs it afresh, so
 * an epoch is one iteration and a shuffled dataset reshuffles every epoch by default, as TF's.
 * `map` traces its function into a compiled graph, as TF's does, so per-element preprocessing
 * runs compiled.
 */

const isHostLeaf = (x: unknown): x is HostTensor => x instanceof HostTensor;

/** Options of {@link Dataset.shuffle}. */
export interface ShuffleOptions {
  /** Seed of the shuffle order (default: drawn from core's default generator, so `manualSeed` makes it reproducible). */
  seed?: number;
  /** Draw a new order on every iteration (default true, as TF); false repeats the first order. */
  reshuffleEachIteration?: boolean;
}

/** Options of {@link Dataset.batch}. */
export interface BatchOptions {
  /** Drop a last batch shorter than the batch size (default false), keeping every batch the same shape (one trace). */
  dropRemainder?: boolean;
}

/** What {@link Dataset.fromTensorSlices} takes: tensors (or nested number arrays) in arrays or plain objects, all with the same first dimension. */
export type TensorSlicesInput = Structure<TensorData | number[] | number[][] | number[][][]>;

/** The element type of slicing `T`: each tensor leaf loses its first dimension. */
export type SlicesOf<T> = T extends number[] | number[][] | number[][][] ? HostTensor : MapLeaves<T, HostTensor>;

/** Positional arguments of a `map` function: a tuple element is unpacked (TF's `map(lambda x, y: ...)`), anything else is one argument. */
export type MapArgs<E> = E extends readonly unknown[] ? MapLeaves<E, SymbolicTensor> : [MapLeaves<E, SymbolicTensor>];

/** Numbers in nested arrays, as `tensor()` takes them. */
function isNumberArray(x: unknown): x is number[] {
  return Array.isArray(x) && x.length > 0 && x.every((v) => typeof v === "number" || isNumberArray(v));
}

/** Row `i` of `t` (shape `t.shape.slice(1)`), copied. */
function sliceRow(t: TensorData, i: number): HostTensor {
  const shape = t.shape.slice(1);
  const w = sizeOf(shape);
  return new HostTensor(shape, t.dtype, t.data.slice(i * w, (i + 1) * w));
}

/** Stacks equally shaped tensors into one `[n, ...shape]` tensor. */
function stack(ts: readonly HostTensor[], leaf: number): HostTensor {
  const first = ts[0];
  const w = first.data.length;
  const out = new (arrayConstructor(first.dtype))(ts.length * w);
  ts.forEach((t, i) => {
    if (t.dtype !== first.dtype || !shapesEqual(t.shape, first.shape)) {
      throw new DualgradError(`Dataset.batch: component ${leaf} of element ${i} is ${t.dtype}${formatShape(t.shape)} but element 0's is ${first.dtype}${formatShape(first.shape)}; batched elements must match`);
    }
    out.set(t.data, i * w);
  });
  return new HostTensor([ts.length, ...first.shape], first.dtype, out);
}

/** Validates a count argument. */
function checkCount(api: string, n: unknown, min: number): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min) throw new DualgradError(`${api}: expected an integer >= ${min}, got ${String(n)}`);
  return n;
}

/** A reusable single draw, uniform on [0, n). */
function drawIndex(gen: PhiloxGenerator, scratch: Int32Array, n: number): number {
  gen.fillRandint(scratch, 0, n);
  return scratch[0];
}

/** A dataset: iterate it (sync or async), or transform it into another one. */
export class Dataset<E = Element> implements Iterable<E>, AsyncIterable<E> {
  private constructor(
    private readonly source: () => Iterator<E>,
    /** Compiled `map` functions of this pipeline, released by {@link dispose}. */
    private readonly owned: readonly GraphFunction<HostTensor[]>[] = [],
  ) {}

  /**
   * A dataset of the rows of `tensors` (`tf.data.Dataset.from_tensor_slices`): `x`, `[x, y]`,
   * `{ x, y }`, nested at will; element i holds row i of every tensor. All tensors must have the
   * same first dimension. The rows are copied per element, so later changes to the inputs do
   * not reach elements already produced.
   */
  static fromTensorSlices<const T extends TensorSlicesInput>(tensors: T): Dataset<SlicesOf<T>> {
    const api = "Dataset.fromTensorSlices";
    const isLeaf = (x: unknown): x is TensorData | number[] => isTensorLeaf(x) || isNumberArray(x);
    const leaves = leavesOf(tensors as Structure<TensorData | number[]>, isLeaf, api).map((l) => (isTensorLeaf(l) ? l : tensor(l)));
    if (leaves.length === 0) throw new DualgradError(`${api}: no tensors given`);
    const n = leaves[0].shape[0];
    leaves.forEach((t, k) => {
      if (t.shape.length === 0) throw new DualgradError(`${api}: component ${k} is a scalar; slicing needs at least one dimension`);
      if (t.shape[0] !== n) {
        throw new DualgradError(`${api}: every component needs the same first dimension; component 0 has ${n} rows, component ${k} has shape ${formatShape(t.shape)}`);
      }
    });
    const structure = tensors as Structure<TensorData | number[]>;
    return new Dataset<SlicesOf<T>>(function* () {
      for (let i = 0; i < n; i++) yield withLeaves<TensorData | number[], HostTensor>(structure, isLeaf, leaves.map((t) => sliceRow(t, i))) as unknown as SlicesOf<T>;
    });
  }

  /** Iterates the elements (one run of the pipeline). */
  [Symbol.iterator](): Iterator<E> {
    return this.source();
  }

  /** Iterates the elements asynchronously, yielding to the event loop between elements. */
  async *[Symbol.asyncIterator](): AsyncIterator<E> {
    for (const e of this) {
      yield e;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** A dataset with the same compiled functions, for chaining. */
  private then<F>(source: () => Iterator<F>, owned: readonly GraphFunction<HostTensor[]>[] = []): Dataset<F> {
    return new Dataset(source, [...this.owned, ...owned]);
  }

  /**
   * Shuffles with a buffer of `bufferSize` elements, TF's algorithm: fill the buffer, then
   * repeatedly emit a uniformly drawn buffer element and put the next input element in its
   * place. A buffer at least as large as the dataset gives a uniform permutation; a smaller one
   * only mixes nearby elements. Draws come from core's Philox generator: with a `seed` the orders
   * are reproducible; each iteration draws a new order unless `reshuffleEachIteration` is false.
   */
  shuffle(bufferSize: number, options: ShuffleOptions = {}): Dataset<E> {
    checkCount("Dataset.shuffle: bufferSize", bufferSize, 1);
    if (options.seed !== undefined) checkCount("Dataset.shuffle: seed", options.seed, 0);
    const seed = options.seed ?? defaultGenerator.randint(1, 0, 0x7fffffff)[0];
    const reshuffle = options.reshuffleEachIteration ?? true;
    // Per-iteration seeds come from one generator, so iteration k's order is a function of (seed, k).
    const seeds = new PhiloxGenerator(seed);
    const upstream = this;
    return this.then(function* () {
      const gen = new PhiloxGenerator(reshuffle ? seeds.randint(1, 0, 0x7fffffff)[0] : seed);
      const scratch = new Int32Array(1);
      const buffer: E[] = [];
      for (const e of upstream) {
        if (buffer.length < bufferSize) {
          buffer.push(e);
          continue;
        }
        const i = drawIndex(gen, scratch, buffer.length);
        yield buffer[i];
        buffer[i] = e;
      }
      while (buffer.length > 0) {
        const i = drawIndex(gen, scratch, buffer.length);
        yield buffer[i];
        buffer[i] = buffer[buffer.length - 1];
        buffer.pop();
      }
    });
  }

  /** Stacks `batchSize` consecutive elements into one (each tensor gains a leading batch dimension); the last batch may be shorter unless `dropRemainder`. */
  batch(batchSize: number, options: BatchOptions = {}): Dataset<E> {
    checkCount("Dataset.batch: batchSize", batchSize, 1);
    const drop = options.dropRemainder ?? false;
    const upstream = this;
    const stackAll = (elements: E[]): E => {
      const columns = elements.map((e) => leavesOf(e as Element, isHostLeaf, "Dataset.batch"));
      return withLeaves(elements[0] as Element, isHostLeaf, columns[0].map((_, k) => stack(columns.map((c) => c[k]), k))) as E;
    };
    return this.then(function* () {
      let pending: E[] = [];
      for (const e of upstream) {
        pending.push(e);
        if (pending.length === batchSize) {
          yield stackAll(pending);
          pending = [];
        }
      }
      if (pending.length > 0 && !drop) yield stackAll(pending);
    });
  }

  /**
   * Applies `f` to every element, TF's `map`: `f` is traced into a compiled graph function
   * (once per element signature), receiving the element's tensors as symbolic tensors: a tuple
   * element `[x, y]` as two arguments, anything else as one. It returns symbolic tensors in any
   * structure, which becomes the new element. Call {@link dispose} to release the compiled code.
   */
  map<R extends Structure<SymbolicTensor>>(f: (...args: MapArgs<E>) => R): Dataset<MapLeaves<R, HostTensor>> {
    const isSym = (x: unknown): x is SymbolicTensor => x instanceof SymbolicTensor;
    let outStructure: Structure<SymbolicTensor> | null = null;
    let inStructure: Element | null = null;
    const compiled = fn(
      (...leaves: SymbolicTensor[]) => {
        const element = withLeaves(inStructure!, isHostLeaf, leaves);
        const out = f(...((Array.isArray(element) ? element : [element]) as MapArgs<E>));
        outStructure = out;
        return leavesOf(out, isSym, "Dataset.map: the function's result");
      },
      { name: "Dataset.map" },
    ) as GraphFunction<HostTensor[]>;
    const upstream = this;
    return this.then<MapLeaves<R, HostTensor>>(function* () {
      for (const e of upstream) {
        inStructure = e as Element;
        const outs = compiled(...leavesOf(e as Element, isHostLeaf, "Dataset.map"));
        yield withLeaves<SymbolicTensor, HostTensor>(outStructure!, isSym, outs) as unknown as MapLeaves<R, HostTensor>;
      }
    }, [compiled]);
  }

  /** The first `count` elements. */
  take(count: number): Dataset<E> {
    checkCount("Dataset.take", count, 0);
    const upstream = this;
    return this.then(function* () {
      if (count === 0) return;
      let k = 0;
      for (const e of upstream) {
        yield e;
        if (++k === count) return;
      }
    });
  }

  /** The dataset `count` times over (forever without a count), each pass a new iteration (so a shuffle reshuffles). */
  repeat(count?: number): Dataset<E> {
    if (count !== undefined) checkCount("Dataset.repeat", count, 0);
    const upstream = this;
    return this.then(function* () {
      for (let pass = 0; count === undefined || pass < count; pass++) {
        let any = false;
        for (const e of upstream) {
          any = true;
          yield e;
        }
        if (!any) return; // an empty dataset repeated forever is still empty
      }
    });
  }

  /** Releases the compiled `map` functions of this pipeline (and of the datasets it was built from). */
  dispose(): void {
    for (const f of this.owned) f.dispose();
  }
}

/** `tf.data`: the {@link Dataset} class. */
export const data = { Dataset };
