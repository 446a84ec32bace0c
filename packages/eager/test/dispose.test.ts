import { describe, expect, it } from "vitest";
import { memory, nn, ones, tensor, tidy, type Tensor } from "../src/index.js";

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

/**
 * Eager allocates every output afresh from core's caching allocator: once a training step has
 * run, later steps are served entirely from pooled blocks (warm memory, no new ArrayBuffer or
 * heap growth), and a block handed to a new tensor never makes a disposed handle readable again.
 */
describe("pooled memory in training steps", () => {
  it("steady-state steps reuse pooled blocks for every allocation and keep the same numbers", () => {
    const w = tensor([[0.5, -0.25, 1], [0.75, 0.1, -0.6]], { requiresGrad: true });
    const x = tensor([[1, 2], [3, 4], [5, 6], [-1, 0.5]]);
    const labels = tensor([0, 2, 1, 2], { dtype: "int32" });
    const step = () =>
      tidy(() => {
        w.grad = null;
        const loss = nn.crossEntropy(x.matmul(w).relu(), labels);
        loss.backward();
        return [loss.item(), Array.from(w.grad!.data)];
      });
    const first = step();
    const before = memory();
    const again = step();
    const after = memory();
    expect(again).toEqual(first);
    const allocations = after.allocations - before.allocations;
    expect(allocations).toBeGreaterThan(0);
    expect(after.reuses - before.reuses).toBe(allocations);
    [w, x, labels].forEach((t) => t.dispose());
  });

  it("a disposed tensor whose block now backs another tensor still throws", () => {
    tidy(() => {
      const a = tensor([1, 2, 3, 4]);
      const buffer = a._storage.value.buffer;
      a.dispose();
      const b = tensor([9, 9, 9, 9]);
      // The allocator handed a's block to b (LIFO pool of the same size class)...
      expect(b._storage.value.data.buffer).toBe(buffer.data.buffer);
      expect(b._storage.value.data.byteOffset).toBe(buffer.data.byteOffset);
      // ...yet a stays dead: its handle and its buffer say so, and nothing reads b's numbers through it.
      expect(buffer.released).toBe(true);
      expect(() => a.data).toThrow(/data: tensor float32\[4\] was disposed/);
      expect(() => a.add(1)).toThrow(/was disposed/);
      expect(Array.from(b.data)).toEqual([9, 9, 9, 9]);
    });
  });
});
