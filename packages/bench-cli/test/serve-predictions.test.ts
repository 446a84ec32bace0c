import { describe, expect, it } from "vitest";
import { predictionsJson } from "../src/serve/predictions.js";

describe("predictionsJson", () => {
  it("writes the text JSON.stringify writes for the nested rows, non-finite outputs as null", () => {
    const y = Float32Array.of(0.1, -2.5e-8, 3e38, -0, NaN, Infinity, -Infinity, 1, 123456.789, 1e-45);
    for (const [rows, width] of [[1, 10], [2, 5], [5, 2], [10, 1]]) {
      const nested = Array.from({ length: rows }, (_, i) => Array.from(y.subarray(i * width, (i + 1) * width)));
      expect(predictionsJson(y, rows, width)).toBe(JSON.stringify({ predictions: nested }));
    }
  });
});
