import {
  DualgradError, formatShape, isFloat, sizeOf, type DType, type Shape, type TypedArray, type Value,
} from "@dualgrad/core";
import type { BackwardOptions, backward } from "./autograd.js";
import type { Node } from "./node.js";
import type * as Ops from "./ops.js";
import type * as IndexingOps from "./ops-indexing.js";
import { track } from "./scope.js";
import { Storage } from "./storage.js";

/** What the methods of {@link Tensor} call: the functional API and `backward`. */
export type TensorMethodImpls = typeof Ops & typeof IndexingOps & { backward: typeof backward };

/**
 * The ops and autograd both construct Tensors, so this module cannot import them at runtime
 * without a cycle; ./tensor-methods.ts hands them over once, when the package index loads.
 */
let F: TensorMethodImpls = new Proxy({} as TensorMethodImpls, {
  get: (_, name) => {
    throw new DualgradError(`Tensor.${String(name)}: tensor methods are not installed; import @dualgrad/eager (its index), not its internal modules`);
  },
});

/** @internal Installs the implementations behind the tensor methods (called by ./tensor-methods.ts). */
export function installTensorMethods(impls: TensorMethodImpls): void {
  F = impls;
}

/** A number or a tensor: binary ops accept plain numbers and take them in the tensor's dtype. */
export type TensorLike = Tensor | number;

/** A nested array of numbers, as `toArray()` returns and `tensor()` accepts. */
export type NestedArray = number | NestedArray[];

/**
 * An n-dimensional array on core's allocator that records the ops applied to it for reverse-mode
 * autodiff, like `torch.Tensor`. Memory is released deterministically: by `dispose()`, by the end
 * of the `tidy` scope that created it, or (for tensors saved by autograd) when backward is done.
 * A handle dropped without any of these is freed once the garbage collector reclaims it
 * (see ./storage.ts): a backstop, later and less predictable than the deterministic paths.
 */
export class Tensor {
  /** @internal */ _storage: Storage;
  /** @internal */ _handleAlive = true;
  /** @internal */ _retainsGrad = false;
  readonly shape: Shape;
  readonly dtype: DType;
  private _grad: Tensor | null = null;
  /** The node that produced this tensor, or null for leaves. */
  gradFn: Node | null = null;
  private _requiresGrad = false;

  /** @internal Use the factories (`tensor`, `zeros`, ...) instead. */
  constructor(value: Value | Storage, requiresGrad = false) {
    this._storage = value instanceof Storage ? value : new Storage(value);
    this.shape = this._storage.value.shape;
    this.dtype = this._storage.value.dtype;
    if (requiresGrad) {
      try {
        this.requiresGrad_(true);
      } catch (err) {
        this._storage.release(); // an int tensor asked to require grad: nothing may leak
        throw err;
      }
    }
    // Outside any tidy nothing will release it deterministically unless the caller does.
    if (!track(this)) this._storage.guard();
  }

  /** The accumulated gradient (set by `backward()` on leaves that require grad). */
  get grad(): Tensor | null {
    return this._grad;
  }

  /**
   * Replacing the gradient (`x.grad = null`, PyTorch's way to clear it) frees the old one, so
   * memory stays deterministic; `clone()` it first to keep using it.
   */
  set grad(g: Tensor | null) {
    const old = this._grad;
    this._grad = g;
    if (old && old !== g) old.dispose();
  }

  /** Whether gradients flow to this tensor. */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

  set requiresGrad(flag: boolean) {
    this.requiresGrad_(flag);
  }

  /** Sets `requiresGrad` in place and returns this (PyTorch's `requires_grad_`). Only float tensors can require grad. */
  requiresGrad_(flag = true): this {
    if (flag && !isFloat(this.dtype)) {
      throw new DualgradError(`requiresGrad: only floating point tensors can require gradients (got ${this.dtype})`);
    }
    if (!flag && this.gradFn) {
      throw new DualgradError("requiresGrad: you can only change requiresGrad of leaf tensors; use detach() for a non-leaf");
    }
    this._requiresGrad = flag;
    return this;
  }

  /** True for tensors not produced by a recorded op (parameters, inputs, detached tensors). */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** @internal Throws unless this tensor can still be read. */
  _checkAlive(op: string): void {
    if (!this._handleAlive || !this._storage.alive) {
      throw new DualgradError(`${op}: tensor ${this.dtype}${formatShape(this.shape)} was disposed`);
    }
  }

  /**
   * The elements, row-major, as a live view on the tensor's memory. Reading `data` (or any
   * accessor or op) after `dispose()` throws, naming the tensor. A view taken before dies with
   * its tensor: the allocator hands the memory to the next tensor, whose numbers the view then
   * shows, so copy it (`.slice()`) to keep the values.
   */
  get data(): TypedArray {
    this._checkAlive("data");
    return this._storage.value.data;
  }

  /** The value of a one-element tensor. */
  item(): number {
    this._checkAlive("item");
    if (this.size !== 1) throw new DualgradError(`item: only one element tensors can be converted to numbers (got shape ${formatShape(this.shape)})`);
    return this._storage.value.data[0];
  }

  /** The elements as nested arrays (a number for rank 0). */
  toArray(): NestedArray {
    this._checkAlive("toArray");
    const data = this._storage.value.data;
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return data[offset];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /**
   * Releases this handle; the memory goes back to the allocator unless autograd still needs it
   * (views from `data` die with it). Using the tensor afterwards throws. Idempotent.
   */
  dispose(): void {
    if (!this._handleAlive) return;
    this._handleAlive = false;
    this._storage.release();
    const fn = this.gradFn;
    if (fn) fn._release();
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** `using t = ...` disposes at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** True once disposed. */
  get isDisposed(): boolean {
    return !this._handleAlive;
  }

  /** Backpropagates from this tensor; see {@link backward}. */
  backward(gradient?: Tensor, options: BackwardOptions = {}): void {
    F.backward(this, gradient, options);
  }

  /** Keeps `.grad` for this non-leaf tensor after backward (PyTorch's `retain_grad`). */
  retainGrad(): this {
    if (!this.isLeaf) this._retainsGrad = true;
    return this;
  }

  /** A new tensor on the same memory, cut from the graph (no gradFn, requiresGrad false). */
  detach(): Tensor {
    this._checkAlive("detach");
    this._storage.retain();
    return new Tensor(this._storage);
  }

  /** A copy with its own memory, recorded by autograd like PyTorch's `clone`. */
  clone(): Tensor {
    return F.reshape(this, this.shape);
  }

  toString(): string {
    if (!this._handleAlive) return `Tensor(disposed, ${this.dtype}${formatShape(this.shape)})`;
    const grad = this.gradFn ? `, gradFn=<${this.gradFn.name}>` : this.requiresGrad ? ", requiresGrad=true" : "";
    return `tensor(${JSON.stringify(this.toArray())}, dtype=${this.dtype}${grad})`;
  }

  // ---- arithmetic (broadcasting) ----
  /** `this + other` */ add(other: TensorLike): Tensor { return F.add(this, other); }
  /** `this - other` */ sub(other: TensorLike): Tensor { return F.sub(this, other); }
  /** `this * other` */ mul(other: TensorLike): Tensor { return F.mul(this, other); }
  /** `this / other` */ div(other: TensorLike): Tensor { return F.div(this, other); }
  /** `-this` */ neg(): Tensor { return F.neg(this); }
  /** `this ** exponent` (scalar exponent) */ pow(exponent: number): Tensor { return F.pow(this, exponent); }
  /** Elementwise maximum. */ maximum(other: TensorLike): Tensor { return F.maximum(this, other); }
  /** Elementwise minimum. */ minimum(other: TensorLike): Tensor { return F.minimum(this, other); }
  /** e^x */ exp(): Tensor { return F.exp(this); }
  /** Natural log. */ log(): Tensor { return F.log(this); }
  /** Square root. */ sqrt(): Tensor { return F.sqrt(this); }
  /** |x| */ abs(): Tensor { return F.abs(this); }
  /** max(x, 0) */ relu(): Tensor { return F.relu(this); }
  /** Hyperbolic tangent. */ tanh(): Tensor { return F.tanh(this); }
  /** Logistic sigmoid. */ sigmoid(): Tensor { return F.sigmoid(this); }
  /** x * x */ square(): Tensor { return F.pow(this, 2); }

  // ---- comparisons: 1/0 masks in this tensor's dtype ----
  /** this > other */ gt(other: TensorLike): Tensor { return F.gt(this, other); }
  /** this >= other */ ge(other: TensorLike): Tensor { return F.ge(this, other); }
  /** this < other */ lt(other: TensorLike): Tensor { return F.lt(this, other); }
  /** this <= other */ le(other: TensorLike): Tensor { return F.le(this, other); }
  /** this == other */ eq(other: TensorLike): Tensor { return F.eq(this, other); }
  /** this != other */ ne(other: TensorLike): Tensor { return F.ne(this, other); }

  // ---- reductions ----
  /** Sum over `axis` (all by default). */ sum(opts: Ops.ReduceOptions = {}): Tensor { return F.sum(this, opts); }
  /** Mean over `axis` (all by default). */ mean(opts: Ops.ReduceOptions = {}): Tensor { return F.mean(this, opts); }
  /** Max over `axis` (all by default); ties share the gradient. */ max(opts: Ops.ReduceOptions = {}): Tensor { return F.max(this, opts); }
  /** log(sum(exp(x))) over `axis`, stable. */ logsumexp(opts: Ops.ReduceOptions = {}): Tensor { return F.logsumexp(this, opts); }
  /** Index of the maximum along `axis` (int32). */ argmax(opts: { axis?: number; keepdims?: boolean } = {}): Tensor { return F.argmax(this, opts); }
  /** log(softmax(x)) along `axis` (default -1). */ logSoftmax(axis = -1): Tensor { return F.logSoftmax(this, axis); }
  /** softmax along `axis` (default -1). */ softmax(axis = -1): Tensor { return F.softmax(this, axis); }

  // ---- shape ----
  /** Same data, new shape (one -1 allowed). */ reshape(...shape: number[] | [Shape]): Tensor { return F.reshape(this, F.shapeArgs(shape)); }
  /** Alias of reshape. */ view(...shape: number[] | [Shape]): Tensor { return F.reshape(this, F.shapeArgs(shape)); }
  /** Swaps two dimensions (default: the last two). */ transpose(dim0 = -2, dim1 = -1): Tensor { return F.transpose(this, dim0, dim1); }
  /** Reorders dimensions. */ permute(...perm: number[]): Tensor { return F.permute(this, perm); }
  /** Transpose of a matrix (rank <= 2). */ get T(): Tensor { return F.t(this); }
  /** Broadcasts to `shape`. */ broadcastTo(shape: Shape): Tensor { return F.broadcastTo(this, shape); }
  /** Alias of broadcastTo (PyTorch's `expand`). */ expand(...shape: number[]): Tensor { return F.broadcastTo(this, shape); }
  /** `this[begin:end]` on each axis. */ slice(begin: readonly number[], end: readonly number[]): Tensor { return F.slice(this, begin, end); }
  /** Zero padding around each dimension. */ pad(before: readonly number[], after: readonly number[]): Tensor { return F.pad(this, before, after); }
  /** Adds a dimension of size 1 at `dim`. */ unsqueeze(dim: number): Tensor { return F.unsqueeze(this, dim); }
  /** Removes dimensions of size 1 (all, or `dim`). */ squeeze(dim?: number): Tensor { return F.squeeze(this, dim); }
  /** Flattens to 1-D. */ flatten(): Tensor { return F.reshape(this, [-1]); }

  // ---- indexing and splitting (PyTorch's Tensor methods) ----
  /** Slices at int32 `index` along `dim` (`x.index_select(dim, index)`). */ indexSelect(dim: number, index: Tensor): Tensor { return F.indexSelect(this, dim, index); }
  /** One element per index along `dim` (`x.take_along_dim(indices, dim)`). */ takeAlongDim(indices: Tensor, dim?: number): Tensor { return F.takeAlongDim(this, indices, dim); }
  /** Pieces of a size, or of listed sizes, along `dim` (`x.split(...)`). */ split(splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] { return F.split(this, splitSizeOrSections, dim); }
  /** `chunks` pieces of ceil(size / chunks) along `dim` (`x.chunk(...)`). */ chunk(chunks: number, dim = 0): Tensor[] { return F.chunk(this, chunks, dim); }

  // ---- linear algebra, types ----
  /** Matrix product (batched, broadcasting; 1-D operands as in PyTorch). */ matmul(other: Tensor): Tensor { return F.matmul(this, other); }
  /** Converts to `dtype` (PyTorch's `.to(dtype)`). */ to(dtype: DType): Tensor { return F.cast(this, dtype); }
  /** To float32. */ float(): Tensor { return F.cast(this, "float32"); }
  /** To float64. */ double(): Tensor { return F.cast(this, "float64"); }
  /** To int32. */ int(): Tensor { return F.cast(this, "int32"); }

  // ---- in place (bump the version counter; not recorded) ----
  /** this += other */ add_(other: TensorLike): this { return F.inPlace(this, "add", other); }
  /** this -= other */ sub_(other: TensorLike): this { return F.inPlace(this, "sub", other); }
  /** this *= other */ mul_(other: TensorLike): this { return F.inPlace(this, "mul", other); }
  /** this /= other */ div_(other: TensorLike): this { return F.inPlace(this, "div", other); }
  /** Copies `src` (broadcast) into this. */ copy_(src: Tensor): this { return F.copyInto(this, src); }
  /** Fills with zeros. */ zero_(): this { return F.fillInPlace(this, 0); }
  /** Fills with `value`. */ fill_(value: number): this { return F.fillInPlace(this, value); }
}

/** Type guard for tensors. */
export function isTensor(x: unknown): x is Tensor {
  return x instanceof Tensor;
}
