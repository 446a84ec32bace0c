import { castInto, isDType, isFloat } from "../dtype.js";
import { DTypeError, DualgradError, ShapeError } from "../errors.js";
import { formatShape } from "../shape.js";
import type { OpTable, View } from "./prim.js";

/** Primitives over indices and types. */
export type IndexPrim = "one_hot" | "cast";

function oneHot([x]: readonly View[], out: View, depth: number): void {
  out.data.fill(0);
  for (let i = 0; i < x.data.length; i++) {
    const label = x.data[i];
    if (!(label >= 0 && label < depth)) {
      throw new DualgradError(`one_hot: label ${label} at index ${i} is out of range [0, ${depth})`);
    }
    out.data[i * depth + label] = 1;
  }
}

/** OpDefs of one_hot (integer labels to a float matrix, for cross-entropy) and cast. */
export const indexOps: OpTable<IndexPrim> = {
  one_hot: {
    kind: "index",
    arity: 1,
    infer: ([x], { depth, dtype }) => {
      if (x.dtype !== "int32") throw new DTypeError("one_hot", `expected int32 labels, got ${x.dtype}${formatShape(x.shape)}`);
      if (!Number.isInteger(depth) || depth < 0) throw new ShapeError("one_hot", `depth must be a non-negative integer, got ${depth}`);
      if (!isDType(dtype)) throw new ShapeError("one_hot", `unknown dtype ${String(dtype)}`);
      return { shape: [...x.shape, depth], dtype };
    },
    kernel: (inputs, out, { depth }) => oneHot(inputs, out, depth),
    reference: (inputs, out, { depth }) => oneHot(inputs, out, depth),
    vjp: () => [null],
  },
  cast: {
    kind: "index",
    arity: 1,
    infer: ([x], { dtype }) => {
      if (!isDType(dtype)) throw new ShapeError("cast", `unknown dtype ${String(dtype)} (expected float32, float64 or int32)`);
      return { shape: x.shape, dtype };
    },
    kernel: ([x], out) => castInto(x.data, out.data),
    reference: ([x], out) => {
      for (let i = 0; i < x.data.length; i++) out.data[i] = out.dtype === "int32" ? Math.trunc(x.data[i]) | 0 : x.data[i];
    },
    vjp: (e, [x], _o, g) => (isFloat(e.meta(x).dtype) ? [e.emit("cast", [g], { dtype: e.meta(x).dtype })] : [null]),
  },
};
