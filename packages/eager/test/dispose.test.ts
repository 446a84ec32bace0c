import { describe, expect, it } from "vitest";
import { ones, tensor, tidy, type Tensor } from "../src/index.js";

/**
 * A disposed tensor's memory goes back to core's allocator and is handed to the next tensor, so
 * reading it would show someone else's numbers. Every accessor and op on a disposed tensor must
 * throw, naming the tensor by dtype and shape.
 */
describe("use after dispose", () => {
  const uses: [string, (t: Tensor, other: Tensor) => unknown][] = [
    ["data", (t) => t.data],
    ["item", (t) => t.item()],
    ["toArray", (t) => t.toArray()],
    ["detach", (t) => t.detach()],
    ["clone", (t) => t.clone()],
    ["add", (t) => t.add(1)],
    ["add as the second operand", (t, other) => other.add(t)],
    ["sum", (t) => t.sum()],
    ["reshape", (t) => t.reshape(6)],
    ["matmul", (t, other) => other.reshape(3, 2).matmul(t)],
    ["add_", (t) => t.add_(1)],
    ["mul_ by a tensor", (t, other) => t.mul_(other)],
    ["zero_", (t) => t.zero_()],
    ["fill_", (t) => t.fill_(2)],
    ["copy_", (t, other) => t.copy_(other)],
    ["copy_ from it", (t, other) => other.copy_(t)],
  ];
  for (const [name, use] of uses) {
    it(`${name} throws, naming the tensor`, () => {
      tidy(() => {
        const t = tensor([[1, 2, 3], [4, 5, 6]]);
        const other = ones([2, 3]);
        t.dispose();
        expect(() => use(t, other)).toThrow(/was disposed/);
        expect(() => use(t, other)).toThrow(/float32\[2,3\]/);
      });
    });
  }

  it("backward from a disposed tensor throws, naming it", () => {
    tidy(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      const y = x.mul(2).sum();
      y.dispose();
      expect(() => y.backward()).toThrow(/backward: tensor float32\[\] was disposed/);
    });
  });

  it("metadata stays readable and the string form says it was disposed", () => {
    const t = tensor([[1, 2]], { dtype: "float64" });
    t.dispose();
    expect(t.shape).toEqual([1, 2]);
    expect(t.dtype).toBe("float64");
    expect(t.isDisposed).toBe(true);
    expect(String(t)).toBe("Tensor(disposed, float64[1,2])");
  });

  it("a detached tensor keeps the shared memory; only the disposed handle throws", () => {
    tidy(() => {
      const t = tensor([7, 8]);
      const d = t.detach();
      t.dispose();
      expect(() => t.data).toThrow(/data: tensor float32\[2\] was disposed/);
      expect(Array.from(d.data)).toEqual([7, 8]);
    });
  });
});
