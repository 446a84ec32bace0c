import { describe, expect, it } from "vitest";
import { PhiloxGenerator } from "@dualgrad/core";
import { memory, nn, ones, tensor, tidy } from "../src/index.js";

/** PyTorch's convolutional layers on the eager frontend: shapes, names, init law, semantics. */
describe("eager convolutional layers", () => {
  it("Conv2d: PyTorch layout, names in a Sequential, init within 1/sqrt(in*kh*kw) (graph's draws are checked equal in bench-cli agreement.test.ts)", () => {
    const model = new nn.Sequential(new nn.Conv2d(3, 4, [3, 2], { padding: 1, generator: new PhiloxGenerator(5) }), new nn.ReLU(), new nn.Flatten());
    const names = model.namedParameters().map(([n, p]) => `${n}${JSON.stringify(p.shape)}`);
    expect(names).toEqual(["0.weight[4,3,3,2]", "0.bias[4]"]);
    const bound = 1 / Math.sqrt(3 * 3 * 2);
    for (const [, p] of model.namedParameters()) expect(Math.max(...Array.from(p.data, Math.abs))).toBeLessThan(bound);
    const y = tidy(() => model.forward(ones([2, 3, 5, 4])));
    // (5 + 2 - 3) + 1 = 5 rows, (4 + 2 - 2) + 1 = 5 columns, 4 channels, flattened.
    expect(y.shape).toEqual([2, 4 * 5 * 5]);
    y.dispose();
    model.dispose();
  });

  it("MaxPool2d sends a tie's gradient to the first maximum in row-major order", () => {
    const x = tensor([[[[1, 1], [1, 1]]]], { requiresGrad: true });
    tidy(() => new nn.MaxPool2d(2).forward(x).sum().backward());
    expect(Array.from(x.grad!.data)).toEqual([1, 0, 0, 0]);
    x.dispose();
  });

  it("AvgPool2d counts the zero padding in every window (count_include_pad)", () => {
    const y = tidy(() => new nn.AvgPool2d(2, { stride: 1, padding: 1 }).forward(ones([1, 1, 2, 2])));
    expect(Array.from(y.data)).toEqual([0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25]);
    y.dispose();
  });

  it("Dropout: inverted scaling in train mode, seeded; the identity after eval()", () => {
    const before = memory().liveBytes;
    const drop = new nn.Dropout(0.25, { generator: new PhiloxGenerator(1) });
    const x = ones([4000]);
    const a = drop.forward(x);
    const kept = Array.from(a.data).filter((v) => v !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.75)]));
    expect(Math.abs(kept.length / 4000 - 0.75)).toBeLessThan(0.03);
    const again = new nn.Dropout(0.25, { generator: new PhiloxGenerator(1) }).forward(x);
    expect(Array.from(again.data)).toEqual(Array.from(a.data));
    drop.eval();
    const b = drop.forward(x);
    expect(Array.from(b.data).every((v) => v === 1)).toBe(true);
    [x, a, again, b].forEach((t) => t.dispose());
    expect(memory().liveBytes).toBe(before);
    expect(() => new nn.Dropout(1.5)).toThrow("Dropout: dropout probability has to be between 0 and 1, but got 1.5");
  });

  it("errors name the op and the shapes", () => {
    const conv = new nn.Conv2d(3, 2, 3);
    expect(() => tidy(() => conv.forward(ones([1, 2, 5, 5])))).toThrow("conv2d: input has 2 channels but the weight expects 3 (groups = 1), got input float32[1,2,5,5], weight float32[2,3,3,3]");
    expect(() => tidy(() => conv.forward(ones([1, 3, 2, 2])))).toThrow(/conv2d: the 3x3 kernel .* does not fit the 2x2 input/);
    expect(() => new nn.Conv2d(3, 2, 0)).toThrow("Conv2d: kernel_size must be an integer >= 1 or a pair of them, got 0");
    expect(() => new nn.MaxPool2d(2, { padding: 2 })).toThrow("MaxPool2d: padding [2,2] must be at most half the kernel [2,2] (as in PyTorch)");
    conv.dispose();
  });
});
