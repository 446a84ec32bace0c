import { isFloat } from "../dtype.js";
import { DTypeError, ShapeError } from "../errors.js";
import {
  checkLabels, referenceRowLogSumExp, softmaxCrossEntropyGradKernel, softmaxCrossEntropyKernel,
} from "../kernels/softmax-cross-entropy.js";
import { formatShape } from "../shape.js";
import type { Meta, OpTable } from "./prim.js";
import { mul, scale } from "./vjp-helpers.js";

/**
 * Softmax cross-entropy over int32 class labels with mean reduction (PyTorch's
 * `F.cross_entropy(logits, labels)`), fused into one kernel forward and one backward, where the
 * composite log_softmax, one_hot, mul, sum, mean, neg took six launches forward and about as
 * many backward.
 *
 *   softmax_cross_entropy       [logits [B,C], labels [B]] -> [] : mean_i(lse(x_i) - x_i[y_i])
 *   softmax_cross_entropy_grad  [logits, labels, g []]     -> [B,C] : (softmax(x) - onehot(y)) * g / B
 *
 * The gradient recomputes each row's log-sum-exp from the logits rather than saving the softmax:
 * a second output would need multi-output primitives, and a [B,C] re-read is cheap beside the
 * launches saved. A label outside [0, C) is an error naming the op, the label and its index.
 */
export type SoftmaxCrossEntropyPrim = "softmax_cross_entropy" | "softmax_cross_entropy_grad";

/** Checks logits [B,C] (floating) against labels [B] (int32), naming `op`. */
function checkOperands(op: string, x: Meta, labels: Meta): void {
  if (!isFloat(x.dtype)) throw new DTypeError(op, `expected floating-point logits, got ${x.dtype}${formatShape(x.shape)}`);
  if (labels.dtype !== "int32") throw new DTypeError(op, `labels must be int32 class indices, got ${labels.dtype}${formatShape(labels.shape)}`);
  if (x.shape.length !== 2 || labels.shape.length !== 1 || labels.shape[0] !== x.shape[0]) {
    throw new ShapeError(op, `expected logits [B,C] and labels [B], got ${formatShape(x.shape)} and ${formatShape(labels.shape)}`);
  }
}

/** OpDefs of the fused softmax cross-entropy and its gradient. */
export const softmaxCrossEntropyOps: OpTable<SoftmaxCrossEntropyPrim> = {
  softmax_cross_entropy: {
    kind: "reduce",
    arity: 2,
    infer: ([x, labels]) => {
      checkOperands("softmax_cross_entropy", x, labels);
      return { shape: [], dtype: x.dtype };
    },
    kernel: ([x, labels], out) => softmaxCrossEntropyKernel(x.data, labels.data, out.data, x.shape[0], x.shape[1]),
    reference: ([x, labels], out) => {
      const [b, c] = x.shape;
      checkLabels("softmax_cross_entropy", labels.data, c);
      const lse = referenceRowLogSumExp(x.data, b, c);
      let total = 0;
      for (let i = 0; i < b; i++) total += lse[i] - x.data[i * c + labels.data[i]];
      out.data[0] = total / b;
    },
    vjp: (e, [x, labels], _out, g, _attrs, wants = [true]) => [
      wants[0] ? e.emit("softmax_cross_entropy_grad", [x, labels, g], {}) : null,
      null,
    ],
  },
  softmax_cross_entropy_grad: {
    kind: "reduce",
    arity: 3,
    infer: ([x, labels, g]) => {
      checkOperands("softmax_cross_entropy_grad", x, labels);
      if (g.shape.length !== 0 || g.dtype !== x.dtype) {
        throw new ShapeError("softmax_cross_entropy_grad", `expected a scalar ${x.dtype} output gradient, got ${g.dtype}${formatShape(g.shape)}`);
      }
      return { shape: x.shape, dtype: x.dtype };
    },
    kernel: ([x, labels, g], out) => softmaxCrossEntropyGradKernel(x.data, labels.data, g.data[0], out.data, x.shape[0], x.shape[1]),
    reference: ([x, labels, g], out) => {
      const [b, c] = x.shape;
      checkLabels("softmax_cross_entropy_grad", labels.data, c);
      const lse = referenceRowLogSumExp(x.data, b, c);
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < c; j++) {
          const onehot = j === labels.data[i] ? 1 : 0;
          out.data[i * c + j] = (Math.exp(x.data[i * c + j] - lse[i]) - onehot) * (g.data[0] / b);
        }
      }
    },
    // With p = softmax(x) and out = (p - Y) g/B, for a cotangent V:
    //   dx = g/B * p * (V - sum(p * V, -1))   (the softmax Jacobian, symmetric)
    //   dg = sum((p - Y)/B * V)               (out at g = 1, times V)
    vjp: (e, [x, labels, g], _out, v, _attrs, wants = [true, false, true]) => {
      const dtype = e.meta(x).dtype;
      let dx = null;
      if (wants[0]) {
        const p = e.emit("exp", [e.emit("log_softmax", [x], { axis: -1 })], {});
        const pv = mul(e, p, v);
        const rowSums = e.emit("sum", [pv], { axes: [-1], keepdims: true });
        dx = mul(e, e.emit("sub", [pv, mul(e, p, rowSums)], {}), scale(e, g, 1 / e.meta(x).shape[0]));
      }
      let dg = null;
      if (wants[2]) {
        const unit = e.emit("softmax_cross_entropy_grad", [x, labels, e.constant(1, dtype)], {});
        dg = e.emit("sum", [mul(e, unit, v)], { axes: null, keepdims: false });
      }
      return [dx, null, dg];
    },
  },
};
