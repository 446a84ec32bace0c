import { DualgradError, composites as C, formatShape } from "@dualgrad/core";
import { apply, composite, tensorEmitter } from "./ops.js";
import { Tensor } from "./tensor.js";

/**
 * Indexing and joining with PyTorch's names and argument orders: `indexSelect`, `takeAlongDim`,
 * `cat`, `stack`, `split`, `chunk`. They run core's gather and take_along_axis primitives and
 * core's joining composites (concat with promotion, stack, split), so every gradient comes from
 * core's VJP rules. Indices are int32 tensors; an index outside the axis is an error naming the
 * op, the index and the axis size.
 */

function checkTensor(op: string, x: unknown, what: string): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new DualgradError(`${op}: ${what} must be a Tensor, got ${typeof x}`);
}

function checkList(op: string, tensors: readonly Tensor[]): void {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new DualgradError(`${op}: expected a non-empty array of tensors`);
  tensors.forEach((t, i) => checkTensor(op, t, `element ${i}`));
}

/**
 * `torch.index_select(x, dim, index)`: the slices of `x` at `index` (1-D or 0-D int32) along
 * `dim`, in index order, repeats allowed. The result has x's rank.
 */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  checkTensor("indexSelect", index, "index");
  if (index.ndim > 1) throw new DualgradError(`indexSelect: index must be 1-D or 0-D, got ${formatShape(index.shape)}`);
  if (index.ndim === 1) return apply("gather", [x, index], { axis: dim });
  return composite((e) => e.emit("gather", [x, e.emit("reshape", [index], { shape: [1] })], { axis: dim }));
}

/**
 * `torch.take_along_dim(x, indices, dim)`: picks one element of `x` per entry of `indices`
 * along `dim` (`np.take_along_axis`); `indices` has x's shape except along `dim` (no
 * broadcasting here: broadcast first). Without `dim`, both are flattened first, as in PyTorch.
 */
export function takeAlongDim(x: Tensor, indices: Tensor, dim?: number): Tensor {
  if (dim !== undefined) return apply("take_along_axis", [x, indices], { axis: dim });
  const flat = { shape: [-1] };
  return composite((e) => e.emit("take_along_axis", [e.emit("reshape", [x], flat), e.emit("reshape", [indices], flat)], { axis: 0 }));
}

/** `torch.cat(tensors, dim)`: joins tensors along an existing dimension; dtypes are promoted. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  checkList("cat", tensors);
  return composite((e) => C.concat(e, tensors, dim, "cat"));
}

/** `torch.stack(tensors, dim)`: joins same-shaped tensors along a new dimension `dim`. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  checkList("stack", tensors);
  return composite((e) => C.stack(e, tensors, dim));
}

/**
 * `torch.split(x, splitSizeOrSections, dim)`: a number cuts pieces of that size (the last may
 * be shorter); an array gives each piece's size (they must add up to the dimension).
 */
export function split(x: Tensor, splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  checkTensor("split", x, "x");
  // Every tensor split emits is a result (slices of x), so there is nothing to dispose.
  return C.split(tensorEmitter, x, dim, (n) =>
    typeof splitSizeOrSections === "number" ? C.sizesBySplitSize("split", n, splitSizeOrSections) : C.sizesFromList("split", n, splitSizeOrSections));
}

/** `torch.chunk(x, chunks, dim)`: pieces of ceil(size / chunks) along `dim` (possibly fewer than `chunks`). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  checkTensor("chunk", x, "x");
  return C.split(tensorEmitter, x, dim, (n) => C.sizesByChunks("chunk", n, chunks), "chunk");
}
