import { describe, expect, it } from "vitest";
import { HEAP_ALIGN, HEAP_BASE, heapAlloc, heapBuffer, heapByteOffset, heapFree, heapStats, wasmMemory } from "../src/kernels/wasm/heap.js";
import { allocator } from "../src/memory.js";

describe.runIf(wasmMemory() !== undefined)("the WebAssembly heap", () => {
  it("hands out aligned blocks above the reserved area and reuses a freed block for the same size", () => {
    const used = heapStats().usedBytes;
    const a = heapAlloc(100);
    const b = heapAlloc(100);
    expect(a).toBeGreaterThanOrEqual(HEAP_BASE);
    expect(a % HEAP_ALIGN).toBe(0);
    expect(Math.abs(b - a)).toBeGreaterThanOrEqual(128); // 100 bytes round to 128
    expect(heapStats().usedBytes - used).toBe(256);
    heapFree(a, 100);
    expect(heapAlloc(128)).toBe(a); // same rounded size: the freed block
    heapFree(a, 128);
    heapFree(b, 100);
    expect(heapStats().usedBytes).toBe(used);
    expect(() => heapFree(12, 4)).toThrow(/not a heap block/);
  });

  it("keeps views of live tensors valid when the memory grows", () => {
    const small = allocator.alloc("float32", 4);
    small.data.set([1, 2, 3, 4]);
    const before = heapBuffer().byteLength;
    const big = allocator.alloc("float32", before / 4 + 1024); // forces a growth
    expect(heapBuffer().byteLength).toBeGreaterThan(before);
    expect(Array.from(small.data)).toEqual([1, 2, 3, 4]); // the old view still reads its memory
    expect(heapByteOffset(small.data)).toBeGreaterThanOrEqual(HEAP_BASE);
    expect(heapByteOffset(big.data)).toBeGreaterThanOrEqual(HEAP_BASE);
    allocator.release(big);
    allocator.release(small);
  });
});
