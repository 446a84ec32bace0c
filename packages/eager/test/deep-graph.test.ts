import { describe, expect, it } from "vitest";
import { PhiloxGenerator, memory, nn, optim, tensor, tidy, type Tensor } from "../src/index.js";

/**
 * Autograd graphs as deep as a long unrolled loop or a 3,000-layer model: releasing them and
 * backpropagating through them must use work stacks, not recursion proportional to depth (a
 * recursive release threw `RangeError: Maximum call stack size exceeded` at ~10k ops and leaked
 * the rest of the graph).
 */
const DEPTH = 100_000;

/** `DEPTH` ops `y = y * c` from `x`, each intermediate handle disposed as soon as it is consumed. */
function mulChain(x: Tensor, c: number): Tensor {
  const factor = tensor(c, { dtype: x.dtype }); // one tensor, not a scalar per op: half the allocations
  let y = x;
  for (let i = 0; i < DEPTH; i++) {
    const next = y.mul(factor);
    if (y !== x) y.dispose();
    y = next;
  }
  factor.dispose(); // the tape holds it until the chain goes
  return y;
}

describe("deep autograd graphs", () => {
  it("a 100k-op chain dropped without backward frees everything", () => {
    const before = memory().liveBytes;
    const x = tensor([1, 2], { requiresGrad: true });
    const y = mulChain(x, 1);
    // The whole chain's saved tensors are still held by the tape until the last handle goes.
    expect(memory().liveBytes).toBeGreaterThan(before + DEPTH * 8);
    expect(() => y.dispose()).not.toThrow();
    x.dispose();
    expect(memory().liveBytes).toBe(before);
  });

  it("a 100k-op chain freed by the end of tidy (handles dropped oldest first)", () => {
    const before = memory().liveBytes;
    const x = tensor([3], { requiresGrad: true });
    const out = tidy(() => {
      const zero = tensor(0);
      let y = x;
      for (let i = 0; i < DEPTH; i++) y = y.add(zero);
      return y.item();
    });
    expect(out).toBe(3);
    x.dispose();
    expect(memory().liveBytes).toBe(before);
  });

  it("backward through a 100k-op chain gives the exact gradient and frees the tape", () => {
    const before = memory().liveBytes;
    const c = 1.00001;
    const x = tensor([1, -2], { dtype: "float64", requiresGrad: true });
    const y = mulChain(x, c);
    const loss = y.sum();
    loss.backward();
    // d/dx of x * c^n, with the chain rule applied one factor at a time as backward does.
    let expected = 1;
    for (let i = 0; i < DEPTH; i++) expected *= c;
    expect(Array.from(x.grad!.data)).toEqual([expected, expected]);
    loss.dispose();
    y.dispose();
    x.dispose();
    expect(memory().liveBytes).toBe(before);
  });

  it("a 30k-deep chain whose every step uses its input twice (shared producers) backprops and frees", () => {
    const before = memory().liveBytes;
    const x = tensor([5], { dtype: "float64", requiresGrad: true });
    let y = x;
    for (let i = 0; i < 30_000; i++) {
      const twice = y.add(y);
      if (y !== x) y.dispose();
      y = twice.mul(0.5);
      twice.dispose();
    }
    y.backward(undefined, { retainGraph: true });
    expect(x.grad!.item()).toBe(1);
    // The retained graph is dropped without a second backward.
    y.dispose();
    x.dispose();
    expect(memory().liveBytes).toBe(before);
  });
});

describe("deep models", () => {
  it("a 3,000-layer Sequential (Linear + Tanh) trains a step and frees everything it made", () => {
    const before = memory().liveBytes;
    const gen = new PhiloxGenerator(3);
    const model = new nn.Sequential(...Array.from({ length: 3000 }, () => [new nn.Linear(4, 4, { generator: gen }), new nn.Tanh()]).flat());
    const opt = new optim.SGD(model.parameters(), { lr: 0.01 });
    const x = tensor([[1, 2, 3, 4]]);
    const loss = tidy(() => {
      const l = model.forward(x).square().mean();
      l.backward();
      opt.step();
      return l.item();
    });
    expect(Number.isFinite(loss)).toBe(true);
    for (const p of model.parameters()) expect(p.grad).not.toBeNull();
    opt.dispose();
    model.dispose();
    x.dispose();
    expect(memory().liveBytes).toBe(before);
  });
});
