import { describe, expect, it } from "vitest";
import { i32, keep, values } from "./disposal.js";
import { DTypeError, ShapeError } from "@dualgrad/core";
import { add, div, fn, matmul, tensor, trace, type HostTensor, type SymbolicTensor } from "../src/index.js";

/** PyTorch's type promotion (core's resultType, floatResultType, floatUnary) and DTypeError on the graph frontend. */

describe("PyTorch type promotion (graph)", () => {
  it("int32 + 0.5 is float32, int32 + 2 stays int32, int / int is float32, float32 + float64 is float64", () => {
    const f = keep(fn((i: SymbolicTensor, x: SymbolicTensor) => [add(i, 0.5), add(i, 2), div(i, i), add(x, x.to("float64"))]));
    const [h, two, q, wide] = f(i32([1, 2]), tensor(new Float32Array([1, 1]))) as HostTensor[];
    expect([h.dtype, two.dtype, q.dtype, wide.dtype]).toEqual(["float32", "int32", "float32", "float64"]);
    expect(values(h)).toEqual([1.5, 2.5]);
    expect(values(q)).toEqual([1, 1]);
  });
  it("floating unary ops on int32 compute in float32, as eager does", () => {
    const f = keep(fn((i: SymbolicTensor) => [i.sqrt(), i.exp(), i.neg()]));
    const [r, e, n] = f(i32([0, 1, 4])) as HostTensor[];
    expect([r.dtype, e.dtype, n.dtype]).toEqual(["float32", "float32", "int32"]);
    expect(values(r)).toEqual([0, 1, 2]);
    expect(values(e)).toEqual(Array.from(Float32Array.from([1, Math.E, Math.exp(4)])));
  });
  it("matmul of float32 by float64 is a DTypeError at trace time, naming the dtypes", () => {
    let err: unknown;
    try {
      trace((a: SymbolicTensor, b: SymbolicTensor) => matmul(a, b), [{ shape: [1, 2], dtype: "float32" }, { shape: [2, 1], dtype: "float64" }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DTypeError);
    expect(err).not.toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(/^matmul: expected two inputs of the same floating dtype, got float32\[1,2\] and float64\[2,1\]/);
  });
});
