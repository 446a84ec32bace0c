import {
  DTypeError, DualgradError, allocator, broadcastsTo, compileProgram, composites as C, execute, floatResultType, formatShape, isFloat, numberLiteral, ops,
  profiler, releaseValue, resultType, shapesEqual, shapesLabel, valueFrom, type Attrs, type CompareKind, type DType, type ElementwiseKernel, type Emitter, type Meta, type Prim, type Shape, type Value,
} from "@dualgrad/core";
import { firstNonFinite } from "./anomaly.js";
import { launchProgram } from "./program-tracer.js";
import { Node } from "./node.js";
import { isAnomalyDetectionEnabled, isGradEnabled } from "./grad-mode.js";
import { Tensor, type TensorLike } from "./tensor.js";

/**
 * The functional API: every core primitive as a function on tensors. `apply` is the whole of
 * define-by-run: run the kernel now, and if any input requires grad, record a node.
 */

let backwardDepth = 0;

/** @internal Runs `fn` as part of backward, where saved tensors whose handles were disposed may still be read. */
export function withBackward<R>(fn: () => R): R {
  backwardDepth++;
  try {
    return fn();
  } finally {
    backwardDepth--;
  }
}

function checkInput(t: Tensor, op: string, i: number): void {
  if (!(t instanceof Tensor)) throw new DualgradError(`${op}: input ${i} is not a Tensor (got ${typeof t})`);
  if (backwardDepth > 0 ? !t._storage.alive : !t._handleAlive || !t._storage.alive) {
    throw new DualgradError(`${op}: input ${i} (${t.dtype}${formatShape(t.shape)}) was disposed`);
  }
}

/** Runs primitive `prim` on tensors now and records it for autograd when any input requires grad. */
export function apply<P extends Prim>(prim: P, inputs: readonly Tensor[], attrs: Attrs[P]): Tensor {
  // Profiling on: the call is a `tape` span, whose self time (minus core's execute) is the autograd bookkeeping.
  const p = profiler;
  if (p === null) return applyNow(prim, inputs, attrs);
  const t0 = p.now();
  const out = applyNow(prim, inputs, attrs);
  p.span(prim, "tape", t0);
  return out;
}

function applyNow<P extends Prim>(prim: P, inputs: readonly Tensor[], attrs: Attrs[P]): Tensor {
  const values: Value[] = [];
  let anyRequiresGrad = false;
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    checkInput(t, prim, i);
    values.push(t._storage.value);
    anyRequiresGrad ||= t.requiresGrad;
  }
  const value = execute(prim, values, attrs);
  // Inside backward the node-level check names the Function instead (see autograd.ts).
  if (isAnomalyDetectionEnabled() && backwardDepth === 0) {
    const bad = firstNonFinite(value.data);
    if (bad && inputs.every((t) => firstNonFinite(t._storage.value.data) === null)) {
      releaseValue(value);
      throw new DualgradError(`detectAnomaly: ${prim} produced ${bad} in the forward pass from finite inputs ${inputs.map((t) => formatShape(t.shape)).join(", ")}`);
    }
  }
  // Integer results (argmax, cast to int32, masks of ints) carry no gradient, as in PyTorch.
  const record = anyRequiresGrad && isGradEnabled() && isFloat(value.dtype);
  const out = new Tensor(value);
  if (record) {
    out.requiresGrad_(true);
    out.gradFn = new Node(prim, attrs as Attrs[Prim], inputs, out);
  }
  return out;
}

/** A rank-0 tensor. */
export function scalarTensor(value: number, dtype: DType = "float32"): Tensor {
  return new Tensor(valueFrom(dtype, [], [value]));
}

/** Core's rules and composites on tensors: each emitted primitive runs now and is recorded for autograd. */
export const tensorEmitter: Emitter<Tensor> = {
  emit: <P extends Prim>(prim: P, inputs: readonly Tensor[], attrs: Attrs[P]) => apply(prim, inputs, attrs),
  meta: (t: Tensor): Meta => t,
  constant: (value: number, dtype: DType) => scalarTensor(value, dtype),
};

/** An emitter that remembers the tensors it creates, so a composite's intermediates can be disposed. */
class RecordingEmitter implements Emitter<Tensor> {
  readonly created: Tensor[] = [];
  emit<P extends Prim>(prim: P, inputs: readonly Tensor[], attrs: Attrs[P]): Tensor {
    const t = apply(prim, inputs, attrs);
    this.created.push(t);
    return t;
  }
  meta(t: Tensor): Meta {
    return t;
  }
  constant(value: number, dtype: DType): Tensor {
    const t = scalarTensor(value, dtype);
    this.created.push(t);
    return t;
  }
}

/**
 * Runs a core composite on tensors. Its intermediate handles are disposed when it returns
 * (autograd keeps what backward needs), so only the result stays live, as for a primitive.
 * A plain list rather than a `tidy` scope: this runs for every layer and loss call.
 */
export function composite(f: (e: Emitter<Tensor>) => Tensor): Tensor {
  const e = new RecordingEmitter();
  let result: Tensor | null = null;
  try {
    result = f(e);
    return result;
  } finally {
    for (const t of e.created) if (t !== result) t.dispose();
  }
}

/**
 * Applies a binary primitive to tensors or numbers, with PyTorch's type promotion (core's
 * resultType): float32 + float64 -> float64, int32 + float32 -> float32, int32 + 0.5 -> float32;
 * true division of ints gives float32.
 */
function binary(prim: "add" | "sub" | "mul" | "div" | "maximum" | "minimum", a: TensorLike, b: TensorLike): Tensor {
  return withOperands(prim, a, b, (x, y) => apply(prim, [x, y], {}));
}

/** Both operands' common dtype (core's resultType; floating for true division). */
function operandDtype(op: string, a: TensorLike, b: TensorLike): DType {
  const dtype = resultType([a, b].map((x) => (typeof x === "number" ? x : x.dtype)));
  return op === "div" ? floatResultType(dtype) : dtype;
}

function withOperands(op: string, a: TensorLike, b: TensorLike, fn: (x: Tensor, y: Tensor) => Tensor): Tensor {
  if (typeof a === "number" && typeof b === "number") throw new DualgradError(`${op}: at least one operand must be a Tensor`);
  const temps: Tensor[] = [];
  const dtype = operandDtype(op, a, b);
  const prep = (x: TensorLike): Tensor => {
    if (typeof x === "number") {
      const t = scalarTensor(x, dtype);
      temps.push(t);
      return t;
    }
    if (x.dtype !== dtype) {
      const t = cast(x, dtype);
      temps.push(t);
      return t;
    }
    return x;
  };
  try {
    return fn(prep(a), prep(b));
  } finally {
    // Autograd holds what it saved; these handles are ours alone.
    for (const t of temps) t.dispose();
  }
}

/** a + b */ export const add = (a: TensorLike, b: TensorLike): Tensor => binary("add", a, b);
/** a - b */ export const sub = (a: TensorLike, b: TensorLike): Tensor => binary("sub", a, b);
/** a * b */ export const mul = (a: TensorLike, b: TensorLike): Tensor => binary("mul", a, b);
/** a / b */ export const div = (a: TensorLike, b: TensorLike): Tensor => binary("div", a, b);
/** Elementwise maximum (ties split the gradient). */ export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary("maximum", a, b);
/** Elementwise minimum (ties split the gradient). */ export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary("minimum", a, b);

function compare(kind: CompareKind, a: TensorLike, b: TensorLike): Tensor {
  return withOperands("compare", a, b, (x, y) => apply("compare", [x, y], { kind }));
}
/** 1 where a > b, else 0. */ export const gt = (a: TensorLike, b: TensorLike): Tensor => compare("gt", a, b);
/** 1 where a >= b, else 0. */ export const ge = (a: TensorLike, b: TensorLike): Tensor => compare("ge", a, b);
/** 1 where a < b, else 0. */ export const lt = (a: TensorLike, b: TensorLike): Tensor => compare("lt", a, b);
/** 1 where a <= b, else 0. */ export const le = (a: TensorLike, b: TensorLike): Tensor => compare("le", a, b);
/** 1 where a == b, else 0. */ export const eq = (a: TensorLike, b: TensorLike): Tensor => compare("eq", a, b);
/** 1 where a != b, else 0. */ export const ne = (a: TensorLike, b: TensorLike): Tensor => compare("ne", a, b);

/** cond != 0 ? a : b, broadcasting all three. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  return withOperands("where", a, b, (x, y) => apply("where", [cond, x, y], {}));
}

/** -x */ export const neg = (x: Tensor): Tensor => apply("neg", [x], {});
/** A floating-point unary op; int32 inputs become float32 first, as in PyTorch (core's floatUnary). */
function floatUnary(prim: C.FloatUnaryPrim, x: Tensor): Tensor {
  // The float case is the primitive alone: no composite bookkeeping on the hot path.
  return x instanceof Tensor && !isFloat(x.dtype) ? composite((e) => C.floatUnary(e, prim, x)) : apply(prim, [x], {});
}
/** e^x */ export const exp = (x: Tensor): Tensor => floatUnary("exp", x);
/** ln x */ export const log = (x: Tensor): Tensor => floatUnary("log", x);
/** √x */ export const sqrt = (x: Tensor): Tensor => floatUnary("sqrt", x);
/** |x| */ export const abs = (x: Tensor): Tensor => apply("abs", [x], {});
/** max(x, 0) */ export const relu = (x: Tensor): Tensor => apply("relu", [x], {});
/** tanh x */ export const tanh = (x: Tensor): Tensor => floatUnary("tanh", x);
/** 1 / (1 + e^-x) */ export const sigmoid = (x: Tensor): Tensor => floatUnary("sigmoid", x);
/** x ** exponent */ export const pow = (x: Tensor, exponent: number): Tensor => apply("pow", [x], { exponent });

/** Reduction options: `axis` a number or list (all axes when absent), `keepdims` as NumPy. */
export type ReduceOptions = C.ReduceOptions;
/** Sum over axes. */ export const sum = (x: Tensor, opts: ReduceOptions = {}): Tensor => apply("sum", [x], C.reduceAttrs(opts));
/** Mean over axes. */ export const mean = (x: Tensor, opts: ReduceOptions = {}): Tensor => apply("mean", [x], C.reduceAttrs(opts));
/** Max over axes. */ export const max = (x: Tensor, opts: ReduceOptions = {}): Tensor => apply("max", [x], C.reduceAttrs(opts));
/** log(sum(exp(x))) over axes, stable. */ export const logsumexp = (x: Tensor, opts: ReduceOptions = {}): Tensor => apply("logsumexp", [x], C.reduceAttrs(opts));
/** Index of the maximum along an axis (flattened when no axis is given). */
export const argmax = (x: Tensor, opts: { axis?: number; keepdims?: boolean } = {}): Tensor => composite((e) => C.argmax(e, x, opts));
/** log(softmax(x)) along `axis`. */ export const logSoftmax = (x: Tensor, axis = -1): Tensor => C.logSoftmax(tensorEmitter, x, axis);
/** softmax along `axis` = exp(log_softmax). */ export const softmax = (x: Tensor, axis = -1): Tensor => composite((e) => C.softmax(e, x, axis));

/** Accepts `reshape(2, 3)` and `reshape([2, 3])`. */
export function shapeArgs(args: number[] | [Shape]): Shape {
  return args.length === 1 && Array.isArray(args[0]) ? (args[0] as Shape) : (args as number[]);
}
/** New shape, same elements (one -1 allowed). */ export const reshape = (x: Tensor, shape: Shape): Tensor => apply("reshape", [x], { shape });
/** Reorders dimensions. */ export const permute = (x: Tensor, perm: readonly number[]): Tensor => apply("transpose", [x], C.permuteAttrs(perm, x.ndim));
/** Swaps two dimensions. */ export const transpose = (x: Tensor, dim0 = -2, dim1 = -1): Tensor => apply("transpose", [x], C.swapAttrs(dim0, dim1, x.ndim));
/** Matrix transpose (PyTorch's `.T` for rank <= 2). */
export function t(x: Tensor): Tensor {
  if (x.ndim > 2) throw new DualgradError(`T: expects a tensor of rank <= 2, got ${formatShape(x.shape)}; use permute()`);
  return x.ndim < 2 ? reshape(x, x.shape) : transpose(x, 0, 1);
}
/** Broadcasts to `shape`. */ export const broadcastTo = (x: Tensor, shape: Shape): Tensor => apply("broadcast_to", [x], { shape });
/** x[begin:end] per axis. */ export const slice = (x: Tensor, begin: readonly number[], end: readonly number[]): Tensor => apply("slice", [x], { begin, end });
/** Zero padding: `before[d]` and `after[d]` zeros around each dimension. */
export const pad = (x: Tensor, before: readonly number[], after: readonly number[]): Tensor => apply("pad", [x], { before, after });
/** Inserts a size-1 dimension at `dim`. */ export const unsqueeze = (x: Tensor, dim: number): Tensor => reshape(x, C.unsqueezeShape(x.shape, dim));
/** Removes size-1 dimensions (all of them, or only `dim`). */ export const squeeze = (x: Tensor, dim?: number): Tensor => reshape(x, C.squeezeShape(x.shape, dim));
/** Converts to `dtype`. */ export const cast = (x: Tensor, dtype: DType): Tensor => apply("cast", [x], { dtype });
/** Integer labels to a one-hot matrix. */
export const oneHot = (labels: Tensor, depth: number, dtype: DType = "float32"): Tensor => apply("one_hot", [labels], { depth, dtype });

/** Matrix product with PyTorch's rules: batched and broadcasting; 1-D operands are promoted and the added dimension removed. */
export function matmul(a: Tensor, b: Tensor, opts: C.MatmulFlags = {}): Tensor {
  return composite((e) => C.matmul(e, a, b, opts));
}

function checkInPlace(self: Tensor, op: string): void {
  self._checkAlive(op);
  if (isGradEnabled() && self.requiresGrad) {
    throw new DualgradError(
      self.isLeaf
        ? `${op}: a leaf Variable that requires grad is being used in an in-place operation (wrap the update in noGrad)`
        : `${op}: in-place operations on tensors recorded by autograd are not supported; use the out-of-place op`,
    );
  }
}

/** Writes a computed value into `self`'s memory and bumps its version. */
function writeInto<T extends Tensor>(self: T, op: string, src: Tensor): T {
  try {
    if (!shapesEqual(src.shape, self.shape)) {
      throw new DualgradError(`${op}: result shape ${formatShape(src.shape)} does not match the in-place target ${formatShape(self.shape)}`);
    }
    self._storage.value.data.set(src._storage.value.data);
    self._storage.version++;
    return self;
  } finally {
    src.dispose();
  }
}

/** @internal self op= other, in place, not recorded. */
export function inPlace<T extends Tensor>(self: T, prim: "add" | "sub" | "mul" | "div", other: TensorLike): T {
  checkInPlace(self, `${prim}_`);
  const wanted = operandDtype(prim, self, other);
  if (isFloat(wanted) && !isFloat(self.dtype)) {
    // PyTorch: "result type Float can't be cast to the desired output type Int".
    throw new DTypeError(`${prim}_`, `result type ${wanted} can't be stored in the ${self.dtype} tensor being updated in place`);
  }
  const o = typeof other === "number" ? null : other;
  if (o === null || (o.dtype === self.dtype && broadcastsTo(o.shape, self.shape))) {
    // The common case (an optimizer update): run the kernel straight into self's memory.
    // Elementwise kernels read element i before writing element i, so aliasing is safe.
    const operand = o ?? scalarTensor(other as number, self.dtype);
    try {
      operand._checkAlive(`${prim}_`);
      const out = self._storage.value;
      const p = profiler;
      if (p === null) ops[prim].kernel([out, operand._storage.value], out, {});
      else {
        const t0 = p.now();
        ops[prim].kernel([out, operand._storage.value], out, {});
        p.kernel(`${prim}_`, t0, shapesLabel([out, operand._storage.value]), 0);
      }
      allocator.countLaunch();
      self._storage.version++;
      return self;
    } finally {
      if (o === null) operand.dispose();
    }
  }
  return writeInto(self, `${prim}_`, withOperands(prim, self, other, (x, y) => execTensor(prim, x, y)));
}

/** Runs a binary primitive without recording (for in-place updates). */
function execTensor(prim: "add" | "sub" | "mul" | "div", x: Tensor, y: Tensor): Tensor {
  return new Tensor(execute(prim, [x._storage.value, y._storage.value], {}));
}

/** subScaledInPlace's kernels, by dtype and alpha. */
const subScaledKernels = new Map<string, ElementwiseKernel>();

/**
 * @internal `self -= alpha * x` in one generated loop, in place (the SGD update, fused as
 * PyTorch's fused optimizers do). It is core's two-op program `x0 - x1 * alpha`, each op rounded
 * to self's dtype exactly where `self.sub_(x.mul(alpha))` would store it, so results are the same
 * bits; the graph frontend's fused update compiles the same two ops the same way.
 */
export function subScaledInPlace<T extends Tensor>(self: T, x: Tensor, alpha: number): T {
  checkInPlace(self, "sub_");
  x._checkAlive("sub_");
  if (!shapesEqual(x.shape, self.shape) || x.dtype !== self.dtype || !isFloat(self.dtype)) {
    return inPlace(self, "sub", mul(x, alpha));
  }
  // alpha as a constant of self's dtype, as `x.mul(alpha)` would read it.
  const a = self.dtype === "float32" ? Math.fround(alpha) : alpha;
  const key = `${self.dtype}:${numberLiteral(a)}`;
  let kernel = subScaledKernels.get(key);
  if (!kernel) {
    const dtype = self.dtype;
    kernel = compileProgram({
      ops: [
        { prim: "mul", attrs: {}, operands: [{ from: "in", index: 1 }, { from: "const", value: a }], dtype },
        { prim: "sub", attrs: {}, operands: [{ from: "in", index: 0 }, { from: "op", index: 0 }], dtype },
      ],
    }, 2);
    subScaledKernels.set(key, kernel);
  }
  const v = self._storage.value;
  launchProgram(kernel, "fused(mul→sub)_", v, [v, x._storage.value], 0);
  self._storage.version++;
  return self;
}

/** @internal Copies `src` (broadcast, cast) into `self`. */
export function copyInto<T extends Tensor>(self: T, src: Tensor): T {
  checkInPlace(self, "copy_");
  src._checkAlive("copy_");
  const cast = src.dtype === self.dtype ? src._storage.value : execute("cast", [src._storage.value], { dtype: self.dtype });
  const b = execute("broadcast_to", [cast], { shape: self.shape });
  if (cast !== src._storage.value) releaseValue(cast);
  return writeInto(self, "copy_", new Tensor(b));
}

/** @internal Fills `self` with `value`. */
export function fillInPlace<T extends Tensor>(self: T, value: number): T {
  checkInPlace(self, "fill_");
  self._storage.value.data.fill(value);
  self._storage.version++;
  return self;
}
