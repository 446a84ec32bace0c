import { arrayConstructor, bytesPerElement, type DType, type TypedArray, type TypedArrayOf } from "./dtype.js";
import { DualgradError } from "./errors.js";
import { heapAlloc, heapBuffer, heapFree } from "./kernels/wasm/heap.js";

/**
 * A block of tensor memory handed out by the {@link Allocator}. `data` may be a view on a
 * larger pooled block; only its first `size` elements belong to this buffer.
 */
export interface DataBuffer<D extends DType = DType> {
  /** Unique per allocation (a reused block gets a new id). */
  readonly id: number;
  readonly dtype: D;
  /** Number of elements. */
  readonly size: number;
  /** The elements; exactly `size` long. */
  readonly data: TypedArrayOf[D];
  /** Set by {@link Allocator.release}; a released buffer must not be read again. */
  readonly released: boolean;
}

/** A snapshot of the allocator's counters: the one instrument both frontends are measured with. */
export interface MemoryStats {
  /** Bytes of tensor data currently allocated (requested sizes, like `torch.cuda.memory_allocated`). */
  liveBytes: number;
  /** Highest `liveBytes` since the last reset. */
  peakBytes: number;
  /** Buffers currently allocated. */
  liveBuffers: number;
  /** Allocations since the last reset (fresh or reused). */
  allocations: number;
  /** Of those, how many were served from the pool rather than by a new ArrayBuffer. */
  reuses: number;
  /** Releases since the last reset. */
  releases: number;
  /** Kernels run since the last reset (one per op executed, one per fused kernel). */
  kernelLaunches: number;
  /** Bytes held from the system: live blocks at their size class plus pooled free blocks (like `memory_reserved`). */
  reservedBytes: number;
  /** Bytes of free blocks kept in the pool for reuse. */
  pooledBytes: number;
}

/**
 * A pooled block of memory, with the last typed-array view made on it (reused when the next
 * request matches). Blocks live in the WebAssembly heap (./kernels/wasm/heap.ts) where there is
 * one, so wasm kernels use tensors in place; `heapAt` is then the block's byte address, and
 * `buffer` the heap's SharedArrayBuffer as it was when the block was made. Otherwise the block
 * is its own ArrayBuffer and `heapAt` is -1.
 */
interface Block {
  owner: Allocator;
  buffer: ArrayBufferLike;
  heapAt: number;
  classBytes: number;
  view: TypedArray | null;
}

/** Where a live buffer was allocated (kept only while allocation tracking is on). */
export interface AllocationSite {
  readonly id: number;
  readonly dtype: DType;
  readonly size: number;
  /** The stack at allocation, frames inside the allocator included. */
  readonly stack: string;
}

/** True when the environment asks for allocation sites from the start (`DUALGRAD_TRACK_ALLOCATIONS=1`). */
function trackingFromEnv(): boolean {
  return typeof process !== "undefined" && process.env?.DUALGRAD_TRACK_ALLOCATIONS === "1";
}

/** The allocator's private bookkeeping on each buffer it hands out. */
const BLOCK = Symbol("dualgrad.block");

/**
 * What {@link Allocator.alloc} hands out: one class, so every buffer has the same shape for the
 * engine (an object literal with a computed symbol key is built on a slower path, once per op).
 */
class PooledBuffer<D extends DType> implements DataBuffer<D> {
  released = false;
  readonly [BLOCK]: Block;
  constructor(
    readonly id: number,
    readonly dtype: D,
    readonly size: number,
    readonly data: TypedArrayOf[D],
    block: Block,
  ) {
    this[BLOCK] = block;
  }
}

/** Smallest block handed out; tiny tensors share this class so scalars recycle well. */
const MIN_CLASS_BYTES = 64;

/**
 * Rounds a byte count up to its size class: powers of two split into four steps
 * (1, 1.25, 1.5, 1.75 x 2^k), so at most 25% is wasted and blocks recycle across similar sizes.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS_BYTES) return MIN_CLASS_BYTES;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const step = pow / 4;
  return Math.ceil(bytes / step) * step;
}

/**
 * Hands out and takes back every tensor buffer, pooling freed blocks by size class and
 * counting live bytes, peak bytes, allocations, reuses and kernel launches.
 * Frontends release deterministically; buffers whose handles are dropped undisposed come back
 * through the garbage-collection backstop (./backstop.ts), which calls {@link Allocator.release} too.
 */
export class Allocator {
  private nextId = 1;
  private live = 0;
  private peak = 0;
  private liveCount = 0;
  private allocs = 0;
  private reused = 0;
  private frees = 0;
  private launches = 0;
  private reservedLive = 0;
  private pooled = 0;
  private readonly pool = new Map<number, Block[]>();
  /** Live buffers' allocation sites by id, or null when not tracking (the default: a stack per allocation is slow). */
  private sites: Map<number, AllocationSite> | null = trackingFromEnv() ? new Map() : null;

  /**
   * @param maxPooledBytes free blocks beyond this many bytes are dropped rather than pooled,
   *   so a burst of large temporaries does not pin memory forever.
   */
  constructor(readonly maxPooledBytes = 512 * 1024 * 1024) {}

  /** A buffer of `size` elements. Contents are unspecified unless `zeroed`. */
  alloc<D extends DType>(dtype: D, size: number, zeroed = false): DataBuffer<D> {
    if (!Number.isInteger(size) || size < 0) {
      throw new DualgradError(`alloc: size must be a non-negative integer, got ${size}`);
    }
    const bytes = size * bytesPerElement(dtype);
    const classBytes = sizeClass(bytes);
    const free = this.pool.get(classBytes);
    let block: Block;
    if (free && free.length > 0) {
      block = free.pop()!;
      this.pooled -= classBytes;
      this.reused++;
    } else {
      block = newBlock(this, classBytes);
    }
    // Reusing the previous view when dtype and length match saves an object per allocation,
    // which matters for the many tiny tensors of small models.
    const ctor = arrayConstructor(dtype);
    const prev = block.view;
    const data = (prev !== null && prev.length === size && prev.constructor === ctor ? prev : new ctor(block.buffer as ArrayBuffer, Math.max(0, block.heapAt), size)) as TypedArrayOf[D];
    block.view = data;
    if (zeroed) data.fill(0);
    const buf = new PooledBuffer(this.nextId++, dtype, size, data, block);
    this.allocs++;
    this.liveCount++;
    this.live += bytes;
    this.reservedLive += classBytes;
    if (this.live > this.peak) this.peak = this.live;
    if (this.sites) this.sites.set(buf.id, { id: buf.id, dtype, size, stack: new Error("allocated").stack ?? "" });
    return buf;
  }

  /** A buffer holding a copy of `values` (converted to `dtype`). */
  allocFrom<D extends DType>(dtype: D, values: ArrayLike<number>): DataBuffer<D> {
    const buf = this.alloc(dtype, values.length);
    buf.data.set(values);
    return buf;
  }

  /** Returns a buffer's block to the pool. Releasing twice is a bug and throws. */
  release(buf: DataBuffer): void {
    const block = (buf as DataBuffer & { [BLOCK]?: Block })[BLOCK];
    if (!block || block.owner !== this || buf.released) {
      throw new DualgradError(`release: buffer #${buf.id} was already released or is not from this allocator`);
    }
    (buf as { released: boolean }).released = true;
    this.sites?.delete(buf.id);
    this.liveCount--;
    this.frees++;
    this.live -= buf.size * bytesPerElement(buf.dtype);
    this.reservedLive -= block.classBytes;
    if (this.pooled + block.classBytes <= this.maxPooledBytes) {
      let list = this.pool.get(block.classBytes);
      if (!list) this.pool.set(block.classBytes, (list = []));
      list.push(block);
      this.pooled += block.classBytes;
    } else {
      dropBlock(block);
    }
  }

  /** True if `buf` is currently allocated by this allocator. */
  owns(buf: DataBuffer): boolean {
    return !buf.released && (buf as DataBuffer & { [BLOCK]?: Block })[BLOCK]?.owner === this;
  }

  /** Counts `n` kernel launches (executors call this once per kernel they run). */
  countLaunch(n = 1): void {
    this.launches += n;
  }

  /**
   * Turns recording of allocation sites on or off (on from the start with
   * `DUALGRAD_TRACK_ALLOCATIONS=1`). Only buffers allocated while it is on have a site.
   */
  trackAllocations(on: boolean): void {
    if (!on) this.sites = null;
    else this.sites ??= new Map();
  }

  /**
   * The creation sites of the buffers still alive that were allocated while tracking was on,
   * oldest first: where to look for tensors that are never disposed. Empty when not tracking.
   */
  liveAllocations(): AllocationSite[] {
    return this.sites ? [...this.sites.values()] : [];
  }

  /** A copy of the counters. */
  stats(): MemoryStats {
    return {
      liveBytes: this.live,
      peakBytes: this.peak,
      liveBuffers: this.liveCount,
      allocations: this.allocs,
      reuses: this.reused,
      releases: this.frees,
      kernelLaunches: this.launches,
      reservedBytes: this.reservedLive + this.pooled,
      pooledBytes: this.pooled,
    };
  }

  /**
   * Starts a new measurement window: peak := live, and the allocation, reuse, release and
   * launch counters go to zero. Live bytes are facts, not counters, and are kept.
   */
  resetCounters(): void {
    this.peak = this.live;
    this.allocs = 0;
    this.reused = 0;
    this.frees = 0;
    this.launches = 0;
  }

  /** Drops every pooled free block (live buffers are untouched). */
  trim(): void {
    for (const list of this.pool.values()) for (const block of list) dropBlock(block);
    this.pool.clear();
    this.pooled = 0;
  }
}

/** A fresh block: in the WebAssembly heap when there is one with room, else its own ArrayBuffer. */
function newBlock(owner: Allocator, classBytes: number): Block {
  const at = heapAlloc(classBytes);
  if (at >= 0) return { owner, buffer: heapBuffer(), heapAt: at, classBytes, view: null };
  return { owner, buffer: new ArrayBuffer(classBytes), heapAt: -1, classBytes, view: null };
}

/** Returns a block the pool does not keep to where it came from (an ArrayBuffer is left to the GC). */
function dropBlock(block: Block): void {
  if (block.heapAt >= 0) heapFree(block.heapAt, block.classBytes);
  block.view = null;
}

/** The process-wide allocator every frontend allocates through. */
export const allocator = new Allocator();

/** Counters accumulated between two snapshots (`after - before`), with peak taken from `after`. */
export function statsDelta(before: MemoryStats, after: MemoryStats): MemoryStats {
  return {
    liveBytes: after.liveBytes - before.liveBytes,
    peakBytes: after.peakBytes,
    liveBuffers: after.liveBuffers - before.liveBuffers,
    allocations: after.allocations - before.allocations,
    reuses: after.reuses - before.reuses,
    releases: after.releases - before.releases,
    kernelLaunches: after.kernelLaunches - before.kernelLaunches,
    reservedBytes: after.reservedBytes,
    pooledBytes: after.pooledBytes,
  };
}
