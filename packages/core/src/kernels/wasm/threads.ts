/**
 * The worker pool that shares big WebAssembly gemms across cores.
 *
 * Workers run the same compiled module against the same shared WebAssembly.Memory as the calling
 * thread (see ./gemm-worker.ts for the protocol). They start lazily, on the first call big enough
 * to share, and never keep the process alive (`unref`). The call stays synchronous: the caller
 * claims chunks like any worker and then blocks in `Atomics.wait` until the workers it let in are
 * done. A worker still booting simply joins a later call; chunks it does not take, the caller
 * runs. Which thread runs a chunk never changes its bits (see ./gemm-wasm.ts).
 */
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { wasmMemory } from "./heap.js";
import { CTL_WORDS, Ctl, GEMM_WORKER_SOURCE, GENERATED_KIND, type GemmWorkerData } from "./gemm-worker.js";
import { gemmRuntime, setChunkRunner, type ChunkKind, type ChunkRunner, type GemmRuntime } from "./gemm-wasm.js";
import { gemvModule } from "./gemv-wasm.js";

/** Index of each job kind's module in the workers' module list. */
const KIND_INDEX: Record<ChunkKind, number> = { gemm: 0, gemv: 1, generated: GENERATED_KIND };

/** Polls of BUSY the caller makes before sleeping while the last workers finish. */
const CALLER_SPIN_POLLS = 20000;

/** A set of workers bound to one runtime's module and memory. */
class Pool {
  readonly ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
  readonly workers: Worker[] = [];
  /** Each worker's port for modules added after it started (the runtime's epilogue variants). */
  private readonly ports: MessagePort[] = [];
  /** Epilogue variants' modules, by module index minus 2 (after the gemm's and the matrix-vector one's). */
  private readonly variants: unknown[] = [];
  /** Set when a worker failed to start or died: the pool is no longer used. */
  broken: Error | undefined;

  constructor(readonly rt: GemmRuntime) {}

  /** Starts workers until there are `count` (ids 1..count). */
  ensure(count: number): void {
    while (this.workers.length < count && !this.broken) {
      const id = this.workers.length + 1;
      // The matrix-vector module exists only on the heap's memory; a private runtime's workers run gemm jobs only.
      const gemv = gemvModule();
      // Index 1 is the matrix-vector module, or (where there is none, and no gemv job is ever
      // shared) the gemm's again, so that variants always start at index 2.
      const modules = [this.rt.module, gemv && this.rt.memory === wasmMemory() ? gemv : this.rt.module, ...this.variants];
      const { port1, port2 } = new MessageChannel();
      const data: GemmWorkerData = { modules, memory: this.rt.memory, ctl: this.ctl.buffer as SharedArrayBuffer, id, port: port2 };
      let worker: Worker;
      try {
        worker = new Worker(GEMM_WORKER_SOURCE, { eval: true, workerData: data, transferList: [port2] });
      } catch (e) {
        this.broken = e instanceof Error ? e : new Error(String(e));
        return;
      }
      worker.unref();
      port1.unref();
      this.ports.push(port1);
      worker.on("error", (e) => {
        this.broken ??= e instanceof Error ? e : new Error(String(e));
      });
      worker.on("exit", (code) => {
        if (Atomics.load(this.ctl, Ctl.SHUTDOWN) === 0) this.broken ??= new Error(`gemm worker ${id} exited with code ${code}`);
      });
      this.workers.push(worker);
    }
  }

  /**
   * The module index workers run `rt`'s chunks with: 0 for the pool's own runtime, else its
   * epilogue variant's, sent to every started worker the first time (workers started later get
   * it in their start-up list). Workers read the port synchronously when a job names a module
   * they lack, so a module posted before the job is there when they need it.
   */
  moduleIndex(rt: GemmRuntime): number {
    if (rt === this.rt) return KIND_INDEX.gemm;
    let k = this.variants.indexOf(rt.module);
    if (k < 0) {
      k = this.variants.push(rt.module) - 1;
      for (const port of this.ports) port.postMessage(rt.module);
    }
    return 2 + k;
  }

  /** Workers that have instantiated the module. */
  ready(): number {
    return Atomics.load(this.ctl, Ctl.READY);
  }

  /** Runs chunks 0..total-1 on this thread (slot 0) and on workers 1..slots-1, then returns. */
  run(total: number, slots: number, run: (chunk: number, slot: number) => void, moduleIndex: number): void {
    const ctl = this.ctl;
    Atomics.store(ctl, Ctl.KIND, moduleIndex);
    Atomics.store(ctl, Ctl.NEXT, 0);
    Atomics.store(ctl, Ctl.TOTAL, total);
    Atomics.store(ctl, Ctl.ACTIVE, slots);
    Atomics.store(ctl, Ctl.OPEN, 1);
    Atomics.add(ctl, Ctl.GEN, 1);
    Atomics.notify(ctl, Ctl.GEN);
    let failure: unknown;
    try {
      for (;;) {
        const chunk = Atomics.add(ctl, Ctl.NEXT, 1);
        if (chunk >= total) break;
        run(chunk, 0);
      }
    } catch (e) {
      failure = e;
      Atomics.store(ctl, Ctl.NEXT, total); // stop the workers claiming more
    }
    // Close the job, then wait for every worker that got in.
    Atomics.store(ctl, Ctl.OPEN, 0);
    for (let i = 0; Atomics.load(ctl, Ctl.BUSY) !== 0; i++) {
      if (i >= CALLER_SPIN_POLLS) {
        const busy = Atomics.load(ctl, Ctl.BUSY);
        if (busy !== 0) Atomics.wait(ctl, Ctl.BUSY, busy, 50);
      }
    }
    if (failure !== undefined) throw failure;
    if (Atomics.load(ctl, Ctl.ERROR) !== 0) {
      this.broken ??= new Error("a gemm worker failed");
      throw new Error("gemm-wasm: a worker thread failed inside a matrix multiply; threads are disabled for the rest of this process", { cause: this.broken });
    }
  }

  /** Asks the workers to exit and terminates them. */
  async shutdown(): Promise<void> {
    Atomics.store(this.ctl, Ctl.SHUTDOWN, 1);
    Atomics.add(this.ctl, Ctl.GEN, 1);
    Atomics.notify(this.ctl, Ctl.GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

let pool: Pool | undefined;
/** Once a pool broke, threads stay off (a failure would likely repeat). */
let disabled: Error | undefined;

function poolFor(rt: GemmRuntime): Pool | undefined {
  if (disabled) return undefined;
  if (pool?.broken) {
    disabled = pool.broken;
    const old = pool;
    pool = undefined;
    void old.shutdown().catch(() => {});
    return undefined;
  }
  if (pool && pool.rt !== rt) {
    void pool.shutdown().catch(() => {});
    pool = undefined;
  }
  pool ??= new Pool(rt);
  return pool;
}

/** The {@link ChunkRunner} installed into gemm-wasm: shares the chunks when workers can be had. */
const runChunks: ChunkRunner = (rt, total, slots, run, kind) => {
  // An epilogue variant runs on its base runtime's pool.
  const home = rt.base ?? rt;
  const p = home.config.shared && (kind === "gemm" || home.memory === wasmMemory()) ? poolFor(home) : undefined;
  if (!p) {
    for (let t = 0; t < total; t++) run(t, 0);
    return;
  }
  p.ensure(slots - 1);
  p.run(total, slots, run, kind === "gemm" ? p.moduleIndex(rt) : KIND_INDEX.gemv);
};

setChunkRunner(runChunks);

/**
 * Runs chunks 0..total-1 of a module generated at run time (./generated.ts) with `run(chunk, slot)`
 * on this thread, sharing them with up to `slots - 1` workers of the heap runtime's pool, which
 * compile the module from its `len` bytes at heap address `at` (kept there for good) and call its
 * exported `runChunk(chunk, slot)`. On this thread alone when threads are unavailable.
 */
export function runGeneratedChunks(at: number, len: number, total: number, slots: number, run: (chunk: number, slot: number) => void): void {
  const rt = gemmRuntime();
  const p = slots > 1 && rt.config.shared && rt.memory === wasmMemory() ? poolFor(rt) : undefined;
  if (!p) {
    for (let t = 0; t < total; t++) run(t, 0);
    return;
  }
  Atomics.store(p.ctl, Ctl.MODULE_AT, at);
  Atomics.store(p.ctl, Ctl.MODULE_LEN, len);
  p.ensure(slots - 1);
  p.run(total, slots, run, GENERATED_KIND);
}

/**
 * Starts `count` workers for `rt` now (instead of on the first big call) and resolves once they
 * are ready to take chunks; resolves at once if threads are unavailable. For benchmarks and tests.
 */
export async function warmUpWorkers(rt: GemmRuntime, count: number): Promise<void> {
  if (count <= 0 || !rt.config.shared) return;
  const p = poolFor(rt);
  if (!p) return;
  p.ensure(count);
  const deadline = Date.now() + 10_000;
  while (p.ready() < Math.min(count, p.workers.length) && !p.broken) {
    if (Date.now() > deadline) throw new Error("gemm-wasm: worker threads did not start within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  if (p.broken) throw p.broken;
}

/** Stops all gemm worker threads; the next big call starts fresh ones. */
export async function shutdownWorkers(): Promise<void> {
  const p = pool;
  pool = undefined;
  if (p) await p.shutdown();
}

/** Statistics for tests: workers started and ready, and chunks they have run in all. */
export function workerStats(): { started: number; ready: number; workerChunks: number; disabled: boolean } {
  return {
    started: pool?.workers.length ?? 0,
    ready: pool?.ready() ?? 0,
    workerChunks: pool ? Atomics.load(pool.ctl, Ctl.WORKER_CHUNKS) : 0,
    disabled: disabled !== undefined,
  };
}
