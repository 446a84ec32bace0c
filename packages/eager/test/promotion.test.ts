import { describe, expect, it } from "vitest";
import { DTypeError, ShapeError } from "@dualgrad/core";
import { add, div, exp, matmul, mul, sqrt, tensor, tidy, type Tensor } from "../src/index.js";

/** PyTorch's type promotion (core's resultType, floatResultType, floatUnary) and DTypeError on the eager frontend. */

const values = (t: Tensor) => Array.from(t.data);

describe("PyTorch type promotion (eager)", () => {
  it("int32 with a fractional number gives float32; with an integral one stays int32", () => {
    tidy(() => {
      const i = tensor([1, 2], { dtype: "int32" });
      const y = add(i, 0.5);
      expect(y.dtype).toBe("float32");
      expect(values(y)).toEqual([1.5, 2.5]);
      expect(add(i, 2).dtype).toBe("int32");
      expect(values(mul(0.5, i))).toEqual([0.5, 1]);
      expect(i.add(0.5).dtype).toBe("float32");
    });
  });
  it("int with float tensor gives the float; float32 with float64 gives float64; int / int is float32", () => {
    tidy(() => {
      const i = tensor([1, 3], { dtype: "int32" });
      expect(add(i, tensor([0.25, 0.25])).dtype).toBe("float32");
      expect(add(tensor([1]), tensor([1], { dtype: "float64" })).dtype).toBe("float64");
      const q = div(i, tensor([2, 2], { dtype: "int32" }));
      expect(q.dtype).toBe("float32");
      expect(values(q)).toEqual([0.5, 1.5]);
    });
  });
  it("floating unary ops on int32 compute in float32 (torch.exp(int_tensor))", () => {
    tidy(() => {
      const i = tensor([0, 1, 4], { dtype: "int32" });
      const r = sqrt(i);
      expect(r.dtype).toBe("float32");
      expect(values(r)).toEqual([0, 1, 2]);
      expect(values(exp(i))).toEqual(Array.from(Float32Array.from([1, Math.E, Math.exp(4)])));
      expect(i.tanh().dtype).toBe("float32");
    });
  });
  it("matmul of float32 by float64 is a DTypeError (PyTorch refuses it too), not a ShapeError", () => {
    tidy(() => {
      const a = tensor([[1, 2]]);
      const b = tensor([[1], [2]], { dtype: "float64" });
      let err: unknown;
      try {
        matmul(a, b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DTypeError);
      expect(err).not.toBeInstanceOf(ShapeError);
      expect((err as Error).message).toMatch(/^matmul: expected two inputs of the same floating dtype, got float32\[1,2\] and float64\[2,1\]/);
    });
  });
  it("an in-place update whose result would be float on an int32 tensor is a DTypeError, not a silent truncation", () => {
    tidy(() => {
      const i = tensor([1, 2], { dtype: "int32" });
      expect(() => i.add_(0.5)).toThrow(DTypeError);
      expect(() => i.add_(0.5)).toThrow("add_: result type float32 can't be stored in the int32 tensor being updated in place");
      expect(values(i.add_(1))).toEqual([2, 3]);
    });
  });
});
