import { describe, expect, it } from "vitest";
import { pow, sum, tensor, tidy } from "../src/index.js";

describe("eager ops check their attributes (core's schema)", () => {
  it("pow with a string exponent is an error, and does not poison later pow calls", () => {
    tidy(() => {
      const x = tensor([2, 3]);
      expect(() => pow(x, "2" as never)).toThrow(/^pow: attribute exponent must be a number, got "2"$/);
      expect(Array.from(pow(x, 2).data)).toEqual([4, 9]);
    });
  });

  it("a reduction with a mistyped axis or keepdims is an error naming the attribute", () => {
    tidy(() => {
      const x = tensor([[1, 2], [3, 4]]);
      expect(() => sum(x, { axis: "0" as never })).toThrow(/^sum: attribute axes must be null or an array of integers, got \["0"\]$/);
      expect(() => sum(x, { keepdims: "yes" as never })).toThrow(/^sum: attribute keepdims must be a boolean, got "yes"$/);
    });
  });
});
