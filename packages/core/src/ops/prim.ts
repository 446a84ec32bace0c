import type { DType, TypedArray } from "../dtype.js";
import type { Shape } from "../shape.js";

/** Shape and dtype of a value: what abstract evaluation computes, without any data. */
export interface Meta {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** A contiguous, row-major tensor value as kernels see it: data plus its meta. */
export interface View extends Meta {
  readonly data: TypedArray;
}

/** Reduction attributes; `axes: null` reduces every axis. Negative axes count from the end. */
export interface ReduceAttrs {
  readonly axes: readonly number[] | null;
  readonly keepdims: boolean;
}

/** Attributes of the convolution primitives: per-axis [height, width] pairs (groups = 1). */
export interface ConvAttrs {
  readonly stride: readonly number[];
  readonly padding: readonly number[];
  readonly dilation: readonly number[];
}

/** Attributes of the pooling primitives: per-axis [height, width] pairs (floor output size, as PyTorch). */
export interface PoolAttrs {
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly padding: readonly number[];
}

/** Comparison kinds of the `compare` primitive (result is 1 or 0 in the inputs' dtype). */
export type CompareKind = "gt" | "ge" | "lt" | "le" | "eq" | "ne";

/**
 * Typed attributes of every primitive. This interface *is* the primitive set: `Prim` is its
 * key union, and every rule table is a mapped type over it, so adding a primitive here without
 * defining it everywhere is a compile error.
 */
export interface Attrs {
  // elementwise, unary
  neg: {};
  exp: {};
  log: {};
  sqrt: {};
  abs: {};
  relu: {};
  tanh: {};
  sigmoid: {};
  /** x ** exponent, exponent a compile-time scalar. */
  pow: { readonly exponent: number };
  // elementwise, binary (NumPy broadcasting)
  add: {};
  sub: {};
  mul: {};
  div: {};
  maximum: {};
  minimum: {};
  compare: { readonly kind: CompareKind };
  // elementwise, ternary: cond != 0 ? a : b
  where: {};
  // reductions
  sum: ReduceAttrs;
  mean: ReduceAttrs;
  max: ReduceAttrs;
  logsumexp: ReduceAttrs;
  argmax: { readonly axis: number; readonly keepdims: boolean };
  log_softmax: { readonly axis: number };
  /** Inputs [logits [B,C], int32 labels [B]]: mean softmax cross-entropy (see ./softmax-cross-entropy.ts). */
  softmax_cross_entropy: {};
  /** Inputs [logits, labels, scalar output gradient]: (softmax - onehot) * g / B. */
  softmax_cross_entropy_grad: {};
  // shape
  reshape: { readonly shape: Shape };
  transpose: { readonly perm: readonly number[] };
  broadcast_to: { readonly shape: Shape };
  slice: { readonly begin: readonly number[]; readonly end: readonly number[] };
  pad: { readonly before: readonly number[]; readonly after: readonly number[] };
  // linear algebra: op(A) @ op(B) with batch broadcasting
  matmul: { readonly transA: boolean; readonly transB: boolean };
  // convolution (NCHW input, [out, in, kh, kw] weight) and its gradients
  conv2d: ConvAttrs;
  /**
   * Inputs [input, weight, bias [K]]: conv2d with the bias added per output channel, in one
   * kernel (the bias-add runs on each output value as the convolution stores it).
   */
  conv2d_bias: ConvAttrs;
  /** Inputs [output gradient, weight]; `inputShape` is the convolved input's. */
  conv2d_grad_input: ConvAttrs & { readonly inputShape: Shape };
  /** Inputs [input, output gradient]; `weightShape` is the weight's. */
  conv2d_grad_weight: ConvAttrs & { readonly weightShape: Shape };
  // pooling (NCHW)
  max_pool2d: PoolAttrs;
  /** Inputs [pooled input, output gradient]: the gradient at each window's first maximum. */
  max_pool2d_grad: PoolAttrs;
  /** Inputs [pooled input, t]: t read at each window's first maximum of the input. */
  max_pool2d_select: PoolAttrs;
  /** PyTorch's `count_include_pad=True`: every window divides by kh*kw. */
  avg_pool2d: PoolAttrs;
  /** Inputs [output gradient]; `inputShape` is the pooled input's. */
  avg_pool2d_grad: PoolAttrs & { readonly inputShape: Shape };
  // indices and types
  one_hot: { readonly depth: number; readonly dtype: DType };
  cast: { readonly dtype: DType };
  // indexing and joining (int32 indices; see ./gather-ops.ts and ./concat.ts)
  /** `tf.gather` / `torch.index_select`: x[..., indices[j...], ...] along `axis`. */
  gather: { readonly axis: number };
  /** Gather's VJP: zeros of `size` along `axis`, rows of src added at the indices (`torch.index_add`). */
  index_add: { readonly axis: number; readonly size: number };
  /** `np.take_along_axis` / `torch.gather`: indices shaped like x except along `axis`. */
  take_along_axis: { readonly axis: number };
  /** take_along_axis's VJP: zeros of `size` along `axis`, src added at the indices (`torch.scatter_add`). */
  scatter_add: { readonly axis: number; readonly size: number };
  /** Joins any number (>= 1) of inputs along `axis` (`torch.cat`, `tf.concat`). */
  concat: { readonly axis: number };
}

/** The union of primitive names. */
export type Prim = keyof Attrs;

/**
 * How a VJP rule builds its results. Eager implements `emit` by running the kernel now;
 * graph implements it by adding a node. A rule never knows which.
 */
export interface Emitter<T> {
  /** Applies primitive `prim` to `inputs`. */
  emit<P extends Prim>(prim: P, inputs: readonly T[], attrs: Attrs[P]): T;
  /** Shape and dtype of a value. */
  meta(t: T): Meta;
  /** A rank-0 constant (broadcasting takes it to any shape). */
  constant(value: number, dtype: DType): T;
}

/** Kinds of primitive, for passes that treat families alike (fusion, simplification). */
export type PrimKind = "elementwise" | "reduce" | "shape" | "matmul" | "conv" | "index";

/** How many inputs a primitive takes: a fixed count, or `"variadic"` (one or more, as concat). */
export type Arity = number | "variadic";

/** A primitive's complete definition: the one place its math lives. */
export interface OpDef<P extends Prim> {
  readonly kind: PrimKind;
  /** Number of inputs (`"variadic"`: any number >= 1; see arityError). */
  readonly arity: Arity;
  /** Abstract evaluation: the output's shape and dtype, or a ShapeError naming the op and shapes. */
  infer(inputs: readonly Meta[], attrs: Attrs[P]): Meta;
  /** The fast kernel: writes the whole of `out` (whose meta is `infer`'s result). */
  kernel(inputs: readonly View[], out: View, attrs: Attrs[P]): void;
  /** The reference kernel: plain loops, obviously right; fast kernels are tested against it. */
  reference(inputs: readonly View[], out: View, attrs: Attrs[P]): void;
  /**
   * Vector-Jacobian product: given the cotangent `grad` of `out`, the cotangents of the
   * inputs (null where an input is not differentiable, e.g. integer labels or masks).
   * `wants[i] === false` says input i needs no gradient (like PyTorch's `needs_input_grad`);
   * a rule may then return null for it and skip the work (matmul skips a whole product).
   */
  vjp<T>(e: Emitter<T>, inputs: readonly T[], out: T, grad: T, attrs: Attrs[P], wants?: readonly boolean[]): (T | null)[];
}

/** A rule table: one entry per primitive of `K`; a missing entry is a compile error. */
export type OpTable<K extends Prim = Prim> = { readonly [P in K]: OpDef<P> };
