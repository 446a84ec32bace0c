import type { DType } from "./dtype.js";
import { allocator, type DataBuffer } from "./memory.js";
import { checkAttrs } from "./ops/attrs.js";
import { arityError, ops } from "./ops/index.js";
import type { Attrs, Emitter, Meta, Prim, View } from "./ops/prim.js";
import { checkShape, sizeOf, type Shape } from "./shape.js";
import { DualgradError } from "./errors.js";
import { kernelFlops } from "./kernel-flops.js";
import { profiler, shapesLabel, type ProfileRecorder } from "./profiler.js";

/**
 * Running primitives on concrete values, through the allocator. This is the whole of "run an
 * op now": abstract evaluation, allocation, kernel, launch count. It knows nothing of tapes.
 */

/** A view that owns an allocator buffer (release it with {@link releaseValue}). */
export interface Value extends View {
  readonly buffer: DataBuffer;
}

/** Which kernels run: the fast ones, or the reference loops (for testing the fast ones). */
export interface ExecuteOptions {
  reference?: boolean;
}

/**
 * Abstract evaluation of one primitive: output shape and dtype, or a ShapeError. Every op of
 * both frontends passes here first, so this is where attributes are checked against their schema.
 */
export function inferMeta<P extends Prim>(prim: P, inputs: readonly Meta[], attrs: Attrs[P]): Meta {
  const wrong = arityError(prim, inputs.length);
  if (wrong !== null) throw new DualgradError(`${prim}: ${wrong}`);
  checkAttrs(prim, attrs);
  return ops[prim].infer(inputs, attrs);
}

/** Allocates an uninitialised value of the given meta. */
export function allocValue(dtype: DType, shape: Shape, zeroed = false): Value {
  checkShape("alloc", shape);
  const buffer = allocator.alloc(dtype, sizeOf(shape), zeroed);
  return { shape: [...shape], dtype, data: buffer.data, buffer };
}

/** A value holding `values` (converted to `dtype`); `values.length` must match the shape. */
export function valueFrom(dtype: DType, shape: Shape, values: ArrayLike<number>): Value {
  checkShape("tensor", shape);
  if (values.length !== sizeOf(shape)) {
    throw new DualgradError(`tensor: ${values.length} values do not fill shape [${shape.join(",")}] (${sizeOf(shape)} elements)`);
  }
  const v = allocValue(dtype, shape);
  v.data.set(values);
  return v;
}

/** Returns a value's buffer to the allocator. */
export function releaseValue(v: Value): void {
  allocator.release(v.buffer);
}

/** Runs `prim` on `inputs` now: infers, allocates the output, runs the kernel, counts the launch. */
export function execute<P extends Prim>(prim: P, inputs: readonly View[], attrs: Attrs[P], options: ExecuteOptions = {}): Value {
  // The one profiling branch of an eager kernel launch (see profiler.ts).
  const p = profiler;
  if (p !== null) return executeProfiled(p, prim, inputs, attrs, options);
  const meta = inferMeta(prim, inputs, attrs);
  return runKernel(prim, inputs, attrs, options, allocValue(meta.dtype, meta.shape));
}

/** {@link execute} timed: the whole call as a `dispatch` span, the kernel inside it as a `kernel` span. */
function executeProfiled<P extends Prim>(p: ProfileRecorder, prim: P, inputs: readonly View[], attrs: Attrs[P], options: ExecuteOptions): Value {
  const t0 = p.now();
  const meta = inferMeta(prim, inputs, attrs);
  const out = allocValue(meta.dtype, meta.shape);
  const t1 = p.now();
  runKernel(prim, inputs, attrs, options, out);
  p.kernel(prim, t1, shapesLabel(inputs), out.data.byteLength, kernelFlops(prim, inputs.map((v) => v.shape), meta.shape, attrs));
  p.span("execute", "dispatch", t0);
  return out;
}

/** Runs `prim`'s kernel into `out` (released if the kernel throws) and counts the launch. */
function runKernel<P extends Prim>(prim: P, inputs: readonly View[], attrs: Attrs[P], options: ExecuteOptions, out: Value): Value {
  try {
    const def = ops[prim];
    if (options.reference) def.reference(inputs, out, attrs);
    else def.kernel(inputs, out, attrs);
  } catch (err) {
    releaseValue(out);
    throw err;
  }
  allocator.countLaunch();
  return out;
}

/**
 * An emitter over concrete values: VJP rules run through it compute gradients immediately.
 * It remembers every value it created so the caller can release the temporaries.
 */
export class ValueEmitter implements Emitter<Value> {
  /** Values created by this emitter, in creation order. */
  readonly created: Value[] = [];
  constructor(private readonly options: ExecuteOptions = {}) {}

  emit<P extends Prim>(prim: P, inputs: readonly Value[], attrs: Attrs[P]): Value {
    const v = execute(prim, inputs, attrs, this.options);
    this.created.push(v);
    return v;
  }

  meta(t: Value): Meta {
    return t;
  }

  constant(value: number, dtype: DType): Value {
    const v = valueFrom(dtype, [], [value]);
    this.created.push(v);
    return v;
  }

  /** Releases every value this emitter created except those in `keep`. */
  releaseAllExcept(keep: readonly Value[] = []): void {
    for (const v of this.created) if (!keep.includes(v) && !v.buffer.released) releaseValue(v);
    this.created.length = 0;
  }
}
