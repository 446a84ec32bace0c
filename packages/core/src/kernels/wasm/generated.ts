/**
 * Kernels generated per shape: the sizes become constants in the code (loops unroll, offsets fold
 * into memory immediates), so each shape gets a module of its own, compiled on first use against
 * the heap's memory and cached. A training loop uses a handful of shapes; the cache is never trimmed.
 *
 * A kernel that shares its work with the worker threads ({@link runChunked}) exports
 * `runChunk(chunk, slot)` and reads its call's arguments from a parameter block whose heap
 * address is baked into its code; its binary is kept in the heap, where the workers compile it
 * from (./threads.ts). Chunks split the outputs, each computed whole by one thread, so the thread
 * count never changes a bit.
 */
import { getThreads } from "../backend.js";
import { ModuleBuilder, ValType, wasmApi, type FunctionBuilder, type Local } from "./emitter.js";
import { MAX_PAGES, heapAlloc, heapBuffer, wasmMemory } from "./heap.js";
import { runGeneratedChunks } from "./threads.js";

/** A generated kernel that can share its chunks with the worker threads. */
export interface ChunkedKernel {
  /** Its exports (`runChunk(chunk, slot)` among them). */
  readonly exports: Record<string, unknown>;
  /** The parameter block `runChunk` reads its arguments from (i32 words). */
  readonly params: Int32Array;
  /** Heap address and length of the module's binary (what the workers compile). */
  readonly bytesAt: number;
  readonly bytesLen: number;
}

/** i32 words in a {@link ChunkedKernel}'s parameter block. */
export const PARAM_WORDS = 16;

const chunked = new Map<string, ChunkedKernel | null>();

/**
 * The kernel `build(paramsAt)` makes for `key` (which must determine its bytes, given the block
 * address), built once: a parameter block and the binary are given heap blocks for good. Null
 * when the heap cannot hold them.
 */
export function chunkedKernel(key: string, build: (mb: ModuleBuilder, paramsAt: number) => void): ChunkedKernel | null {
  const known = chunked.get(key);
  if (known !== undefined) return known;
  const api = wasmApi()!;
  const memory = wasmMemory()!;
  const paramsAt = heapAlloc(PARAM_WORDS * 4);
  let kernel: ChunkedKernel | null = null;
  if (paramsAt >= 0) {
    const mb = new ModuleBuilder();
    mb.importMemory("env", "memory", { initial: 1, maximum: MAX_PAGES, shared: true });
    build(mb, paramsAt);
    const bytes = mb.toBytes();
    const bytesAt = heapAlloc(bytes.length);
    if (bytesAt >= 0) {
      new Uint8Array(heapBuffer(), bytesAt, bytes.length).set(bytes);
      const exports = new api.Instance(new api.Module(bytes), { env: { memory } }).exports as Record<string, unknown>;
      kernel = { exports, params: new Int32Array(heapBuffer(), paramsAt, PARAM_WORDS), bytesAt, bytesLen: bytes.length };
    }
  }
  chunked.set(key, kernel);
  return kernel;
}

/**
 * Adds `runChunk(chunk, slot)` to a module: it reads the parameter block at `paramsAt` as
 * [a0, a1, a2, limit, per, extra...] and calls function `target(a0, a1, a2, lo, hi, extra...)`
 * with lo = chunk * per and hi = min(limit, lo + per); `extra` words are passed on.
 */
export function addChunkEntry(mb: ModuleBuilder, paramsAt: number, target: number, extra: number): void {
  mb.func([ValType.i32, ValType.i32], [], (f) => {
    const chunk = f.param(0), lo = f.local(ValType.i32), hi = f.local(ValType.i32);
    const word = (i: number) => f.i32(0).mem("i32.load", paramsAt + i * 4);
    f.get(chunk);
    word(4);
    f.op("i32.mul").set(lo);
    f.get(lo);
    word(4);
    f.op("i32.add").set(hi);
    // hi = min(hi, limit)
    f.get(hi);
    word(3);
    f.get(hi);
    word(3);
    f.op("i32.lt_u").op("select").set(hi);
    for (let i = 0; i < 3; i++) word(i);
    f.get(lo).get(hi);
    for (let i = 0; i < extra; i++) word(5 + i);
    f.call(target);
  }, "runChunk");
}

/** Multiply-adds from which a kernel's chunks are shared with the workers (as the gemm's 2^20). */
const PARALLEL_WORK = 1 << 20;

/** Chunks a call is cut into, for the threads to share (chunking never changes a result). */
const CHUNKS = 16;

/**
 * Runs `k` on items 0..limit-1 (images, planes, output channels: whatever its `runChunk` splits)
 * cut into chunks, with arguments [a0, a1, a2, limit, per-chunk, extra...] in its parameter
 * block; on the threads `setThreads` allows when `work` (multiply-adds) is large enough, else on
 * this thread.
 */
export function runChunked(k: ChunkedKernel, args: [number, number, number], limit: number, extra: number[], work: number): void {
  const per = Math.ceil(limit / Math.max(1, Math.min(limit, CHUNKS)));
  const total = Math.ceil(limit / per);
  k.params.set([...args, limit, per, ...extra]);
  const slots = work >= PARALLEL_WORK ? Math.min(getThreads(), total) : 1;
  runGeneratedChunks(k.bytesAt, k.bytesLen, total, slots, k.exports.runChunk as (chunk: number, slot: number) => void);
}

/** Emits `for (i = from; i < to; i++) body()` over i32 locals (unsigned compare; no trips when from >= to). */
export function upTo(f: FunctionBuilder, i: Local, from: Local, to: Local, body: () => void): void {
  f.get(from).set(i);
  f.block(() =>
    f.loop(() => {
      f.get(i).get(to).op("i32.ge_u").brIf(1);
      body();
      f.get(i).i32(1).op("i32.add").set(i);
      f.br(0);
    }),
  );
}

/** Emits `vector(4)` at byte offsets v = 0, 16, ... for the whole vectors of a row of `OW` columns, then `vector(OW % 4)` for a partial one. */
export function acrossRow(f: FunctionBuilder, v: Local, OW: number, vector: (lanes: number) => void): void {
  f.i32(0).set(v);
  const full = Math.floor(OW / 4);
  if (full > 0) {
    f.loop(() => {
      vector(4);
      f.get(v).i32(16).op("i32.add").tee(v).i32(full * 16).op("i32.lt_u").brIf(0);
    });
  }
  if (OW % 4 !== 0) vector(OW % 4);
}
