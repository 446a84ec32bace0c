/**
 * This machine's WebAssembly SIMD peak: the float32 GFLOP/s that a register-only stream of
 * `f32x4` multiply-adds reaches, on one thread and on several — the ceiling that "% of peak"
 * figures (profile tables, ../../bench/conv-gflops.ts) are measured against. Method (docs/PERFORMANCE.md):
 *
 * - A generated module (the project's own emitter, ./emitter.ts) exports
 *   `run(iters)`: a loop whose body updates `accumulators` independent f32x4 registers, `unroll`
 *   times over, each `acc = acc * b + c` — as `f32x4.mul` then `f32x4.add`, or as one
 *   `f32x4.relaxed_madd` (a fused multiply-add where the hardware has one). No memory is touched,
 *   so only the arithmetic ports limit it. With b just under 1 and c small, every value stays near
 *   1 (no overflow, no subnormals that would slow some cores down).
 * - Independent chains hide latency: with L cycles of latency and P ports a core needs L*P
 *   chains in flight (x86: 4 cycles, 2 ports: 8). Each configured count (4, 8, 12 by default) is
 *   measured and the best kept, so a core with other numbers is not under-counted; more than 12
 *   would spill registers on x64 (16 vector registers).
 * - Flops per call: iters * unroll * accumulators * 4 lanes * 2 (a multiply and an add).
 * - Several threads run the same compiled module at once (worker threads, started together by a
 *   shared counter); the time is the caller's wall clock from start until the last one finished.
 * - Each figure is the best of its timed calls (about 10 ms each) after a warm-up that lets V8
 *   tier the function up to its optimising compiler: a peak is what the machine can do, and noise
 *   (other processes, a timer tick) only ever slows a call down.
 *
 * The table (each multiply-add on one thread and on all): `node packages/core/dist/bench/simd-peak.js`.
 */
import { Worker } from "node:worker_threads";
import { ModuleBuilder, ValType, wasmApi, type Local, type WasmModule } from "./emitter.js";
import { relaxedSimdSupported, simdSupported } from "./gemm-wasm.js";

/** How the multiply-add is spelled: two instructions, or relaxed SIMD's one. */
export type PeakOp = "mul+add" | "relaxed_madd";

/** One measured peak. */
export interface SimdPeak {
  op: PeakOp;
  threads: number;
  /** Best GFLOP/s over the timed calls (all threads together). */
  gflops: number;
  /** The accumulator count that reached it. */
  accumulators: number;
}

/** Options for {@link measureSimdPeak}. */
export interface PeakOptions {
  op: PeakOp;
  /** Threads running at once, this one included (default 1). */
  threads?: number;
  /** Accumulator counts to try; the best is kept (default 4, 8, 12). */
  accumulators?: readonly number[];
  /** Timed calls per accumulator count after warm-up (default 5). */
  samples?: number;
  /** Target milliseconds per call (default 10). */
  callMs?: number;
}

/** Times the body is repeated per loop trip: keeps the loop's own counter and branch negligible. */
const UNROLL = 4;

/** Flops one `run(iters)` call performs. */
export function peakFlopsPerCall(accumulators: number, iters: number): number {
  return iters * UNROLL * accumulators * 4 * 2;
}

/**
 * The peak module's bytes: `run(iters: i32) -> f32` as described in the module comment; the
 * result (a lane sum of the accumulators) is returned so that no engine could drop the work.
 */
export function buildPeakModule(op: PeakOp, accumulators: number): Uint8Array {
  if (!Number.isInteger(accumulators) || accumulators < 1 || accumulators > 32) throw new RangeError(`simd-peak: accumulators must be 1..32, got ${accumulators}`);
  const mb = new ModuleBuilder();
  mb.func([ValType.i32], [ValType.f32], (f) => {
    const iters = f.param(0);
    const b = f.local(ValType.v128);
    const c = f.local(ValType.v128);
    const i = f.local(ValType.i32);
    const acc: Local[] = [];
    f.f32(0.9999).simd("f32x4.splat").set(b);
    f.f32(1e-4).simd("f32x4.splat").set(c);
    for (let a = 0; a < accumulators; a++) {
      acc.push(f.local(ValType.v128));
      f.f32(1 + a / 64).simd("f32x4.splat").set(acc[a]);
    }
    f.i32(0).set(i);
    f.block(() =>
      f.loop(() => {
        f.get(i).get(iters).op("i32.ge_s").brIf(1);
        for (let u = 0; u < UNROLL; u++) {
          for (const x of acc) {
            if (op === "relaxed_madd") f.get(x).get(b).get(c).simd("f32x4.relaxed_madd").set(x);
            else f.get(x).get(b).simd("f32x4.mul").get(c).simd("f32x4.add").set(x);
          }
        }
        f.get(i).i32(1).op("i32.add").set(i);
        f.br(0);
      }),
    );
    f.f32(0);
    for (const x of acc) f.get(x).extractLane(0).op("f32.add");
  }, "run");
  return mb.toBytes();
}

/** Whether this engine can run `op` (SIMD, and relaxed SIMD for `relaxed_madd`). */
export function peakOpSupported(op: PeakOp): boolean {
  return op === "relaxed_madd" ? relaxedSimdSupported() : simdSupported();
}

// Control words of the worker protocol: GEN (bumped to start a round), ITERS, DONE (workers
// finished this round), READY (workers instantiated).
const GEN = 0, ITERS = 1, DONE = 2, READY = 3;

/** The peak worker: instantiates the module, then runs `run(ITERS)` once per bump of GEN until GEN is -1. */
const PEAK_WORKER_SOURCE = `"use strict";
const { workerData } = require("node:worker_threads");
const ctl = new Int32Array(workerData.ctl);
const run = new WebAssembly.Instance(workerData.module).exports.run;
Atomics.add(ctl, ${READY}, 1);
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${GEN}, seen);
  const gen = Atomics.load(ctl, ${GEN});
  if (gen === -1) break;
  if (gen === seen) continue;
  seen = gen;
  run(Atomics.load(ctl, ${ITERS}));
  Atomics.add(ctl, ${DONE}, 1);
  Atomics.notify(ctl, ${DONE});
}
`;

/** A set of threads that run one module's `run(iters)` together. */
class PeakTeam {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(16));
  private readonly workers: Worker[] = [];
  private readonly run: (iters: number) => number;

  private constructor(module: WasmModule, readonly threads: number) {
    const api = wasmApi()!;
    this.run = new api.Instance(module).exports.run as (iters: number) => number;
    for (let w = 1; w < threads; w++) {
      const worker = new Worker(PEAK_WORKER_SOURCE, { eval: true, workerData: { module, ctl: this.ctl.buffer } });
      worker.unref();
      this.workers.push(worker);
    }
  }

  /** A team of `threads` threads, resolved once every worker has instantiated the module. */
  static async start(module: WasmModule, threads: number): Promise<PeakTeam> {
    const team = new PeakTeam(module, threads);
    const failed = new Promise<never>((_, reject) => team.workers.forEach((w) => w.once("error", reject)));
    const ready = (async () => {
      while (Atomics.load(team.ctl, READY) < threads - 1) await new Promise((r) => setTimeout(r, 1));
    })();
    await Promise.race([ready, failed]);
    return team;
  }

  /** Runs `run(iters)` on every thread at once; returns the wall seconds until all finished. */
  round(iters: number): number {
    const ctl = this.ctl;
    Atomics.store(ctl, ITERS, iters);
    Atomics.store(ctl, DONE, 0);
    const t0 = performance.now();
    Atomics.add(ctl, GEN, 1);
    Atomics.notify(ctl, GEN);
    this.run(iters);
    for (let done = Atomics.load(ctl, DONE); done < this.threads - 1; done = Atomics.load(ctl, DONE)) Atomics.wait(ctl, DONE, done, 100);
    return (performance.now() - t0) / 1000;
  }

  /** Stops the workers. */
  async stop(): Promise<void> {
    Atomics.store(this.ctl, GEN, -1);
    Atomics.notify(this.ctl, GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Measures the peak GFLOP/s of `op` on `threads` threads (see the module comment for the
 * method): about 0.1 s per accumulator count on an idle core.
 *
 * @throws Error when the engine lacks the instructions (see {@link peakOpSupported}).
 */
export async function measureSimdPeak(options: PeakOptions): Promise<SimdPeak> {
  const { op, threads = 1, accumulators = [4, 8, 12], samples = 5, callMs = 10 } = options;
  if (!peakOpSupported(op)) throw new Error(`simd-peak: this engine cannot run ${op}${op === "relaxed_madd" ? " (Node 20: start it with --experimental-wasm-relaxed-simd)" : ""}`);
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`simd-peak: threads must be a positive integer, got ${threads}`);
  const api = wasmApi()!;
  let best: SimdPeak = { op, threads, gflops: 0, accumulators: accumulators[0] };
  for (const accs of accumulators) {
    const team = await PeakTeam.start(new api.Module(buildPeakModule(op, accs)), threads);
    try {
      // Calibrate the call length while warming up, until V8's optimising tier has had time to take over.
      let iters = 1000;
      const warmEnd = performance.now() + 5 * callMs;
      for (let calls = 0; calls < 3 || performance.now() < warmEnd; calls++) {
        const s = team.round(iters);
        iters = Math.max(1000, Math.round((iters * callMs) / 1000 / Math.max(s, 1e-6)));
      }
      for (let k = 0; k < samples; k++) {
        const gflops = (threads * peakFlopsPerCall(accs, iters)) / team.round(iters) / 1e9;
        if (gflops > best.gflops) best = { op, threads, gflops, accumulators: accs };
      }
    } finally {
      await team.stop();
    }
  }
  return best;
}

const cached = new Map<string, Promise<SimdPeak>>();

/**
 * The peak of the multiply-add this process's matmul uses (`relaxed_madd` when the engine has
 * relaxed SIMD, else `mul+add`) on `threads` threads, measured once per process and cached
 * (about 0.1 s per thread count: 12 accumulators, the best on x64 here, and 8 timed calls of
 * 5 ms, the best of which counts):
 * what "% of peak" columns divide by. Null where the engine has no WebAssembly SIMD.
 */
export function processSimdPeak(threads: number): Promise<SimdPeak> | null {
  if (!simdSupported()) return null;
  const op: PeakOp = relaxedSimdSupported() ? "relaxed_madd" : "mul+add";
  const key = `${op} ${threads}`;
  let p = cached.get(key);
  if (!p) cached.set(key, (p = measureSimdPeak({ op, threads, accumulators: [12], samples: 8, callMs: 5 })));
  return p;
}
