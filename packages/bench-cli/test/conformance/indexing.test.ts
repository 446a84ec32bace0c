import { describe, expect, it } from "vitest";
import { PhiloxGenerator, type DType, type TypedArray } from "@dualgrad/core";
import * as eager from "@dualgrad/eager";
import * as graph from "@dualgrad/graph";
import { useLeakCheck } from "./leak-hook.js";

/**
 * The same program written with each frontend's own indexing and joining names — eager's
 * indexSelect / takeAlongDim / cat / stack / split / chunk, graph's gather / takeAlongAxis /
 * concat / stack / split — must give the same bits: both lower to core's gather,
 * take_along_axis, concat, reshape and slice with the same attributes (and cast for the
 * promoted int32 part), and run core's kernels and VJP rules. Values and the gradients of
 * sum(out * r) are compared bitwise with fusion off and within 1 ulp-ish tolerance with it on.
 */

useLeakCheck();

const IDS = [2, 0, 2, 1];
const PICK = [[1], [0], [2]];

function data(dtype: DType, n: number, seed: number): TypedArray {
  const v = new Float64Array(n);
  new PhiloxGenerator(seed).fillUniform(v, -1, 1);
  return dtype === "float32" ? Float32Array.from(v) : v;
}

/** The program on eager tensors: returns [out, grad table, grad x]. */
function runEager(dtype: DType, table: TypedArray, x: TypedArray, r: TypedArray): TypedArray[] {
  const T = eager.tensor(table, { shape: [3, 4], dtype, requiresGrad: true });
  const X = eager.tensor(x, { shape: [3, 3], dtype, requiresGrad: true });
  try {
    const out = eager.tidy(() => {
      const rows = eager.indexSelect(T, 0, eager.tensor(IDS, { dtype: "int32" })); // [4,4]
      const [left, right] = eager.split(rows, [1, 3], 1); // [4,1], [4,3]
      const picked = eager.takeAlongDim(X, eager.tensor(PICK, { dtype: "int32" }), 1); // [3,1]
      const counts = eager.tensor([[1], [2], [3]], { dtype: "int32" }); // promoted by cat
      const col = eager.cat([picked, counts, left.slice([0, 0], [3, 1])], 0); // [9,1]
      const s = eager.stack([right.slice([0, 0], [3, 3]), X], 1); // [3,2,3]
      const [a, b] = eager.chunk(s.reshape([18]), 2); // [9], [9]
      const y = eager.stack([a.mul(col.reshape([9])), b], -1); // [9,2]
      y.mul(eager.tensor(r, { shape: [9, 2], dtype })).sum().backward();
      return y.data.slice();
    });
    return [out, T.grad!.data.slice(), X.grad!.data.slice()];
  } finally {
    T.dispose();
    X.dispose();
  }
}

/** The same program traced with the graph frontend's names. */
function runGraph(dtype: DType, table: TypedArray, x: TypedArray, r: TypedArray, disable: graph.StageSwitch[]): TypedArray[] {
  const f = graph.fn((T: graph.SymbolicTensor, X: graph.SymbolicTensor, ids: graph.SymbolicTensor, pick: graph.SymbolicTensor, counts: graph.SymbolicTensor, R: graph.SymbolicTensor) => {
    const rows = graph.gather(T, ids, { axis: 0 });
    const [left, right] = graph.split(rows, [1, 3], 1);
    const picked = graph.takeAlongAxis(X, pick, 1);
    const col = graph.concat([picked, counts, left.slice([0, 0], [3, 1])], 0);
    const s = graph.stack([right.slice([0, 0], [3, 3]), X], 1);
    const [a, b] = graph.split(s.reshape([18]), 2);
    const y = graph.stack([a.mul(col.reshape([9])), b], -1);
    return [y, ...graph.gradients(y.mul(R).sum(), [T, X])];
  }, { disable });
  try {
    const out = f(
      graph.tensor(table, [3, 4], dtype), graph.tensor(x, [3, 3], dtype), graph.tensor(new Int32Array(IDS), [4], "int32"),
      graph.tensor(new Int32Array(PICK.flat()), [3, 1], "int32"), graph.tensor(new Int32Array([1, 2, 3]), [3, 1], "int32"), graph.tensor(r, [9, 2], dtype),
    ) as graph.HostTensor[];
    return out.map((t) => t.data);
  } finally {
    f.dispose();
  }
}

describe("indexing and joining: eager names == graph names, bit for bit", () => {
  for (const dtype of ["float32", "float64"] as DType[]) {
    it(dtype, () => {
      const table = data(dtype, 12, 1);
      const x = data(dtype, 9, 2);
      const r = data(dtype, 18, 3);
      const e = runEager(dtype, table, x, r);
      const unfused = runGraph(dtype, table, x, r, ["fuse"]);
      const fused = runGraph(dtype, table, x, r, []);
      e.forEach((v, k) => {
        expect(Array.from(unfused[k]), `output ${k}, fusion off`).toEqual(Array.from(v));
        const tol = dtype === "float32" ? 1e-6 : 1e-12;
        fused[k].forEach((g, i) => expect(Math.abs(g - v[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(v[i]))));
      });
      // ids [2,0,2,1]: row 2 is read twice and gets gradient; row 1 (position 3) is sliced away.
      expect(Array.from(e[1].slice(8, 12)).every((g) => g !== 0)).toBe(true);
      expect(Array.from(e[1].slice(4, 8))).toEqual([0, 0, 0, 0]);
    });
  }
});
