import { DTypeError, ShapeError } from "../errors.js";
import { formatShape, normalizeAxis } from "../shape.js";
import { concatKernel, extent } from "../kernels/indexing.js";
import type { Meta, OpTable } from "./prim.js";

/** Joining along an axis: the one variadic primitive. */
export type ConcatPrim = "concat";

function describe(xs: readonly Meta[]): string {
  return xs.map((x) => `${x.dtype}${formatShape(x.shape)}`).join(", ");
}

/** Output meta of concat: inputs agree in rank, dtype and every dimension but `axis`. */
function inferConcat(xs: readonly Meta[], axis: number): Meta {
  if (xs.length === 0) throw new ShapeError("concat", "expected at least one input");
  const first = xs[0];
  const rank = first.shape.length;
  if (rank < 1) throw new ShapeError("concat", `cannot join rank-0 tensors (${describe(xs)}); stack them instead`);
  const a = normalizeAxis("concat", axis, rank);
  if (xs.some((x) => x.dtype !== first.dtype)) throw new DTypeError("concat", `inputs must share one dtype, got ${describe(xs)} (cast first)`);
  const fits = xs.every((x) => x.shape.length === rank && x.shape.every((d, i) => i === a || d === first.shape[i]));
  if (!fits) throw new ShapeError("concat", `inputs ${describe(xs)} must match in every dimension except axis ${a}`);
  const total = xs.reduce((n, x) => n + x.shape[a], 0);
  return { shape: first.shape.map((d, i) => (i === a ? total : d)), dtype: first.dtype };
}

/** OpDef of concat (`torch.cat`, `tf.concat`). Its VJP slices the cotangent back into the inputs' parts. */
export const concatOps: OpTable<ConcatPrim> = {
  concat: {
    kind: "shape",
    arity: "variadic",
    infer: (xs, { axis }) => inferConcat(xs, axis),
    kernel: (xs, out, { axis }) => {
      const a = normalizeAxis("concat", axis, out.shape.length);
      concatKernel(xs, a, out.data, extent(out.shape, 0, a), extent(out.shape, a + 1, out.shape.length));
    },
    reference: (xs, out, { axis }) => {
      // Element by element: out's row r along the axis comes from the input whose range holds r.
      const a = normalizeAxis("concat", axis, out.shape.length);
      const inner = extent(out.shape, a + 1, out.shape.length);
      const n = out.shape[a];
      for (let i = 0; i < out.data.length; i++) {
        const o = Math.floor(i / (n * inner));
        let r = Math.floor(i / inner) % n;
        let t = 0;
        while (r >= xs[t].shape[a]) r -= xs[t++].shape[a];
        out.data[i] = xs[t].data[(o * xs[t].shape[a] + r) * inner + (i % inner)];
      }
    },
    vjp: (e, xs, _o, g, { axis }, wants) => {
      const shape = e.meta(g).shape;
      const a = normalizeAxis("concat", axis, shape.length);
      let at = 0;
      return xs.map((x, t) => {
        const d = e.meta(x).shape[a];
        const begin = shape.map((_, i) => (i === a ? at : 0));
        const end = shape.map((s, i) => (i === a ? at + d : s));
        at += d;
        return wants && !wants[t] ? null : e.emit("slice", [g], { begin, end });
      });
    },
  },
};
