import { describe, expect, it } from "vitest";
import { tensor, tidy } from "../src/index.js";
import { subScaledInPlace } from "../src/ops.js";

describe("subScaledInPlace (the fused SGD update)", () => {
  it("gives the bits of self.sub_(x.mul(alpha)), for float32 and float64, alpha 0 and -0 kept apart", () => {
    tidy(() => {
      for (const dtype of ["float32", "float64"] as const) {
        // -0 - 0 is -0 but -0 - (-0) is +0: one kernel for both alphas would get one of them wrong.
        for (const alpha of [0, -0, 0.1, -3.7]) {
          const self = [-0, 0, 1.5, -2.25, 1e-8, 3];
          const x = [1, -1, 0.3, 7, -1e-3, 0];
          const fused = subScaledInPlace(tensor(self, { dtype }), tensor(x, { dtype }), alpha);
          const plain = tensor(self, { dtype }).sub_(tensor(x, { dtype }).mul(alpha));
          const got = fused.toArray() as number[];
          const want = plain.toArray() as number[];
          got.forEach((v, i) => expect(Object.is(v, want[i]), `${dtype} alpha=${Object.is(alpha, -0) ? "-0" : alpha} [${i}]: ${v} vs ${want[i]}`).toBe(true));
        }
      }
    });
  });
});
