import { DualgradError, composites as C } from "@dualgrad/core";
import { composite, op, read, SymbolicTensor } from "./symbolic.js";
import { Variable } from "./variable.js";

/**
 * Indexing and joining on traced values, with TensorFlow's names and argument orders: `gather`,
 * `concat`, `stack`, `split` (and NumPy/JAX's `takeAlongAxis`). They record core's gather and
 * take_along_axis primitives and core's joining composites, so gradients come from core's VJP
 * rules and the compiled step runs core's kernels: an out-of-range index is an error naming the
 * op, the index and the axis size when the step runs, never a read outside the tensor.
 */

/** A tensor operand of these ops: a traced value or a variable (read), e.g. an embedding table. */
export type TensorOperand = SymbolicTensor | Variable;

function checkOperand(opName: string, x: unknown, what: string): asserts x is TensorOperand {
  if (!(x instanceof SymbolicTensor) && !(x instanceof Variable)) {
    throw new DualgradError(`${opName}: ${what} must be a symbolic tensor or a Variable, got ${typeof x}`);
  }
}

function checkList(opName: string, values: readonly TensorOperand[]): void {
  if (!Array.isArray(values) || values.length === 0) throw new DualgradError(`${opName}: expected a non-empty array of tensors`);
  values.forEach((v, i) => checkOperand(opName, v, `element ${i}`));
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

/** `tf.concat(values, axis)`: joins tensors along an existing axis; dtypes are promoted as PyTorch's cat does. */
export function concat(values: readonly TensorOperand[], axis: number): SymbolicTensor {
  checkList("concat", values);
  return composite(values, (b, ids) => C.concat(b, ids, axis));
}

/** `tf.stack(values, axis)`: joins same-shaped tensors along a new axis (default 0). */
export function stack(values: readonly TensorOperand[], axis = 0): SymbolicTensor {
  checkList("stack", values);
  return composite(values, (b, ids) => C.stack(b, ids, axis));
}

/**
 * `tf.split(value, numOrSizeSplits, axis)`: a number splits into that many equal pieces (an
 * error unless it divides the axis); an array gives each piece's size, one of them -1 for the rest.
 */
export function split(value: TensorOperand, numOrSizeSplits: number | readonly number[], axis = 0): SymbolicTensor[] {
  checkOperand("split", value, "value");
  const x = value instanceof Variable ? read(value) : value;
  const sizesOf = (n: number) =>
    typeof numOrSizeSplits === "number" ? C.sizesByCount("split", n, numOrSizeSplits) : C.sizesFromList("split", n, numOrSizeSplits);
  return C.split(x.builder, x.id, axis, sizesOf).map((id) => new SymbolicTensor(x.builder, id));
}
