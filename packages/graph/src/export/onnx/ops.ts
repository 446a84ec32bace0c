import { DualgradError, formatShape, type Attrs, type DType, type Prim, type ReduceAttrs } from "@dualgrad/core";
import type { GraphNode } from "../../ir.js";
import { onnxDType, type OnnxEmitter } from "./emitter.js";
import { ONNX_DTYPE } from "./proto.js";

/**
 * How each IR primitive becomes ONNX (opset 18). A rule emits the nodes for one IR node, naming
 * the last one's output `out`, and says where the result's batch axis is.
 *
 * The batch axis is tracked so the exported model accepts any batch size: the graph was traced
 * at one batch size, and every attribute that bakes that size in (a reshape's target shape, a
 * broadcast's) is rewritten to infer it instead. -1 means "this value does not depend on the
 * batch size"; a rule that cannot keep the batch axis symbolic throws, naming the primitive.
 */

/** One operand of a rule: its ONNX name, IR meta and batch axis. */
export interface RuleInput {
  name: string;
  shape: readonly number[];
  dtype: DType;
  batchAxis: number;
}

/** What a rule sees. */
export interface RuleContext<P extends Prim> {
  node: GraphNode;
  attrs: Attrs[P];
  inputs: RuleInput[];
  emit: OnnxEmitter;
  /** The ONNX name the rule's result must have. */
  out: string;
}

type Rule<P extends Prim> = (c: RuleContext<P>) => number;

/** Error for an IR node the exporter cannot express, naming the primitive and the node. */
export function unsupported(node: GraphNode, why: string): DualgradError {
  return new DualgradError(`ONNX export: cannot export primitive '${node.op}' (value %${node.id} ${formatShape(node.shape)}): ${why}`);
}

/** Where an input's batch axis lands in an output of rank `rank` under NumPy broadcasting (right-aligned). */
function broadcastAxis(c: RuleContext<Prim>): number {
  let axis = -1;
  for (const x of c.inputs) {
    if (x.batchAxis < 0) continue;
    const a = x.batchAxis + c.node.shape.length - x.shape.length;
    if (axis >= 0 && axis !== a) throw unsupported(c.node, "its operands carry the batch dimension on different axes");
    axis = a;
  }
  return axis;
}

const unary =
  (opType: string): Rule<Prim> =>
  (c) => {
    c.emit.node(opType, [c.inputs[0].name], {}, c.out);
    return c.inputs[0].batchAxis;
  };

const binary =
  (opType: string): Rule<Prim> =>
  (c) => {
    c.emit.node(opType, c.inputs.map((x) => x.name), {}, c.out);
    return broadcastAxis(c);
  };

/** The reduced axes, normalised (null: all). */
function reducedAxes(rank: number, axes: readonly number[] | null): number[] {
  return axes === null ? [...Array(rank).keys()] : axes.map((a) => (a < 0 ? a + rank : a));
}

/** Where the batch axis goes when `axes` are reduced: gone, kept, or shifted left by the dropped axes before it. */
function reducedBatchAxis(batchAxis: number, axes: number[], keepdims: boolean): number {
  if (batchAxis < 0 || axes.includes(batchAxis)) return -1;
  return keepdims ? batchAxis : batchAxis - axes.filter((a) => a < batchAxis).length;
}

const reduce =
  (opType: string): Rule<Prim> =>
  (c) => {
    const { axes, keepdims } = c.attrs as ReduceAttrs;
    const x = c.inputs[0];
    const all = reducedAxes(x.shape.length, axes);
    // Opset 18 takes the axes as an int64 tensor; no axes input means "every axis".
    const inputs = axes === null ? [x.name] : [x.name, c.emit.int64s("axes", all)];
    c.emit.node(opType, inputs, { keepdims: { int: keepdims ? 1 : 0 } }, c.out);
    return reducedBatchAxis(x.batchAxis, all, keepdims);
  };

const COMPARE_OPS = { gt: "Greater", ge: "GreaterOrEqual", lt: "Less", le: "LessOrEqual", eq: "Equal", ne: "Equal" } as const;

/** `[a, b]` with the last two axes swapped: the permutation of a matrix transpose on a batch of matrices. */
function swapLastTwo(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

/** Where an operand's batch axis lands in op(A) @ op(B): a leading (broadcast) axis, the kept row/column axis, or summed away. */
function matmulBatchAxis(c: RuleContext<"matmul">): number {
  const rank = c.node.shape.length;
  const [a, b] = c.inputs;
  const from = (x: RuleInput, trans: boolean, keptAxis: number, outAxis: number): number => {
    const r = x.shape.length;
    if (x.batchAxis < 0) return -1;
    if (x.batchAxis < r - 2) return x.batchAxis + rank - r;
    // The axis of op(X) that survives is rows for A (axis r-2 untransposed) and columns for B (r-1).
    const survives = trans ? x.batchAxis === 2 * r - 3 - keptAxis : x.batchAxis === keptAxis;
    return survives ? outAxis : -1;
  };
  const fromA = from(a, c.attrs.transA, a.shape.length - 2, rank - 2);
  const fromB = from(b, c.attrs.transB, b.shape.length - 1, rank - 1);
  if (fromA >= 0 && fromB >= 0 && fromA !== fromB) throw unsupported(c.node, "both operands carry the batch dimension on different output axes");
  return Math.max(fromA, fromB);
}

/** Conv over an NCHW input batched on axis 0, with a fixed weight (and bias, for conv2d_bias). */
function conv(c: RuleContext<"conv2d" | "conv2d_bias">): number {
  const [x, ...params] = c.inputs;
  if (x.batchAxis > 0 || params.some((p) => p.batchAxis >= 0)) throw unsupported(c.node, "only an NCHW input batched on axis 0 and a fixed weight and bias are exported");
  const { stride, padding, dilation } = c.attrs;
  c.emit.node("Conv", [x.name, ...params.map((p) => p.name)], {
    kernel_shape: { ints: params[0].shape.slice(2) }, strides: { ints: stride }, pads: { ints: [...padding, ...padding] }, dilations: { ints: dilation },
  }, c.out);
  return x.batchAxis;
}

/** MaxPool / AveragePool over an NCHW input batched on axis 0 (floor output size, as the primitives). */
function pool(c: RuleContext<"max_pool2d" | "avg_pool2d">, opType: string, extra: Record<string, { int: number }>): number {
  const x = c.inputs[0];
  if (x.batchAxis > 0) throw unsupported(c.node, "only an NCHW input batched on axis 0 is exported");
  const { kernel, stride, padding } = c.attrs;
  c.emit.node(opType, [x.name], { kernel_shape: { ints: kernel }, strides: { ints: stride }, pads: { ints: [...padding, ...padding] }, ...extra }, c.out);
  return x.batchAxis;
}

const RULES: { [P in Prim]?: Rule<P> } = {
  neg: unary("Neg"),
  exp: unary("Exp"),
  log: unary("Log"),
  sqrt: unary("Sqrt"),
  abs: unary("Abs"),
  relu: unary("Relu"),
  tanh: unary("Tanh"),
  sigmoid: unary("Sigmoid"),
  pow: (c) => {
    const x = c.inputs[0];
    c.emit.node("Pow", [x.name, c.emit.scalar("exponent", x.dtype, c.attrs.exponent)], {}, c.out);
    return x.batchAxis;
  },
  add: binary("Add"),
  sub: binary("Sub"),
  mul: binary("Mul"),
  div: binary("Div"),
  maximum: binary("Max"),
  minimum: binary("Min"),
  compare: (c) => {
    // ONNX comparisons return bool; the IR's return 1/0 in the operands' dtype.
    let flag = c.emit.node(COMPARE_OPS[c.attrs.kind], c.inputs.map((x) => x.name));
    if (c.attrs.kind === "ne") flag = c.emit.node("Not", [flag]);
    c.emit.node("Cast", [flag], { to: { int: onnxDType(c.node.dtype) } }, c.out);
    return broadcastAxis(c);
  },
  where: (c) => {
    const [cond, a, b] = c.inputs;
    // Cast to bool maps every non-zero to true: the IR's `cond != 0`.
    const flag = c.emit.node("Cast", [cond.name], { to: { int: ONNX_DTYPE.BOOL } });
    c.emit.node("Where", [flag, a.name, b.name], {}, c.out);
    return broadcastAxis(c);
  },
  sum: reduce("ReduceSum"),
  mean: reduce("ReduceMean"),
  max: reduce("ReduceMax"),
  logsumexp: reduce("ReduceLogSumExp"),
  argmax: (c) => {
    const x = c.inputs[0];
    const axis = c.attrs.axis < 0 ? c.attrs.axis + x.shape.length : c.attrs.axis;
    // ArgMax returns int64 and, like the IR, the first index of a tie (select_last_index = 0).
    const idx = c.emit.node("ArgMax", [x.name], { axis: { int: axis }, keepdims: { int: c.attrs.keepdims ? 1 : 0 } });
    c.emit.node("Cast", [idx], { to: { int: onnxDType(c.node.dtype) } }, c.out);
    return reducedBatchAxis(x.batchAxis, [axis], c.attrs.keepdims);
  },
  log_softmax: (c) => {
    const x = c.inputs[0];
    const axis = c.attrs.axis < 0 ? c.attrs.axis + x.shape.length : c.attrs.axis;
    if (axis === x.batchAxis) throw unsupported(c.node, "it normalises over the batch axis");
    c.emit.node("LogSoftmax", [x.name], { axis: { int: axis } }, c.out);
    return x.batchAxis;
  },
  reshape: (c) => {
    const x = c.inputs[0];
    const target = [...c.attrs.shape];
    const a = x.batchAxis;
    if (a >= 0) {
      // The batch axis survives only if it keeps its size and everything before it keeps its
      // element count; then -1 there lets ONNX infer it from any batch size.
      const before = (s: readonly number[]) => s.slice(0, a).reduce((p, d) => p * d, 1);
      if (target.length <= a || target[a] !== x.shape[a] || before(target) !== before(x.shape)) {
        throw unsupported(c.node, `reshape ${formatShape(x.shape)} -> ${formatShape(target)} merges or splits the batch axis ${a}`);
      }
      target[a] = -1;
    }
    c.emit.node("Reshape", [x.name, c.emit.int64s("shape", target)], {}, c.out);
    return a;
  },
  transpose: (c) => {
    const x = c.inputs[0];
    c.emit.node("Transpose", [x.name], { perm: { ints: c.attrs.perm } }, c.out);
    return x.batchAxis < 0 ? -1 : c.attrs.perm.indexOf(x.batchAxis);
  },
  broadcast_to: (c) => {
    const x = c.inputs[0];
    const out = broadcastAxis(c);
    const target = [...c.attrs.shape];
    // Expand broadcasts both ways, so a 1 on the batch axis keeps whatever batch the input has.
    if (out >= 0) target[out] = 1;
    c.emit.node("Expand", [x.name, c.emit.int64s("shape", target)], {}, c.out);
    return out;
  },
  slice: (c) => {
    const x = c.inputs[0];
    const { begin, end } = c.attrs;
    const axes = begin.map((_, i) => i).filter((i) => begin[i] !== 0 || end[i] !== x.shape[i]);
    if (axes.includes(x.batchAxis)) throw unsupported(c.node, `it slices the batch axis ${x.batchAxis}`);
    const e = c.emit;
    c.emit.node("Slice", [x.name, e.int64s("starts", axes.map((i) => begin[i])), e.int64s("ends", axes.map((i) => end[i])), e.int64s("axes", axes)], {}, c.out);
    return x.batchAxis;
  },
  pad: (c) => {
    const x = c.inputs[0];
    const { before, after } = c.attrs;
    if (x.batchAxis >= 0 && (before[x.batchAxis] !== 0 || after[x.batchAxis] !== 0)) throw unsupported(c.node, `it pads the batch axis ${x.batchAxis}`);
    c.emit.node("Pad", [x.name, c.emit.int64s("pads", [...before, ...after])], { mode: { string: "constant" } }, c.out);
    return x.batchAxis;
  },
  matmul: (c) => {
    const [a, b] = c.inputs;
    const { transA, transB } = c.attrs;
    if (a.shape.length === 2 && b.shape.length === 2 && c.node.dtype !== "int32") {
      c.emit.node("Gemm", [a.name, b.name], { transA: { int: transA ? 1 : 0 }, transB: { int: transB ? 1 : 0 } }, c.out);
    } else {
      const t = (x: RuleInput, trans: boolean) => (trans ? c.emit.node("Transpose", [x.name], { perm: { ints: swapLastTwo(x.shape.length) } }) : x.name);
      c.emit.node("MatMul", [t(a, transA), t(b, transB)], {}, c.out);
    }
    return matmulBatchAxis(c);
  },
  conv2d: (c) => conv(c),
  // ONNX Conv's optional third input is exactly this primitive's per-channel bias.
  conv2d_bias: (c) => conv(c),
  max_pool2d: (c) => pool(c, "MaxPool", {}),
  // PyTorch's default count_include_pad=True.
  avg_pool2d: (c) => pool(c, "AveragePool", { count_include_pad: { int: 1 } }),
  one_hot: (c) => {
    const x = c.inputs[0];
    const e = c.emit;
    // ONNX Runtime implements OneHot for int64 indices with float values (among few others):
    // emit that, then cast to the IR's dtype.
    const indices = e.node("Cast", [x.name], { to: { int: ONNX_DTYPE.INT64 } });
    const values = e.tensor(e.fresh("off_on"), "float32", [2], [0, 1]);
    const hot = c.node.dtype === "float32" ? c.out : undefined;
    const y = e.node("OneHot", [indices, e.int64s("depth", [c.attrs.depth]), values], { axis: { int: -1 } }, hot);
    if (!hot) e.node("Cast", [y], { to: { int: onnxDType(c.node.dtype) } }, c.out);
    return x.batchAxis;
  },
  cast: (c) => {
    c.emit.node("Cast", [c.inputs[0].name], { to: { int: onnxDType(c.attrs.dtype) } }, c.out);
    return c.inputs[0].batchAxis;
  },
  gather: (c) => {
    // ONNX Gather is tf.gather: out = x[:axis] + indices.shape + x[axis+1:] (int32 indices allowed).
    const [x, idx] = c.inputs;
    const axis = c.attrs.axis < 0 ? c.attrs.axis + x.shape.length : c.attrs.axis;
    if (x.batchAxis === axis) throw unsupported(c.node, `it gathers along the batch axis ${axis}`);
    if (x.batchAxis >= 0 && idx.batchAxis >= 0) throw unsupported(c.node, "both the table and the indices carry the batch dimension");
    c.emit.node("Gather", [x.name, idx.name], { axis: { int: axis } }, c.out);
    if (idx.batchAxis >= 0) return axis + idx.batchAxis;
    return x.batchAxis < axis ? x.batchAxis : x.batchAxis + idx.shape.length - 1;
  },
  take_along_axis: (c) => {
    const [x, idx] = c.inputs;
    const axis = c.attrs.axis < 0 ? c.attrs.axis + x.shape.length : c.attrs.axis;
    const batch = Math.max(x.batchAxis, idx.batchAxis);
    if ((x.batchAxis >= 0 && idx.batchAxis >= 0 && x.batchAxis !== idx.batchAxis) || (batch >= 0 && batch === axis)) {
      throw unsupported(c.node, "it indexes along the batch axis, or its operands carry the batch on different axes");
    }
    c.emit.node("GatherElements", [x.name, idx.name], { axis: { int: axis } }, c.out);
    return batch;
  },
  concat: (c) => {
    const axis = c.attrs.axis < 0 ? c.attrs.axis + c.node.shape.length : c.attrs.axis;
    const batch = c.inputs.map((x) => x.batchAxis);
    // Every operand must follow the batch size, on the same axis, and that axis is not the one joined.
    if (batch.some((b) => b !== batch[0]) || (batch[0] >= 0 && batch[0] === axis)) {
      throw unsupported(c.node, "its operands do not all carry the batch dimension on one axis other than the joined one");
    }
    c.emit.node("Concat", c.inputs.map((x) => x.name), { axis: { int: axis } }, c.out);
    return batch[0];
  },
};

/** Emits the ONNX nodes of one IR primitive node; returns its result's batch axis. */
export function emitPrimitive(c: RuleContext<Prim>): number {
  const rule = RULES[c.node.op as Prim] as Rule<Prim> | undefined;
  if (!rule) throw unsupported(c.node, "no ONNX mapping is defined for it (add one in graph/src/export/onnx/ops.ts)");
  return rule(c);
}
