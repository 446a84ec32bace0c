import {
  DualgradError, composites as C, floatResultType, formatShape, resultType, type Attrs, type CompareKind, type DType, type Prim, type Shape,
} from "@dualgrad/core";
import type { GraphBuilder } from "./builder.js";
import { DTYPE_SHORT } from "./ir.js";
import { Variable } from "./variable.js";

/**
 * Symbolic tensors: what a traced function sees instead of data. They have the eager Tensor's
 * op names and semantics (broadcasting, numbers as scalars, dtype promotion), but every op adds
 * a node to the graph being traced instead of computing.
 */

const traces: GraphBuilder[] = [];

/** @internal Runs `fn` with `b` as the graph being traced. */
export function withTrace<R>(b: GraphBuilder, fn: () => R): R {
  traces.push(b);
  try {
    return fn();
  } finally {
    traces.pop();
  }
}

/** The innermost graph being traced, or null outside tracing. */
export function currentTrace(): GraphBuilder | null {
  return traces.length ? traces[traces.length - 1] : null;
}

/**
 * Thrown when a traced value is used where JavaScript needs a real number (an `if`, a
 * comparison, `.item()`): like JAX's ConcretizationTypeError, the value does not exist yet.
 */
export class ConcretizationError extends DualgradError {
  override name = "ConcretizationError";
}

/** Operands: symbolic tensors, variables (read), or numbers (rank-0 constants). */
export type SymLike = SymbolicTensor | Variable | number;

/** A value in a graph under construction. */
export class SymbolicTensor {
  constructor(
    /** @internal */ readonly builder: GraphBuilder,
    /** The value id in the graph. */ readonly id: number,
  ) {}

  get shape(): Shape {
    return this.builder.meta(this.id).shape;
  }
  get dtype(): DType {
    return this.builder.meta(this.id).dtype;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  private concrete(what: string): never {
    throw new ConcretizationError(
      `${what}: the value of traced tensor ${DTYPE_SHORT[this.dtype]}${formatShape(this.shape)} is not known while tracing ` +
        `(it only exists when the compiled graph runs), so it cannot steer JavaScript control flow (if/while/comparisons) or be read. ` +
        `Use where(cond, a, b) to select by value inside the graph, or pass the value as a static argument so each value gets its own trace.`,
    );
  }
  /** Always throws: see {@link ConcretizationError}. */ item(): number { return this.concrete("item()"); }
  /** Always throws: see {@link ConcretizationError}. */ toArray(): never { return this.concrete("toArray()"); }
  /** Always throws (JS calls it for `<`, `+`, `if (x > 0)` ...). */ valueOf(): never { return this.concrete("using a traced tensor as a number"); }
  /** Always throws. */ [Symbol.toPrimitive](): never { return this.concrete("using a traced tensor as a primitive"); }
  toString(): string {
    return `SymbolicTensor(${DTYPE_SHORT[this.dtype]}${formatShape(this.shape)})`;
  }

  /** `this + other` */ add(o: SymLike): SymbolicTensor { return binary("add", this, o); }
  /** `this - other` */ sub(o: SymLike): SymbolicTensor { return binary("sub", this, o); }
  /** `this * other` */ mul(o: SymLike): SymbolicTensor { return binary("mul", this, o); }
  /** `this / other` */ div(o: SymLike): SymbolicTensor { return binary("div", this, o); }
  /** Elementwise maximum. */ maximum(o: SymLike): SymbolicTensor { return binary("maximum", this, o); }
  /** Elementwise minimum. */ minimum(o: SymLike): SymbolicTensor { return binary("minimum", this, o); }
  /** 1/0 mask of this > other. */ gt(o: SymLike): SymbolicTensor { return compare("gt", this, o); }
  /** 1/0 mask of this >= other. */ ge(o: SymLike): SymbolicTensor { return compare("ge", this, o); }
  /** 1/0 mask of this < other. */ lt(o: SymLike): SymbolicTensor { return compare("lt", this, o); }
  /** 1/0 mask of this <= other. */ le(o: SymLike): SymbolicTensor { return compare("le", this, o); }
  /** 1/0 mask of this == other. */ eq(o: SymLike): SymbolicTensor { return compare("eq", this, o); }
  /** 1/0 mask of this != other. */ ne(o: SymLike): SymbolicTensor { return compare("ne", this, o); }
  /** -x */ neg(): SymbolicTensor { return unary("neg", this); }
  /** e^x */ exp(): SymbolicTensor { return unary("exp", this); }
  /** ln x */ log(): SymbolicTensor { return unary("log", this); }
  /** √x */ sqrt(): SymbolicTensor { return unary("sqrt", this); }
  /** |x| */ abs(): SymbolicTensor { return unary("abs", this); }
  /** max(x, 0) */ relu(): SymbolicTensor { return unary("relu", this); }
  /** tanh x */ tanh(): SymbolicTensor { return unary("tanh", this); }
  /** logistic sigmoid */ sigmoid(): SymbolicTensor { return unary("sigmoid", this); }
  /** x ** exponent */ pow(exponent: number): SymbolicTensor { return op("pow", [this], { exponent }); }
  /** x * x */ square(): SymbolicTensor { return this.pow(2); }
  /** Sum over axes (all by default). */ sum(o: ReduceOptions = {}): SymbolicTensor { return op("sum", [this], C.reduceAttrs(o)); }
  /** Mean over axes. */ mean(o: ReduceOptions = {}): SymbolicTensor { return op("mean", [this], C.reduceAttrs(o)); }
  /** Max over axes. */ max(o: ReduceOptions = {}): SymbolicTensor { return op("max", [this], C.reduceAttrs(o)); }
  /** Stable log-sum-exp over axes. */ logsumexp(o: ReduceOptions = {}): SymbolicTensor { return op("logsumexp", [this], C.reduceAttrs(o)); }
  /** Index of the maximum along `axis` (int32; over the flattened tensor without an axis). */
  argmax(o: { axis?: number; keepdims?: boolean } = {}): SymbolicTensor { return composite([this], (b, [x]) => C.argmax(b, x, o)); }
  /** log(softmax(x)) along `axis`. */ logSoftmax(axis = -1): SymbolicTensor { return composite([this], (b, [x]) => C.logSoftmax(b, x, axis)); }
  /** softmax along `axis`. */ softmax(axis = -1): SymbolicTensor { return composite([this], (b, [x]) => C.softmax(b, x, axis)); }
  /** New shape (one -1 allowed). */ reshape(shape: Shape): SymbolicTensor { return op("reshape", [this], { shape: [...shape] }); }
  /** Alias of reshape. */ view(shape: Shape): SymbolicTensor { return this.reshape(shape); }
  /** Reorders dimensions. */ permute(...perm: number[]): SymbolicTensor { return op("transpose", [this], C.permuteAttrs(perm, this.ndim)); }
  /** Swaps two dimensions (default: the last two). */ transpose(dim0 = -2, dim1 = -1): SymbolicTensor { return op("transpose", [this], C.swapAttrs(dim0, dim1, this.ndim)); }
  /** Matrix transpose (rank <= 2). */
  get T(): SymbolicTensor {
    if (this.ndim > 2) throw new DualgradError(`T: expects a tensor of rank <= 2, got ${formatShape(this.shape)}; use permute()`);
    return this.ndim < 2 ? this : this.transpose(0, 1);
  }
  /** Broadcasts to `shape`. */ broadcastTo(shape: Shape): SymbolicTensor { return op("broadcast_to", [this], { shape: [...shape] }); }
  /** x[begin:end] per axis. */ slice(begin: readonly number[], end: readonly number[]): SymbolicTensor { return op("slice", [this], { begin: [...begin], end: [...end] }); }
  /** Zero padding around each dimension. */ pad(before: readonly number[], after: readonly number[]): SymbolicTensor { return op("pad", [this], { before: [...before], after: [...after] }); }
  /** Adds a size-1 dimension. */ unsqueeze(dim: number): SymbolicTensor { return this.reshape(C.unsqueezeShape(this.shape, dim)); }
  /** Removes size-1 dimensions (all, or `dim`); itself when there is none to remove at `dim`. */
  squeeze(dim?: number): SymbolicTensor {
    const shape = C.squeezeShape(this.shape, dim);
    return dim !== undefined && shape === this.shape ? this : this.reshape(shape);
  }
  /** Flattens to 1-D. */ flatten(): SymbolicTensor { return this.reshape([-1]); }
  /** Matrix product (PyTorch's rules for 1-D operands). */ matmul(o: SymLike, flags: { transA?: boolean; transB?: boolean } = {}): SymbolicTensor { return matmul(this, o, flags); }
  /** Converts to `dtype`. */ to(dtype: DType): SymbolicTensor { return this.dtype === dtype ? this : op("cast", [this], { dtype }); }
  /** Integer labels to one-hot. */ oneHot(depth: number, dtype: DType = "float32"): SymbolicTensor { return op("one_hot", [this], { depth, dtype }); }
}

/** Reduction options, as in the eager frontend. */
export type ReduceOptions = C.ReduceOptions;

/** @internal The graph operands `xs` are recorded in: the innermost trace that can see them all. */
export function traceOf(xs: readonly SymLike[]): GraphBuilder {
  const fromArgs = xs.find((x): x is SymbolicTensor => x instanceof SymbolicTensor)?.builder;
  // Inside a sub-graph (a scan body, a cond branch) values of enclosing graphs are captured.
  const cur = currentTrace();
  const inner = cur && xs.every((x) => !(x instanceof SymbolicTensor) || cur.encloses(x.builder));
  const b = inner ? cur : fromArgs ?? cur;
  if (!b) throw new DualgradError("graph ops need a trace: call them inside a function passed to trace(), jit() or graph.function()");
  for (const x of xs) {
    if (x instanceof SymbolicTensor && !b.encloses(x.builder)) {
      throw new DualgradError("a symbolic tensor from another trace was used here (a leaked tracer): return it from its function instead of storing it");
    }
  }
  return b;
}

/** @internal Converts an operand to a value id in `b` (capturing values of enclosing graphs), with `dtype` for numbers. */
export function idOf(b: GraphBuilder, x: SymLike, dtype: DType): number {
  if (x instanceof SymbolicTensor) return b.capture(x.builder, x.id);
  if (x instanceof Variable) return b.variable(x);
  if (typeof x === "number") return b.constant(x, dtype);
  throw new DualgradError(`graph: expected a symbolic tensor, a Variable or a number, got ${typeof x}`);
}

function dtypeOf(b: GraphBuilder, x: SymLike): DType | null {
  return typeof x === "number" ? null : x instanceof Variable ? x.dtype : x.dtype; // a captured tensor's id is its own graph's
}

/**
 * Records a core composite (or a single primitive) in the current trace: operands become value
 * ids (numbers take the first tensor operand's dtype), the composite emits its nodes into the
 * builder, and its result comes back as a symbolic tensor.
 */
export function composite(inputs: readonly SymLike[], f: (b: GraphBuilder, ids: number[]) => number): SymbolicTensor {
  const b = traceOf(inputs);
  const dtype = inputs.map((x) => dtypeOf(b, x)).find((d): d is DType => d !== null) ?? "float32";
  return new SymbolicTensor(b, f(b, inputs.map((x) => idOf(b, x, dtype))));
}

/** Adds primitive `prim` to the current trace. */
export function op<P extends Prim>(prim: P, inputs: readonly SymLike[], attrs: Attrs[P]): SymbolicTensor {
  return composite(inputs, (b, ids) => b.emit(prim, ids, attrs));
}

function unary(prim: "neg" | "exp" | "log" | "sqrt" | "abs" | "relu" | "tanh" | "sigmoid", x: SymLike): SymbolicTensor {
  if (prim === "neg" || prim === "abs" || prim === "relu") return op(prim, [x], {});
  // int32 becomes float32 first, as in PyTorch and eager (core's floatUnary).
  return composite([x], (b, [id]) => C.floatUnary(b, prim, id));
}

/**
 * Binary operands cast to their common dtype with PyTorch's promotion (core's resultType, as
 * eager does): float32 with float64 -> float64, int32 with 0.5 -> float32; true division of ints
 * is float32. Numbers then become constants of that dtype (see `op`).
 */
function promoted(a: SymLike, b: SymLike, trueDivision = false): [SymLike, SymLike] {
  const tb = traceOf([a, b]);
  const da = dtypeOf(tb, a);
  const db = dtypeOf(tb, b);
  const common = resultType([da ?? (a as number), db ?? (b as number)]);
  const d = trueDivision ? floatResultType(common) : common;
  const up = (x: SymLike, dx: DType | null) => (dx === null || dx === d ? x : op("cast", [x], { dtype: d }));
  return [up(a, da), up(b, db)];
}

function binary(prim: "add" | "sub" | "mul" | "div" | "maximum" | "minimum", a: SymLike, b: SymLike): SymbolicTensor {
  return op(prim, promoted(a, b, prim === "div"), {});
}

function compare(kind: CompareKind, a: SymLike, b: SymLike): SymbolicTensor {
  return op("compare", promoted(a, b), { kind });
}

/** cond != 0 ? a : b (the in-graph replacement for value-dependent `if`). */
export function where(cond: SymLike, a: SymLike, b: SymLike): SymbolicTensor {
  const [x, y] = promoted(a, b);
  return op("where", [cond, x, y], {});
}

/** Matrix product with PyTorch's rules for 1-D operands. */
export function matmul(a: SymLike, b: SymLike, flags: C.MatmulFlags = {}): SymbolicTensor {
  return composite([a, b], (t, [x, y]) => C.matmul(t, x, y, flags));
}

/** Reads a variable as a symbolic tensor in the current trace. */
export function read(v: Variable): SymbolicTensor {
  const b = traceOf([]);
  return new SymbolicTensor(b, b.variable(v));
}

/** Records `variable := value`, performed after the step's outputs are computed (TensorFlow's `assign`). */
export function assign(variable: Variable, value: SymLike): void {
  const b = traceOf([value]);
  b.assign(variable, idOf(b, value, variable.dtype));
}

/** a + b for any operands (numbers included), as a function. */ export const add = (a: SymLike, b: SymLike): SymbolicTensor => binary("add", a, b);
/** a - b for any operands. */ export const sub = (a: SymLike, b: SymLike): SymbolicTensor => binary("sub", a, b);
/** a * b for any operands. */ export const mul = (a: SymLike, b: SymLike): SymbolicTensor => binary("mul", a, b);
/** a / b for any operands (e.g. `div(1, x)`). */ export const div = (a: SymLike, b: SymLike): SymbolicTensor => binary("div", a, b);
