/**
 * The WebAssembly heap: one shared WebAssembly.Memory that every wasm kernel runs in and that
 * the allocator carves tensor buffers from, so kernels read and write tensors in place instead
 * of copying them in and out (zero-copy).
 *
 * Why shared: growing a non-shared memory detaches its ArrayBuffer, which would invalidate every
 * typed-array view of every live tensor. A shared memory's old SharedArrayBuffer stays valid
 * when the memory grows (it just keeps its old length), so views made before a growth keep
 * working. Without shared memory (an engine with no SharedArrayBuffer) there is no heap:
 * {@link heapAlloc} returns -1 and tensors live in ordinary ArrayBuffers, which kernels copy.
 *
 * Layout: bytes 0..{@link HEAP_BASE}-1 are reserved for kernels' parameter blocks; blocks are
 * handed out above that, {@link HEAP_ALIGN}-byte aligned, by a bump pointer. Freed blocks go to a
 * free list keyed by exact size and are reused by the next request of that size. Callers (the
 * allocator) already round requests to size classes, so exact-size reuse works well; the heap
 * never shrinks, like every WebAssembly memory.
 */
import { PAGE_BYTES, wasmApi, type WasmMemory } from "./emitter.js";

/** Largest memory in pages: 2 GiB - 64 KiB, so every byte address and end pointer is a positive i32. */
export const MAX_PAGES = 32767;

/** Bytes at the bottom of the memory that are never handed out (kernels' parameter blocks live there). */
export const HEAP_BASE = 4096;

/** Alignment of every block: a cache line, so SIMD loads of a block never straddle one needlessly. */
export const HEAP_ALIGN = 64;

/** Pages the memory starts with (1 MiB). */
const INITIAL_PAGES = 16;

let memory: WasmMemory | undefined;
let unavailable = false;
/** Every SharedArrayBuffer this memory has shown (one per size it has had), to recognise views on it. */
const buffers = new WeakSet<ArrayBufferLike>();
let top = HEAP_BASE;
const freeBySize = new Map<number, number[]>();
let heapBytes = 0;

/**
 * The one shared memory every wasm kernel imports as `env.memory`, created on first use; undefined
 * when the engine has no WebAssembly or cannot share memory (then there is no zero-copy heap).
 */
export function wasmMemory(): WasmMemory | undefined {
  if (memory || unavailable) return memory;
  const api = wasmApi();
  try {
    if (!api || typeof SharedArrayBuffer !== "function") throw new Error("no shared memory");
    const m = new api.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared: true });
    if (!(m.buffer instanceof SharedArrayBuffer)) throw new Error("memory is not shared");
    memory = m;
    buffers.add(m.buffer);
  } catch {
    unavailable = true;
  }
  return memory;
}

/** The memory's current buffer (remembered, so views on it are recognised by {@link heapByteOffset}). */
export function heapBuffer(): ArrayBufferLike {
  const m = wasmMemory();
  if (!m) throw new Error("heap: no shared WebAssembly memory on this engine");
  const b = m.buffer;
  buffers.add(b); // a no-op unless the memory grew since the last call
  return b;
}

/**
 * Byte address in the wasm memory of `view`'s first element, or -1 when `view` is not a view on
 * the heap (an ordinary ArrayBuffer, or no heap at all).
 */
export function heapByteOffset(view: ArrayBufferView): number {
  return buffers.has(view.buffer) ? view.byteOffset : -1;
}

/** Grows the memory so that bytes `0..end-1` exist; false when past {@link MAX_PAGES} or the engine refuses. */
export function ensureHeapBytes(end: number): boolean {
  const m = wasmMemory();
  if (!m) return false;
  const have = m.buffer.byteLength;
  if (end <= have) return true;
  const pages = Math.ceil((end - have) / PAGE_BYTES);
  if (have / PAGE_BYTES + pages > MAX_PAGES) return false;
  try {
    m.grow(pages);
  } catch {
    return false; // the engine could not reserve more: callers fall back to ordinary memory
  }
  buffers.add(m.buffer);
  return true;
}

/**
 * A block of `bytes` bytes in the wasm memory (its byte address, a multiple of {@link HEAP_ALIGN}),
 * or -1 when there is no heap or it cannot grow that far. Contents are unspecified.
 */
export function heapAlloc(bytes: number): number {
  if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`heapAlloc: bytes must be a non-negative integer, got ${bytes}`);
  if (!wasmMemory()) return -1;
  const size = Math.max(HEAP_ALIGN, Math.ceil(bytes / HEAP_ALIGN) * HEAP_ALIGN);
  const list = freeBySize.get(size);
  if (list && list.length > 0) {
    heapBytes += size;
    return list.pop()!;
  }
  const at = top;
  if (!ensureHeapBytes(at + size)) return -1;
  top = at + size;
  heapBytes += size;
  return at;
}

/** Gives back a block from {@link heapAlloc} (`bytes` as requested then); it is reused by a later request of the same size. */
export function heapFree(at: number, bytes: number): void {
  const size = Math.max(HEAP_ALIGN, Math.ceil(bytes / HEAP_ALIGN) * HEAP_ALIGN);
  if (at < HEAP_BASE || at + size > top || at % HEAP_ALIGN !== 0) throw new RangeError(`heapFree: ${at} (+${bytes}) is not a heap block`);
  let list = freeBySize.get(size);
  if (!list) freeBySize.set(size, (list = []));
  list.push(at);
  heapBytes -= size;
}

/** Heap usage: bytes in blocks handed out now, and bytes the heap has ever claimed from the memory. */
export function heapStats(): { usedBytes: number; claimedBytes: number } {
  return { usedBytes: heapBytes, claimedBytes: top - HEAP_BASE };
}
