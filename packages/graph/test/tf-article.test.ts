import { describe, expect, it } from "vitest";

/** The example's exports (examples/ is its own package, compiled against the published types, so it is loaded, not imported, here). */
interface Example {
  main(options: { epochs?: number; log?: (line: string) => void }): { weight: number; bias: number; loss: number; xs: Float32Array; ys: Float32Array };
}
const examplePath = new URL("../../../examples/tf-linear-regression.ts", import.meta.url).href;

/** The least-squares line through the points (what training should converge to). */
function leastSquares(xs: Float32Array, ys: Float32Array): { weight: number; bias: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const weight = sxy / sxx;
  return { weight, bias: my - weight * mx };
}

describe("the article's TensorFlow program (examples/tf-linear-regression.ts)", () => {
  it("trains linear regression to the least-squares weights with GradientTape, applyGradients(zip(...)) and a Dataset", async () => {
    const { main } = (await import(/* @vite-ignore */ examplePath)) as Example;
    const lines: string[] = [];
    const r = main({ epochs: 60, log: (l) => lines.push(l) });
    const best = leastSquares(r.xs, r.ys);
    expect(Math.abs(best.weight - 2)).toBeLessThan(0.1); // the data do follow y = 2x + 1
    expect(Math.abs(r.weight - best.weight)).toBeLessThan(0.02);
    expect(Math.abs(r.bias - best.bias)).toBeLessThan(0.01);
    expect(r.loss).toBeLessThan(0.012); // about the noise variance, 0.01
    expect(lines[0]).toMatch(/^epoch 0: loss \d/);
    expect(lines.at(-1)).toMatch(/^learned y = \d\.\d{3} x \+ \d\.\d{3}/);
  });
});
