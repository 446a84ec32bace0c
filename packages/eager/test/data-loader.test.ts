import { PhiloxGenerator, randperm } from "@dualgrad/core";
import { arange, memory, tensor, tidy, utils, type Tensor } from "@dualgrad/eager";
import { describe, expect, it } from "vitest";

const { DataLoader, TensorDataset } = utils.data;
const rows = (t: Tensor) => t.toArray() as number[][];

/** x [n, 2] with row i = [i, 10 i], y [n] int32 = i. */
function data(n: number): { x: Tensor; y: Tensor } {
  const x = tensor(Array.from({ length: n }, (_, i) => [i, 10 * i]));
  const y = arange(n, undefined, 1, { dtype: "int32" });
  return { x, y };
}

describe("utils.data.TensorDataset", () => {
  it("indexes tensors together and checks their first dimensions", () => {
    const { x, y } = data(5);
    const ds = new TensorDataset(x, y);
    expect(ds.length).toBe(5);
    const [xi, yi] = ds.get(3);
    expect([xi.toArray(), yi.toArray(), xi.shape, yi.shape]).toEqual([[3, 30], 3, [2], []]);
    xi.dispose();
    yi.dispose();
    const z = tensor([1, 2, 3]);
    expect(() => new TensorDataset(x, z)).toThrow(/TensorDataset: size mismatch between tensors: tensor 0 has 5 rows \[5,2\], tensor 1 has 3 \[3\]/);
    expect(() => ds.get(5)).toThrow(/index 5 is out of range for a dataset of 5 rows/);
    for (const t of [x, y, z]) t.dispose();
  });
});

describe("utils.data.DataLoader", () => {
  it("batches in dataset order without shuffle; the last batch is partial unless dropLast; length is len(loader)", () => {
    const { x, y } = data(5);
    const ds = new TensorDataset(x, y);
    const seen: unknown[] = [];
    const loader = new DataLoader(ds, { batchSize: 2 });
    expect(loader.length).toBe(3);
    for (const [xb, yb] of loader) seen.push([rows(xb), yb.toArray(), yb.dtype]);
    expect(seen).toEqual([
      [[[0, 0], [1, 10]], [0, 1], "int32"],
      [[[2, 20], [3, 30]], [2, 3], "int32"],
      [[[4, 40]], [4], "int32"],
    ]);
    const dropped = new DataLoader(ds, { batchSize: 2, dropLast: true });
    expect(dropped.length).toBe(2);
    expect([...dropped].length).toBe(2);
    x.dispose();
    y.dispose();
  });

  it("shuffles with the generator: a new permutation each epoch, the same sequence for the same seed", () => {
    const { x, y } = data(10);
    const ds = new TensorDataset(x, y);
    const epochs = (seed: number) => {
      const loader = new DataLoader(ds, { batchSize: 4, shuffle: true, generator: new PhiloxGenerator(seed) });
      return Array.from({ length: 3 }, () => Array.from(loader, ([, yb]) => yb.toArray() as number[]).flat());
    };
    const a = epochs(7);
    expect(a).toEqual(epochs(7));
    const g = new PhiloxGenerator(7);
    expect(a).toEqual(Array.from({ length: 3 }, () => Array.from(randperm(10, g))));
    for (const order of a) expect([...order].sort((p, q) => p - q)).toEqual([...Array(10).keys()]);
    expect(new Set(a.map((o) => o.join())).size).toBe(3);
    // Rows stay together: x row i is [i, 10 i] whatever the order.
    for (const [xb, yb] of new DataLoader(ds, { batchSize: 3, shuffle: true, generator: new PhiloxGenerator(1) })) {
      expect(rows(xb)).toEqual((yb.toArray() as number[]).map((i) => [i, 10 * i]));
    }
    x.dispose();
    y.dispose();
  });

  it("frees each batch as the loop advances, breaks or ends: one batch live at a time, nothing left after", () => {
    const { x, y } = data(64);
    const base = memory().liveBytes;
    const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 8, shuffle: true, generator: new PhiloxGenerator(0) });
    const batchBytes = 8 * 2 * 4 + 8 * 4;
    let kept: Tensor | null = null;
    for (const [xb] of loader) {
      expect(memory().liveBytes - base).toBe(batchBytes);
      kept = xb;
    }
    expect(kept?.isDisposed).toBe(true);
    expect(memory().liveBytes).toBe(base);
    for (const [xb] of loader) {
      expect(xb.shape).toEqual([8, 2]);
      break;
    }
    expect(memory().liveBytes).toBe(base);
    // Inside tidy, a loop and the work on each batch are freed by the scope as well.
    tidy(() => {
      for (const [xb, yb] of loader) xb.sum().add(yb.sum());
    });
    expect(memory().liveBytes).toBe(base);
    // disposeBatches: false hands the batches to the caller.
    const owned = [...new DataLoader(new TensorDataset(x, y), { batchSize: 32, disposeBatches: false })];
    expect(owned.every((b) => b.every((t) => !t.isDisposed))).toBe(true);
    for (const b of owned) for (const t of b) t.dispose();
    expect(memory().liveBytes).toBe(base);
    x.dispose();
    y.dispose();
  });

  it("stacks a custom dataset's items, freeing the tensors get() creates but not the ones the dataset keeps", () => {
    const kept = [tensor([1, 2]), tensor([3, 4]), tensor([5, 6])];
    const base = memory().liveBytes;
    const ds = {
      length: 3,
      get: (i: number): [Tensor, Tensor] => [kept[i], tensor([i * i], { dtype: "int32" })],
    };
    const out = Array.from(new DataLoader(ds, { batchSize: 2, disposeBatches: false }), ([a, b]) => {
      const r = [rows(a), rows(b)];
      a.dispose();
      b.dispose();
      return r;
    });
    expect(out).toEqual([[[[1, 2], [3, 4]], [[0], [1]]], [[[5, 6]], [[4]]]]);
    expect(memory().liveBytes).toBe(base);
    expect(kept.every((t) => !t.isDisposed)).toBe(true);
    const ragged = { length: 2, get: (i: number) => [i === 0 ? kept[0] : tensor([1, 2, 3])] };
    expect(() => [...new DataLoader(ragged, { batchSize: 2 })]).toThrow(/items of a batch must have equal shapes and dtypes, but item 1 is float32\[3\] and item 0 is float32\[2\]/);
    expect(memory().liveBytes).toBe(base);
    for (const t of kept) t.dispose();
  });

  it("rejects bad options with one line naming the option", () => {
    const { x, y } = data(2);
    const ds = new TensorDataset(x, y);
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow("DataLoader: batchSize must be a positive integer, got 0");
    expect(() => new DataLoader(ds, { generator: 3 as unknown as PhiloxGenerator })).toThrow(/generator must be a PhiloxGenerator/);
    expect(() => new DataLoader({} as never)).toThrow(/dataset must have a non-negative integer length and a get\(index\) method/);
    x.dispose();
    y.dispose();
  });
});
