/**
 * The gemm worker thread's program, as JavaScript source text run with
 * `new Worker(source, { eval: true })`: a string rather than a file, so the same code starts from
 * the built `dist/*.js` and from the TypeScript sources under vitest, with nothing to resolve.
 *
 * Protocol (all through an Int32Array over a SharedArrayBuffer, see {@link Ctl}): the caller
 * writes the job into WebAssembly memory, resets NEXT, sets TOTAL and ACTIVE, stores OPEN = 1 and
 * bumps GEN (waking the workers), then claims chunks itself. A woken worker registers in BUSY,
 * and only if OPEN is still 1 (checked after registering) claims chunks with an atomic add on NEXT
 * and runs each with the `runChunk(chunk, slot)` of the module KIND names (modules added after the
 * worker started, a gemm's epilogue variants, are posted to its port before the first job naming them). The caller, out of chunks,
 * stores OPEN = 0 and waits until BUSY is 0: a worker that registered before that saw OPEN = 1 and
 * is counted; one that registered after sees OPEN = 0 and touches nothing. So every chunk is
 * computed exactly once, and no worker reads the job after the caller has returned.
 */

/** Indices into the control array; spaced 16 words (64 bytes) apart so hot words do not share a cache line. */
export const Ctl = {
  /** Job generation, bumped (and notified) to wake the workers. */
  GEN: 0,
  /** 1 while the current job accepts new workers. */
  OPEN: 16,
  /** Next chunk to claim (atomic add). */
  NEXT: 32,
  /** Chunks in the current job. */
  TOTAL: 48,
  /** Scratch slots of the current job: workers with id >= ACTIVE sit it out. */
  ACTIVE: 64,
  /** Workers inside the current job. */
  BUSY: 80,
  /** Nonzero: workers exit their loop. */
  SHUTDOWN: 96,
  /** Workers that have instantiated the module and are waiting for jobs. */
  READY: 112,
  /** Nonzero after a worker failed inside a job. */
  ERROR: 128,
  /** Chunks run by workers, all jobs together (statistics for tests). */
  WORKER_CHUNKS: 144,
  /**
   * Which module's `runChunk` the current job runs: an index into {@link GemmWorkerData.modules},
   * or {@link GENERATED_KIND} for a module generated at run time (./generated.ts).
   */
  KIND: 160,
  /** For a generated module: byte address and length of its binary in the shared memory (the address names it). */
  MODULE_AT: 176,
  MODULE_LEN: 192,
} as const;

/** Int32 words in the control array. */
export const CTL_WORDS = 208;

/**
 * KIND of a job whose module was generated at run time: the worker compiles it from the bytes at
 * MODULE_AT (once per address, synchronously, so it needs no message loop) and runs its `runChunk`.
 * Negative, because every index from 0 up names a module of the list (the gemm's epilogue variants
 * are appended from index 2 on as they are compiled).
 */
export const GENERATED_KIND = -1;

/** Polls of GEN a worker makes before it sleeps in Atomics.wait (roughly tens of microseconds). */
export const SPIN_POLLS = 20000;

/**
 * Data a worker is started with (`workerData`): the compiled modules (the gemm's, then the
 * matrix-vector one's) and the shared memory it instantiates them against, the control buffer
 * and its slot id (1, 2, ...; the caller is slot 0).
 */
export interface GemmWorkerData {
  modules: unknown[];
  memory: unknown;
  ctl: SharedArrayBuffer;
  id: number;
  /** Modules added after the worker started arrive here, in index order (read with receiveMessageOnPort). */
  port: unknown;
}

/** The worker program. CommonJS (what `eval: true` runs); reads {@link GemmWorkerData}. */
export const GEMM_WORKER_SOURCE = `"use strict";
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const { modules, memory, ctl: ctlBuffer, id, port } = workerData;
const ctl = new Int32Array(ctlBuffer);
const instantiate = (m) => new WebAssembly.Instance(m, { env: { memory } }).exports.runChunk;
const runChunks = modules.map(instantiate);
/** The runChunk of module number kind, taking modules posted since start-up off the port first. */
const runChunkOf = (kind) => {
  while (runChunks.length <= kind) {
    const msg = receiveMessageOnPort(port);
    if (msg === undefined) throw new Error("gemm worker " + id + ": module " + kind + " was never sent");
    runChunks.push(instantiate(msg.message));
  }
  return runChunks[kind];
};
const generated = new Map();
function generatedRunChunk() {
  const at = Atomics.load(ctl, ${Ctl.MODULE_AT});
  let run = generated.get(at);
  if (!run) {
    const bytes = new Uint8Array(memory.buffer, at, Atomics.load(ctl, ${Ctl.MODULE_LEN})).slice();
    run = instantiate(new WebAssembly.Module(bytes));
    generated.set(at, run);
  }
  return run;
}
Atomics.add(ctl, ${Ctl.READY}, 1);
let seen = 0;
for (;;) {
  let gen = Atomics.load(ctl, ${Ctl.GEN});
  for (let i = 0; gen === seen && i < ${SPIN_POLLS}; i++) gen = Atomics.load(ctl, ${Ctl.GEN});
  while (gen === seen) {
    Atomics.wait(ctl, ${Ctl.GEN}, seen);
    gen = Atomics.load(ctl, ${Ctl.GEN});
  }
  seen = gen;
  if (Atomics.load(ctl, ${Ctl.SHUTDOWN}) !== 0) break;
  Atomics.add(ctl, ${Ctl.BUSY}, 1);
  try {
    if (Atomics.load(ctl, ${Ctl.OPEN}) === 1 && id < Atomics.load(ctl, ${Ctl.ACTIVE})) {
      const total = Atomics.load(ctl, ${Ctl.TOTAL});
      const kind = Atomics.load(ctl, ${Ctl.KIND});
      const runChunk = kind === ${GENERATED_KIND} ? generatedRunChunk() : runChunkOf(kind);
      let done = 0;
      for (;;) {
        const chunk = Atomics.add(ctl, ${Ctl.NEXT}, 1);
        if (chunk >= total) break;
        runChunk(chunk, id);
        done++;
      }
      Atomics.add(ctl, ${Ctl.WORKER_CHUNKS}, done);
    }
  } catch (e) {
    Atomics.store(ctl, ${Ctl.ERROR}, 1);
    throw e;
  } finally {
    if (Atomics.sub(ctl, ${Ctl.BUSY}, 1) === 1) Atomics.notify(ctl, ${Ctl.BUSY});
  }
}
`;
