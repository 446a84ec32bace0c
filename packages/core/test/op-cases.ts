import { convOutSize, type Attrs, type DType, type Prim } from "../src/index.js";

/**
 * The table of op cases: which shapes, dtypes, value ranges and attributes each primitive is
 * exercised with. Shared by the value tests (fast kernel vs reference) and the gradient tests
 * (VJP vs finite differences). Ranges avoid kinks (relu at 0, ties in max) where a finite
 * difference is meaningless.
 */
export interface InputSpec {
  shape: number[];
  /** "float" takes the case's float dtype; "int32" makes integer data (labels). */
  kind?: "float" | "int32" | "mask";
  /** Values are drawn from U(lo, hi); with `awayFromZero`, |x| >= 0.2 as well. */
  range?: [number, number];
  awayFromZero?: boolean;
}

export interface OpCase<P extends Prim = Prim> {
  prim: P;
  attrs: Attrs[P];
  inputs: InputSpec[];
  /** Which inputs get a gradient check (defaults to every float input). */
  grad?: boolean[];
}

const f = (shape: number[], extra: Partial<InputSpec> = {}): InputSpec => ({ shape, kind: "float", ...extra });

/** Broadcasting pairs that cover rank 0, size-1, size-0 and rank mismatch. */
export const BROADCAST_PAIRS: [number[], number[]][] = [
  [[], []],
  [[3], [3]],
  [[], [2, 3]],
  [[2, 3], []],
  [[2, 1], [1, 3]],
  [[4, 1, 3], [5, 3]],
  [[1], [2, 2]],
  [[0, 3], [1, 3]],
  [[2, 0], [2, 1]],
  [[3, 4], [3, 4]],
];

const UNARY_SHAPES: number[][] = [[], [1], [5], [2, 3], [0, 4], [2, 1, 3]];

function c<P extends Prim>(prim: P, attrs: Attrs[P], inputs: InputSpec[], grad?: boolean[]): OpCase {
  return { prim, attrs, inputs, grad } as OpCase;
}

/** Every case, for every primitive. */
export function opCases(): OpCase[] {
  const cases: OpCase[] = [];
  for (const s of UNARY_SHAPES) {
    cases.push(c("neg", {}, [f(s)]));
    cases.push(c("exp", {}, [f(s, { range: [-2, 2] })]));
    cases.push(c("log", {}, [f(s, { range: [0.3, 3] })]));
    cases.push(c("sqrt", {}, [f(s, { range: [0.3, 3] })]));
    cases.push(c("abs", {}, [f(s, { awayFromZero: true })]));
    cases.push(c("relu", {}, [f(s, { awayFromZero: true })]));
    cases.push(c("tanh", {}, [f(s, { range: [-2, 2] })]));
    cases.push(c("sigmoid", {}, [f(s, { range: [-3, 3] })]));
    cases.push(c("pow", { exponent: 2 }, [f(s)]));
    cases.push(c("pow", { exponent: 3 }, [f(s)]));
    cases.push(c("pow", { exponent: -0.5 }, [f(s, { range: [0.5, 2] })]));
    cases.push(c("cast", { dtype: "float64" }, [f(s)]));
  }
  for (const [a, b] of BROADCAST_PAIRS) {
    cases.push(c("add", {}, [f(a), f(b)]));
    cases.push(c("sub", {}, [f(a), f(b)]));
    cases.push(c("mul", {}, [f(a), f(b)]));
    cases.push(c("div", {}, [f(a), f(b, { range: [0.5, 2] })]));
    cases.push(c("maximum", {}, [f(a, { range: [-1, 0.9] }), f(b, { range: [1, 2] })]));
    cases.push(c("maximum", {}, [f(a, { range: [1, 2] }), f(b, { range: [-1, 0.9] })]));
    cases.push(c("minimum", {}, [f(a, { range: [-1, 0.9] }), f(b, { range: [1, 2] })]));
    for (const kind of ["gt", "ge", "lt", "le", "eq", "ne"] as const) cases.push(c("compare", { kind }, [f(a), f(b)]));
    cases.push(c("where", {}, [{ shape: a, kind: "mask" }, f(a), f(b)]));
    cases.push(c("where", {}, [{ shape: [], kind: "mask" }, f(b), f(a)]));
  }
  const reduceShapes: [number[], number[] | null][] = [
    [[], null], [[5], null], [[5], [0]], [[2, 3], [1]], [[2, 3], [0]], [[2, 3], [-1]], [[2, 3, 4], [0, 2]],
    [[2, 3, 4], [1]], [[3, 4], null], [[1, 4], [0]], [[0, 3], [1]],
  ];
  for (const [s, axes] of reduceShapes) {
    for (const keepdims of [false, true]) {
      cases.push(c("sum", { axes, keepdims }, [f(s)]));
      cases.push(c("mean", { axes, keepdims }, [f(s)]));
      const empty = (axes ?? s.map((_, i) => i)).some((a) => s[(a + s.length) % s.length] === 0);
      if (!empty) {
        cases.push(c("max", { axes, keepdims }, [f(s)]));
        cases.push(c("logsumexp", { axes, keepdims }, [f(s, { range: [-3, 3] })]));
      }
    }
  }
  for (const [s, axis] of [[[5], 0], [[2, 3], 1], [[2, 3], 0], [[2, 3, 4], 1], [[4, 3], -1], [[], 0]] as [number[], number][]) {
    cases.push(c("log_softmax", { axis }, [f(s)]));
    cases.push(c("argmax", { axis, keepdims: false }, [f(s)]));
    cases.push(c("argmax", { axis, keepdims: true }, [f(s)]));
  }
  for (const [b, classes] of [[4, 3], [1, 5], [3, 1], [6, 10]]) {
    const labels: InputSpec = { shape: [b], kind: "int32", range: [0, classes] };
    cases.push(c("softmax_cross_entropy", {}, [f([b, classes], { range: [-3, 3] }), labels]));
    cases.push(c("softmax_cross_entropy_grad", {}, [f([b, classes], { range: [-3, 3] }), labels, f([])]));
  }
  cases.push(c("reshape", { shape: [3, 2] }, [f([2, 3])]));
  cases.push(c("reshape", { shape: [-1] }, [f([2, 3])]));
  cases.push(c("reshape", { shape: [] }, [f([1, 1])]));
  cases.push(c("reshape", { shape: [0, 5] }, [f([5, 0])]));
  cases.push(c("transpose", { perm: [1, 0] }, [f([2, 3])]));
  cases.push(c("transpose", { perm: [2, 0, 1] }, [f([2, 3, 4])]));
  cases.push(c("transpose", { perm: [] }, [f([])]));
  cases.push(c("transpose", { perm: [1, 0] }, [f([0, 3])]));
  cases.push(c("broadcast_to", { shape: [2, 3] }, [f([3])]));
  cases.push(c("broadcast_to", { shape: [2, 3] }, [f([])]));
  cases.push(c("broadcast_to", { shape: [4, 2, 3] }, [f([2, 1])]));
  cases.push(c("broadcast_to", { shape: [0, 3] }, [f([1, 3])]));
  cases.push(c("slice", { begin: [1], end: [4] }, [f([5])]));
  cases.push(c("slice", { begin: [0, 1], end: [2, 3] }, [f([3, 4])]));
  cases.push(c("slice", { begin: [1, 0, 2], end: [2, 3, 2] }, [f([3, 3, 4])]));
  cases.push(c("pad", { before: [1], after: [2] }, [f([3])]));
  cases.push(c("pad", { before: [0, 1], after: [1, 0] }, [f([2, 3])]));
  cases.push(c("pad", { before: [1, 1], after: [0, 0] }, [f([0, 2])]));
  for (const [a, b, transA, transB] of [
    [[2, 3], [3, 4], false, false],
    [[3, 2], [3, 4], true, false],
    [[2, 3], [4, 3], false, true],
    [[3, 2], [4, 3], true, true],
    [[1, 1], [1, 1], false, false],
    [[5, 7], [7, 1], false, false],
    [[2, 4, 3], [3, 2], false, false],
    [[2, 1, 2, 3], [3, 3, 2], false, false],
    [[3, 2, 3], [3, 3, 5], false, false],
    [[2, 0], [0, 3], false, false],
    [[0, 2], [2, 3], false, false],
  ] as [number[], number[], boolean, boolean][]) {
    cases.push(c("matmul", { transA, transB }, [f(a), f(b)]));
  }
  for (const [x, w, stride, padding, dilation] of [
    [[2, 3, 5, 5], [4, 3, 3, 3], [1, 1], [1, 1], [1, 1]],
    [[1, 2, 6, 5], [3, 2, 2, 3], [2, 1], [0, 1], [1, 1]],
    [[2, 1, 7, 6], [2, 1, 3, 2], [2, 3], [1, 0], [2, 1]],
    [[1, 1, 3, 3], [1, 1, 1, 1], [1, 1], [0, 0], [1, 1]],
    [[3, 2, 4, 4], [1, 2, 4, 4], [1, 1], [0, 0], [1, 1]],
    [[0, 2, 4, 4], [3, 2, 3, 3], [1, 1], [1, 1], [1, 1]],
  ] as number[][][]) {
    const attrs = { stride, padding, dilation };
    const out = [x[0], w[0], convOutSize(x[2], w[2], stride[0], padding[0], dilation[0]), convOutSize(x[3], w[3], stride[1], padding[1], dilation[1])];
    cases.push(c("conv2d", attrs, [f(x), f(w)]));
    cases.push(c("conv2d_bias", attrs, [f(x), f(w), f([w[0]])]));
    cases.push(c("conv2d_grad_input", { ...attrs, inputShape: x }, [f(out), f(w)]));
    cases.push(c("conv2d_grad_weight", { ...attrs, weightShape: w }, [f(x), f(out)]));
  }
  for (const [x, kernel, stride, padding] of [
    [[2, 3, 4, 4], [2, 2], [2, 2], [0, 0]],
    [[1, 2, 5, 7], [3, 2], [2, 1], [1, 1]],
    [[2, 1, 6, 5], [3, 3], [1, 2], [1, 0]],
    [[1, 1, 1, 1], [1, 1], [1, 1], [0, 0]],
    [[0, 2, 4, 4], [2, 2], [2, 2], [0, 0]],
  ] as number[][][]) {
    const attrs = { kernel, stride, padding };
    const out = [x[0], x[1], convOutSize(x[2], kernel[0], stride[0], padding[0], 1), convOutSize(x[3], kernel[1], stride[1], padding[1], 1)];
    cases.push(c("max_pool2d", attrs, [f(x)]));
    cases.push(c("max_pool2d_grad", attrs, [f(x), f(out)], [false, true]));
    cases.push(c("max_pool2d_select", attrs, [f(x), f(x)], [false, true]));
    cases.push(c("avg_pool2d", attrs, [f(x)]));
    cases.push(c("avg_pool2d_grad", { ...attrs, inputShape: x }, [f(out)]));
  }
  for (const s of [[], [4], [2, 3], [0]]) {
    cases.push(c("one_hot", { depth: 5, dtype: "float32" }, [{ shape: s, kind: "int32", range: [0, 5] }]));
  }
  // Indices are drawn from [0, axis size) (int32 data is floored), with repeats, so the
  // scatter-adds of the VJPs accumulate.
  const idx = (shape: number[], size: number): InputSpec => ({ shape, kind: "int32", range: [0, size] });
  for (const [x, i, axis] of [
    [[5], [3], 0], [[4, 3], [5], 0], [[4, 3], [2], 1], [[4, 3], [2], -1], [[2, 3, 4], [2, 2], 1],
    [[3, 4], [], 0], [[3, 2], [0], 0], [[0, 3], [2], 1],
  ] as [number[], number[], number][]) {
    cases.push(c("gather", { axis }, [f(x), idx(i, x.at(axis)!)]));
    const a = axis < 0 ? axis + x.length : axis;
    const size = x[a];
    if (size > 0) cases.push(c("index_add", { axis, size }, [f([...x.slice(0, a), ...i, ...x.slice(a + 1)]), idx(i, size)]));
  }
  for (const [x, m, axis] of [[[5], 3, 0], [[4, 3], 2, 0], [[4, 3], 5, 1], [[2, 3, 4], 2, -2], [[2, 0, 3], 2, 2]] as [number[], number, number][]) {
    const a = axis < 0 ? axis + x.length : axis;
    const i = x.map((d, k) => (k === a ? m : d));
    cases.push(c("take_along_axis", { axis }, [f(x), idx(i, x[a])]));
    if (x[a] > 0) cases.push(c("scatter_add", { axis, size: x[a] }, [f(i), idx(i, x[a])]));
  }
  for (const [shapes, axis] of [
    [[[2], [3]], 0], [[[2, 3], [1, 3], [4, 3]], 0], [[[2, 3], [2, 1]], 1], [[[2, 3], [2, 2]], -1],
    [[[2, 3, 4]], 1], [[[2, 0], [2, 3]], 1], [[[1, 2, 3], [1, 2, 3]], 2],
  ] as [number[][], number][]) {
    cases.push(c("concat", { axis }, shapes.map((s) => f(s))));
  }
  cases.push(c("cast", { dtype: "int32" }, [f([2, 3], { range: [-5, 5] })]));
  cases.push(c("cast", { dtype: "float32" }, [{ shape: [4], kind: "int32", range: [-5, 5] }]));
  cases.push(c("neg", {}, [{ shape: [4], kind: "int32", range: [-5, 5] }]));
  cases.push(c("add", {}, [{ shape: [2, 1], kind: "int32", range: [-5, 5] }, { shape: [3], kind: "int32", range: [-5, 5] }]));
  return cases;
}

/** Name of a case for test titles: `add [2,1] [1,3] {}`. */
export function caseName(k: OpCase, dtype: DType): string {
  return `${k.prim} ${k.inputs.map((i) => `[${i.shape.join(",")}]${i.kind === "int32" ? "i32" : ""}`).join(" ")} ${JSON.stringify(k.attrs)} ${dtype}`;
}
