import {
  DualgradError, resultType, sizesByCount, sizesFromList, splitBounds, stackShape,
} from "@dualgrad/core";
import { op, SymbolicTensor } from "./symbolic.js";
import { Variable } from "./variable.js";

/**
 * Indexing and joining on traced values, with TensorFlow's names and argument orders: `gather`,
 * `concat`, `stack`, `split` (and NumPy/JAX's `takeAlongAxis`). Each adds core's gather,
 * take_along_axis, concat, reshape or slice nodes, so gradients come from core's VJP rules and
 * the compiled step runs core's kernels: an out-of-range index is an error naming the op, the
 * index and the axis size when the step runs, never a read outside the tensor.
 */

/** A tensor operand of these ops: a traced value or a variable (read), e.g. an embedding table. */
export type TensorOperand = SymbolicTensor | Variable;

function checkOperand(opName: string, x: unknown, what: string): asserts x is TensorOperand {
  if (!(x instanceof SymbolicTensor) && !(x instanceof Variable)) {
    throw new DualgradError(`${opName}: ${what} must be a symbolic tensor or a Variable, got ${typeof x}`);
  }
}

/**
 * `tf.gather(params, indices, { axis })`: the slices of `params` at `indices` (an int32 tensor
 * of any shape) along `axis` (default 0); the result's shape is
 * params.shape[:axis] + indices.shape + params.shape[axis+1:]. `torch.index_select` for 1-D indices.
 */
export function gather(params: TensorOperand, indices: TensorOperand, options: { axis?: number } = {}): SymbolicTensor {
  checkOperand("gather", params, "params");
  checkOperand("gather", indices, "indices");
  return op("gather", [params, indices], { axis: options.axis ?? 0 });
}

/**
 * `np.take_along_axis(x, indices, axis)` (`torch.gather`): one element of `x` per entry of
 * `indices`, which has x's shape except along `axis`.
 */
export function takeAlongAxis(x: TensorOperand, indices: TensorOperand, axis: number): SymbolicTensor {
  checkOperand("takeAlongAxis", x, "x");
  checkOperand("takeAlongAxis", indices, "indices");
  return op("take_along_axis", [x, indices], { axis });
}

/** The values of a list cast to their common dtype (PyTorch's promotion, as eager's cat does). */
function promotedList(opName: string, values: readonly TensorOperand[]): TensorOperand[] {
  if (!Array.isArray(values) || values.length === 0) throw new DualgradError(`${opName}: expected a non-empty array of tensors`);
  values.forEach((v, i) => checkOperand(opName, v, `element ${i}`));
  const dtype = resultType(values.map((v) => v.dtype));
  return values.map((v) => (v.dtype === dtype ? v : op("cast", [v], { dtype })));
}

/** `tf.concat(values, axis)`: joins tensors along an existing axis; dtypes are promoted. */
export function concat(values: readonly TensorOperand[], axis: number): SymbolicTensor {
  return op("concat", promotedList("concat", values), { axis });
}

/** `tf.stack(values, axis)`: joins same-shaped tensors along a new axis (default 0). */
export function stack(values: readonly TensorOperand[], axis = 0): SymbolicTensor {
  const xs = promotedList("stack", values);
  const target = stackShape("stack", xs.map((v) => v.shape), axis);
  return op("concat", xs.map((v) => op("reshape", [v], { shape: target.shape })), { axis: target.axis });
}

/**
 * `tf.split(value, numOrSizeSplits, axis)`: a number splits into that many equal pieces (an
 * error unless it divides the axis); an array gives each piece's size, one of them -1 for the rest.
 */
export function split(value: TensorOperand, numOrSizeSplits: number | readonly number[], axis = 0): SymbolicTensor[] {
  checkOperand("split", value, "value");
  const bounds = splitBounds("split", value.shape, axis, (n) =>
    typeof numOrSizeSplits === "number" ? sizesByCount("split", n, numOrSizeSplits) : sizesFromList("split", n, numOrSizeSplits));
  return bounds.map(({ begin, end }) => op("slice", [value], { begin, end }));
}
