import {
  DualgradError, formatShape, resultType, sizesByChunks, sizesBySplitSize, sizesFromList, splitBounds, stackShape,
} from "@dualgrad/core";
import { apply, cast, reshape, slice } from "./ops.js";
import { Tensor } from "./tensor.js";

/**
 * Indexing and joining with PyTorch's names and argument orders: `indexSelect`, `takeAlongDim`,
 * `cat`, `stack`, `split`, `chunk`. The first three are core's gather, take_along_axis and
 * concat primitives; stack and split/chunk are reshapes, concat and slices (shape arithmetic
 * from core's ops/joining.ts), so every gradient comes from core's VJP rules. Indices are int32
 * tensors; an index outside the axis is an error naming the op, the index and the axis size.
 */

/** Runs `fn` on `temps`-producing steps and disposes the temporaries afterwards (autograd keeps what it saved). */
function withTemps<R>(fn: (temps: Tensor[]) => R): R {
  const temps: Tensor[] = [];
  try {
    return fn(temps);
  } finally {
    for (const t of temps) t.dispose();
  }
}

/**
 * `torch.index_select(x, dim, index)`: the slices of `x` at `index` (1-D or 0-D int32) along
 * `dim`, in index order, repeats allowed. The result has x's rank.
 */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  if (!(index instanceof Tensor)) throw new DualgradError(`indexSelect: index must be an int32 Tensor, got ${typeof index}`);
  if (index.ndim > 1) throw new DualgradError(`indexSelect: index must be 1-D or 0-D, got ${formatShape(index.shape)}`);
  if (index.ndim === 1) return apply("gather", [x, index], { axis: dim });
  return withTemps((temps) => {
    const flat = reshape(index, [1]);
    temps.push(flat);
    return apply("gather", [x, flat], { axis: dim });
  });
}

/**
 * `torch.take_along_dim(x, indices, dim)`: picks one element of `x` per entry of `indices`
 * along `dim` (`np.take_along_axis`); `indices` has x's shape except along `dim` (no
 * broadcasting here: broadcast first). Without `dim`, both are flattened first, as in PyTorch.
 */
export function takeAlongDim(x: Tensor, indices: Tensor, dim?: number): Tensor {
  if (dim !== undefined) return apply("take_along_axis", [x, indices], { axis: dim });
  return withTemps((temps) => {
    const fx = reshape(x, [-1]);
    temps.push(fx);
    const fi = reshape(indices, [-1]);
    temps.push(fi);
    return apply("take_along_axis", [fx, fi], { axis: 0 });
  });
}

/** The tensors of a list, cast to their common dtype (PyTorch's cat promotes), with the casts in `temps`. */
function promotedList(op: string, tensors: readonly Tensor[], temps: Tensor[]): Tensor[] {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new DualgradError(`${op}: expected a non-empty array of tensors`);
  tensors.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new DualgradError(`${op}: element ${i} is not a Tensor (got ${typeof t})`);
  });
  const dtype = resultType(tensors.map((t) => t.dtype));
  return tensors.map((t) => {
    if (t.dtype === dtype) return t;
    const c = cast(t, dtype);
    temps.push(c);
    return c;
  });
}

/** `torch.cat(tensors, dim)`: joins tensors along an existing dimension; dtypes are promoted. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return withTemps((temps) => apply("concat", promotedList("cat", tensors, temps), { axis: dim }));
}

/** `torch.stack(tensors, dim)`: joins same-shaped tensors along a new dimension `dim`. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return withTemps((temps) => {
    const xs = promotedList("stack", tensors, temps);
    const { shape, axis } = stackShape("stack", xs.map((t) => t.shape), dim);
    const expanded = xs.map((t) => {
      const r = reshape(t, shape);
      temps.push(r);
      return r;
    });
    return apply("concat", expanded, { axis });
  });
}

function pieces(op: string, x: Tensor, dim: number, sizesOf: (n: number) => readonly number[]): Tensor[] {
  if (!(x instanceof Tensor)) throw new DualgradError(`${op}: expected a Tensor, got ${typeof x}`);
  const out: Tensor[] = [];
  try {
    for (const { begin, end } of splitBounds(op, x.shape, dim, sizesOf)) out.push(slice(x, begin, end));
    return out;
  } catch (err) {
    out.forEach((t) => t.dispose());
    throw err;
  }
}

/**
 * `torch.split(x, splitSizeOrSections, dim)`: a number cuts pieces of that size (the last may
 * be shorter); an array gives each piece's size (they must add up to the dimension).
 */
export function split(x: Tensor, splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  return pieces("split", x, dim, (n) =>
    typeof splitSizeOrSections === "number" ? sizesBySplitSize("split", n, splitSizeOrSections) : sizesFromList("split", n, splitSizeOrSections));
}

/** `torch.chunk(x, chunks, dim)`: pieces of ceil(size / chunks) along `dim` (possibly fewer than `chunks`). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  return pieces("chunk", x, dim, (n) => sizesByChunks("chunk", n, chunks));
}
