import { DualgradError, allocValue, formatShape, shapesEqual, sizeOf } from "@dualgrad/core";
import { Tensor } from "../../tensor.js";

/**
 * Rows `indices` of `t` (along its first dimension) as a new tensor `[indices.length, ...rest]`,
 * copied on core's allocator; not recorded by autograd (a batch is data). Runs of consecutive
 * indices (every batch of an unshuffled loader) are copied with one `set` each. `dropFirstDim`
 * (one index only) gives the row itself, shaped `rest`.
 */
export function gatherRows(api: string, t: Tensor, indices: ArrayLike<number>, dropFirstDim = false): Tensor {
  t._checkAlive(api);
  const n = t.shape[0];
  const rest = t.shape.slice(1);
  const w = sizeOf(rest);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r];
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new DualgradError(`${api}: index ${i} is out of range for a dataset of ${n} rows`);
  }
  const out = allocValue(t.dtype, dropFirstDim && indices.length === 1 ? rest : [indices.length, ...rest]);
  const src = t.data;
  for (let r = 0; r < indices.length; ) {
    const start = indices[r];
    let len = 1;
    while (r + len < indices.length && indices[r + len] === start + len) len++;
    out.data.set(src.subarray(start * w, (start + len) * w), r * w);
    r += len;
  }
  return new Tensor(out);
}

/**
 * Stacks equally shaped tensors into one `[items.length, ...shape]` tensor by copying, like
 * PyTorch's `default_collate` for tensors. `what` names the position for errors.
 */
export function stackCopies(api: string, items: readonly Tensor[], what: string): Tensor {
  const first = items[0];
  for (const [i, t] of items.entries()) {
    if (!(t instanceof Tensor)) throw new DualgradError(`${api}: item ${i}${what} is not a Tensor`);
    t._checkAlive(api);
    if (t.dtype !== first.dtype || !shapesEqual(t.shape, first.shape)) {
      throw new DualgradError(
        `${api}: items of a batch must have equal shapes and dtypes, but item ${i}${what} is ${t.dtype}${formatShape(t.shape)} and item 0${what} is ${first.dtype}${formatShape(first.shape)}`,
      );
    }
  }
  const w = first.size;
  const out = allocValue(first.dtype, [items.length, ...first.shape]);
  items.forEach((t, i) => out.data.set(t.data, i * w));
  return new Tensor(out);
}
