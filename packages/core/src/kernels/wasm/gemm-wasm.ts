/**
 * The WebAssembly float32 matrix multiply: `C = op(A) @ op(B)` with the same signature and
 * argument rules as the TypeScript {@link gemm}, computed by SIMD code generated at run time
 * (see ./emitter.ts) in the shared WebAssembly.Memory of ./heap.ts.
 *
 * ## Structure
 *
 * Operands that live in that heap (every tensor buffer the allocator hands out, when the engine
 * has shared memory) are read and written where they are, with no copy; any other array (a plain
 * Float32Array from elsewhere) is staged into scratch, and a staged C copied back after. Then
 * `packAllA` packs op(A) once into MR-tall panels (per
 * k-block), then the output is cut into chunks (column panels, and row panels when there are too
 * few columns to share out) and `runChunk(chunk, slot)` computes one chunk: per k-block of KC it
 * packs the chunk's columns of op(B) into NR-wide panels in the slot's scratch and runs the MR x NR
 * micro-kernel over every (row panel, column panel) pair, the B micro-panel held in L1 while the A
 * panels of an L2-sized row block stream past. Transpose flags only change how packing reads.
 * Chunks run on the calling thread, or are shared with worker threads (./threads.ts) when the
 * product is big enough; all threads run the same module over the same shared memory.
 *
 * A call may carry an epilogue (an elementwise program over C and operands, ../gemm-epilogue.ts):
 * it then runs a variant of the module, generated once per program and operand layout, whose
 * last k-block applies the program to each tile on its accumulators before storing them (an edge
 * tile: right after it is copied out), with the elementwise kernel's generated code.
 *
 * ## Numerics and determinism
 *
 * Each `C[i,j]` is a float32 sum over `p = 0..k-1` in increasing order (`acc = acc + a*b`, or one
 * fused `relaxed_madd` when the engine has relaxed SIMD), kept in a float32 SIMD lane; across
 * k-blocks the partial sum is stored to C and reloaded, which is exact for a float32 value, so the
 * blocking changes no bits. So results agree with {@link gemmReference} (which sums in float64)
 * only within float32 rounding, but they are deterministic: the value of an element depends only
 * on its row of op(A), its column of op(B), k and whether the engine fuses, never on the chunking,
 * the thread count or which thread ran it (lanes are independent; padding lanes are zeros that
 * are never stored). Float64 (or mixed) arrays go to the TypeScript {@link gemm}.
 */
import { checkGemmArgs, gemm } from "../gemm.js";
import { FunctionBuilder, ModuleBuilder, PAGE_BYTES, ValType, wasmApi, type Local, type WasmApi, type WasmInstance, type WasmMemory, type WasmModule } from "./emitter.js";
import type { ElementwiseOp } from "../../ops/elementwise-types.js";
import { emitProgram } from "./simd-program.js";
import { gemvAt, gemvAvailable, type ShareChunks } from "./gemv-wasm.js";
import { HEAP_BASE, MAX_PAGES, heapAlloc, heapByteOffset, heapFree, wasmMemory } from "./heap.js";

type FloatArray = Float32Array | Float64Array;
const I32 = ValType.i32;

// ---------------------------------------------------------------------------------------------
// Engine feature probes.
// ---------------------------------------------------------------------------------------------

/** A one-function module taking `arity` v128 parameters and returning the v128 that `build` computes. */
function probeModule(build: (f: FunctionBuilder) => void, arity: number): Uint8Array {
  const mb = new ModuleBuilder();
  const params = Array.from({ length: arity }, () => ValType.v128);
  mb.func(params, [ValType.v128], build, "f");
  return mb.toBytes();
}

let simdCache: boolean | undefined;
let relaxedCache: boolean | undefined;
let sharedCache: boolean | undefined;

/** Whether the engine runs WebAssembly with fixed-width SIMD (validated with a probe module, once). */
export function simdSupported(): boolean {
  if (simdCache === undefined) {
    const api = wasmApi();
    simdCache =
      api !== undefined &&
      safeValidate(api, probeModule((f) => f.get(f.param(0)).get(f.param(1)).simd("f32x4.add"), 2));
  }
  return simdCache;
}

/**
 * A module holding one `f32x4.relaxed_madd`: it validates only where the engine has relaxed SIMD.
 * Exported so that a caller that switches the engine's flag (the CLI) or probes another process
 * tests exactly what {@link relaxedSimdSupported} tests.
 */
export function relaxedSimdProbe(): Uint8Array {
  return probeModule((f) => f.get(f.param(0)).get(f.param(1)).get(f.param(2)).simd("f32x4.relaxed_madd"), 3);
}

/** Whether the engine accepts relaxed SIMD's `f32x4.relaxed_madd` (validated with a probe module, once). */
export function relaxedSimdSupported(): boolean {
  if (relaxedCache === undefined) {
    const api = wasmApi();
    relaxedCache = api !== undefined && simdSupported() && safeValidate(api, relaxedSimdProbe());
  }
  return relaxedCache;
}

/** Whether a shared WebAssembly.Memory can be created (needed for worker threads). */
export function sharedMemorySupported(): boolean {
  if (sharedCache === undefined) {
    const api = wasmApi();
    try {
      sharedCache = api !== undefined && typeof SharedArrayBuffer === "function" && new api.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
    } catch {
      sharedCache = false;
    }
  }
  return sharedCache;
}

function safeValidate(api: WasmApi, bytes: Uint8Array): boolean {
  try {
    return api.validate(bytes);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Code generation.
// ---------------------------------------------------------------------------------------------

/** Shape of the generated micro-kernel and how it multiply-adds. */
export interface KernelConfig {
  /** Rows of C per micro-tile (A values broadcast per step). */
  mr: number;
  /** Columns of C per micro-tile; a multiple of 4 (one f32x4 per 4 columns). */
  nr: number;
  /** Steps of p per trip of the micro-kernel loop (a remainder loop does the rest). */
  unroll: number;
  /** Use `f32x4.relaxed_madd` (one fused op where the hardware has FMA) instead of `mul` then `add`. */
  relaxed: boolean;
  /** Import the memory as shared (needed to run chunks on worker threads). */
  shared: boolean;
}

/** Byte address of the job parameter block read by `runChunk` (i32 words, see {@link Param}). */
const PARAMS_PTR = 64;
/** Job parameters, as i32 word indices from {@link PARAMS_PTR}. */
const Param = {
  packedA: 0,
  m: 1,
  k: 2,
  kcMax: 3,
  mcMax: 4,
  b: 5,
  transB: 6,
  n: 7,
  c: 8,
  rowChunks: 9,
  rowStep: 10,
  colStep: 11,
  scratch: 12,
  scratchStride: 13,
  /** Byte address of the epilogue's first operand; the others follow, one word each. */
  epilogue: 14,
} as const;

/** Most operands (besides C) an epilogue reads: the words {@link Param.epilogue}.. of the parameter block. */
export const MAX_EPILOGUE_OPERANDS = 8;

/**
 * How an epilogue operand lines up with C [m, n]: `full` is [m, n] itself, `row` one row of n
 * values read by every row of C (a bias [n]), `column` one value per row of C ([m, 1]),
 * `scalar` one value. The same four layouts as ./elementwise-wasm.ts, for the same reason: they
 * are what a broadcast against a matrix can be.
 */
export type EpilogueLayout = "full" | "row" | "column" | "scalar";

/**
 * An elementwise program applied to every element of C as the last k-block stores it: program
 * input 0 is C's float32 value, input k >= 1 is operand k - 1, laid out as `layouts[k - 1]`.
 */
export interface EpilogueSpec {
  readonly ops: readonly ElementwiseOp[];
  readonly layouts: readonly EpilogueLayout[];
}
/** Bytes reserved at the start of each slot's scratch for the edge tile (then the packed B). */
const TILE_BYTES = 1024;

/**
 * Emits a counted loop `for (i = start; i < end; i += step) body()`; `start` and `end` push an
 * i32, `step` is a constant or pushes the i32 step. The body may not branch out of the loop.
 */
function forLoop(f: FunctionBuilder, i: Local, start: () => void, end: () => void, step: number | (() => void), body: () => void): void {
  start();
  f.set(i);
  f.block(() =>
    f.loop(() => {
      f.get(i);
      end();
      f.op("i32.ge_s").brIf(1);
      body();
      f.get(i);
      if (typeof step === "number") f.i32(step);
      else step();
      f.op("i32.add").set(i);
      f.br(0);
    }),
  );
}

/** Emits a do-while over a pointer: `do { body(); ptr += step } while (ptr < end)` (unsigned compare). */
function doWhilePtr(f: FunctionBuilder, ptr: Local, step: number, end: Local, body: () => void): void {
  f.loop(() => {
    body();
    f.get(ptr).i32(step).op("i32.add").tee(ptr).get(end).op("i32.lt_u").brIf(0);
  });
}

/** Pushes `min(x, y)` (signed) where x and y push an i32 without side effects. */
function pushMin(f: FunctionBuilder, x: () => void, y: () => void): void {
  x();
  y();
  x();
  y();
  f.op("i32.lt_s").op("select");
}

/** Emits `n4 = n * 4` (C's row stride in bytes) and `ptr[k]` = operand k's address at C's element (i0, j0). */
function emitOperandPointers(f: FunctionBuilder, spec: EpilogueSpec, i0: Local, j0: Local, n4: Local, ptr: readonly Local[]): void {
  f.i32(0).mem("i32.load", PARAMS_PTR + Param.n * 4).i32(4).op("i32.mul").set(n4);
  spec.layouts.forEach((layout, k) => {
    f.i32(0).mem("i32.load", PARAMS_PTR + (Param.epilogue + k) * 4);
    if (layout === "full") f.get(i0).get(n4).op("i32.mul").get(j0).i32(4).op("i32.mul").op("i32.add").op("i32.add");
    else if (layout === "row") f.get(j0).i32(4).op("i32.mul").op("i32.add");
    else if (layout === "column") f.get(i0).i32(4).op("i32.mul").op("i32.add");
    f.set(ptr[k]);
  });
}

/**
 * Emits, inside the micro-kernel, the epilogue of a full MR x NR tile on its accumulators before
 * they are stored (when `last` is set): each accumulator lane is the float32 value the store
 * would write, so this is the separate kernel's computation on the same values, with no reload.
 * `i`, `j`: the tile's first element in the whole C.
 */
function emitTileEpilogue(f: FunctionBuilder, spec: EpilogueSpec, accs: readonly (readonly Local[])[], last: Local, i: Local, j: Local): void {
  const V128 = ValType.v128;
  const MR = accs.length, NV = accs[0].length;
  const n4 = f.local(I32);
  const ptr = spec.layouts.map(() => f.local(I32));
  // Row operands' NR values and scalars, loaded once per tile; the others per row.
  const fixed = spec.layouts.map((layout) => (layout === "row" ? Array.from({ length: NV }, () => f.local(V128)) : layout === "scalar" ? [f.local(V128)] : []));
  const perRow = spec.layouts.map(() => f.local(V128));
  f.get(last).if(() => {
    emitOperandPointers(f, spec, i, j, n4, ptr);
    spec.layouts.forEach((layout, k) => {
      if (layout === "row") fixed[k].forEach((vec, v) => f.get(ptr[k]).simdMem("v128.load", v * 16, 2).set(vec));
      else if (layout === "scalar") f.get(ptr[k]).simdMem("v128.load32_splat").set(fixed[k][0]);
    });
    for (let r = 0; r < MR; r++) {
      spec.layouts.forEach((layout, k) => {
        if (layout === "column") f.get(ptr[k]).simdMem("v128.load32_splat", r * 4).set(perRow[k]);
      });
      for (let v = 0; v < NV; v++) {
        spec.layouts.forEach((layout, k) => {
          if (layout === "full") f.get(ptr[k]).simdMem("v128.load", v * 16, 2).set(perRow[k]);
        });
        const ins = [accs[r][v], ...spec.layouts.map((layout, k) => (layout === "row" ? fixed[k][v] : layout === "scalar" ? fixed[k][0] : perRow[k]))];
        emitProgram(f, spec.ops, ins);
        f.set(accs[r][v]);
      }
      spec.layouts.forEach((layout, k) => {
        if (layout === "full" && r + 1 < MR) f.get(ptr[k]).get(n4).op("i32.add").set(ptr[k]);
      });
    }
  });
}

/**
 * Emits `epilogue(c, rows, w, ldc, i0, j0)` for edge tiles: C[i0:i0+rows, j0:j0+w] (at c, row
 * stride ldc bytes) becomes program(C, operands...) element by element, with the code
 * ./elementwise-wasm.ts runs for the same program (four lanes at a time, the last `w % 4` columns
 * one lane at a time), so every element gets the bits the separate elementwise kernel would give it.
 */
function emitEpilogue(mb: ModuleBuilder, spec: EpilogueSpec): number {
  const V128 = ValType.v128;
  const count = spec.layouts.length;
  if (count > MAX_EPILOGUE_OPERANDS) throw new RangeError(`gemm-wasm: an epilogue reads at most ${MAX_EPILOGUE_OPERANDS} operands, got ${count}`);
  return mb.func([I32, I32, I32, I32, I32, I32], [], (f) => {
    const [c, rows, w, ldc, i0, j0] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i));
    const row = f.local(I32), r = f.local(I32), j = f.local(I32), wBytes = f.local(I32), vecEnd = f.local(I32), n4 = f.local(I32);
    const ptr = spec.layouts.map(() => f.local(I32));
    const x = [f.local(V128), ...spec.layouts.map(() => f.local(V128))];
    const res = f.local(V128);
    emitOperandPointers(f, spec, i0, j0, n4, ptr);
    f.get(w).i32(4).op("i32.mul").tee(wBytes).i32(-16).op("i32.and").set(vecEnd);
    f.get(c).set(row);
    const vectorOperand = (k: number) => spec.layouts[k] === "full" || spec.layouts[k] === "row";
    const pass = (end: Local, step: 16 | 4) =>
      f.block(() =>
        f.loop(() => {
          f.get(j).get(end).op("i32.ge_u").brIf(1);
          const load = step === 16 ? "v128.load" : "v128.load32_zero";
          f.get(row).get(j).op("i32.add").simdMem(load, 0, 2).set(x[0]);
          spec.layouts.forEach((_, k) => {
            if (vectorOperand(k)) f.get(ptr[k]).get(j).op("i32.add").simdMem(load, 0, 2).set(x[k + 1]);
          });
          emitProgram(f, spec.ops, x);
          f.set(res);
          f.get(row).get(j).op("i32.add").get(res);
          if (step === 16) f.simdMem("v128.store", 0, 2);
          else f.extractLane(0).mem("f32.store");
          f.get(j).i32(step).op("i32.add").set(j).br(0);
        }),
      );
    forLoop(f, r, () => f.i32(0), () => f.get(rows), 1, () => {
      spec.layouts.forEach((_, k) => {
        if (!vectorOperand(k)) f.get(ptr[k]).simdMem("v128.load32_splat").set(x[k + 1]);
      });
      f.i32(0).set(j);
      pass(vecEnd, 16);
      pass(wBytes, 4);
      f.get(row).get(ldc).op("i32.add").set(row);
      spec.layouts.forEach((layout, k) => {
        if (layout === "full") f.get(ptr[k]).get(n4).op("i32.add").set(ptr[k]);
        else if (layout === "column") f.get(ptr[k]).i32(4).op("i32.add").set(ptr[k]);
      });
    });
  }, "epilogue");
}

/**
 * Generates the gemm module for a kernel shape. Exports:
 * - `packAllA(a, transA, m, k, kcMax, dst)`: op(A) into MR-row panels, k-block by k-block.
 * - `runChunk(chunk, slot)`: one chunk of C for the job in the parameter block.
 * - `kernel`, `packA`, `packB`, `macro`, `tileGemm`: the pieces, exported for tests and probes.
 *
 * With `epilogueSpec`, the last k-block applies its program to each MR x NR tile of C: a full
 * tile's in the micro-kernel on the accumulators before they are stored (no reload), an edge
 * tile's right after it is copied out; the operands are read from the addresses in the
 * parameter block.
 */
export function buildGemmModule(cfg: KernelConfig, epilogueSpec?: EpilogueSpec): Uint8Array {
  const { mr: MR, nr: NR, unroll: U, relaxed } = cfg;
  if (!Number.isInteger(MR) || MR < 1 || MR > 8) throw new RangeError(`gemm-wasm: mr must be 1..8, got ${MR}`);
  if (!Number.isInteger(NR) || NR < 4 || NR > 32 || NR % 4 !== 0) throw new RangeError(`gemm-wasm: nr must be a multiple of 4 in 4..32, got ${NR}`);
  if (MR * NR * 4 > TILE_BYTES) throw new RangeError("gemm-wasm: tile too large");
  const NV = NR / 4;
  const mb = new ModuleBuilder();
  mb.importMemory("env", "memory", { initial: 1, maximum: MAX_PAGES, shared: cfg.shared });

  // packA(a, transA, m, k, pc, kc, dst): rows 0..m-1 of op(A), columns pc..pc+kc-1, as MR-row
  // panels; panel t at dst + t*MR*kc*4 holds, for each p, MR consecutive floats (rows past m: 0).
  const packA = mb.func([I32, I32, I32, I32, I32, I32, I32], [], (f) => {
    const [a, transA, m, k, pc, kc, dstP] = [0, 1, 2, 3, 4, 5, 6].map((i) => f.param(i));
    const dst = f.local(I32), r0 = f.local(I32), h = f.local(I32), src = f.local(I32), s = f.local(I32);
    const d = f.local(I32), end = f.local(I32), r = f.local(I32), panel = f.local(I32), mBytes = f.local(I32);
    f.get(dstP).set(dst);
    f.get(kc).i32(MR * 4).op("i32.mul").set(panel);
    f.get(m).i32(4).op("i32.mul").set(mBytes);
    forLoop(f, r0, () => f.i32(0), () => f.get(m), MR, () => {
      pushMin(f, () => f.i32(MR), () => f.get(m).get(r0).op("i32.sub"));
      f.set(h);
      // Zero a partial panel first (its missing rows stay 0).
      f.get(h).i32(MR).op("i32.lt_s").if(() => {
        f.get(dst).i32(0).get(panel).memoryFill();
      });
      f.get(transA).if(
        () => {
          // A stored [k,m]: the MR values of one p are consecutive.
          f.get(a).get(pc).get(m).op("i32.mul").get(r0).op("i32.add").i32(4).op("i32.mul").op("i32.add").set(src);
          f.get(h).i32(MR).op("i32.eq").if(
            () => {
              f.get(dst).set(d);
              f.get(dst).get(panel).op("i32.add").set(end);
              f.get(src).set(s);
              doWhilePtr(f, d, MR * 4, end, () => {
                for (let q = 0; q < MR; q++) f.get(d).get(s).mem("f32.load", q * 4).mem("f32.store", q * 4);
                f.get(s).get(mBytes).op("i32.add").set(s);
              });
            },
            () => {
              forLoop(f, r, () => f.i32(0), () => f.get(h), 1, () => {
                f.get(src).get(r).i32(4).op("i32.mul").op("i32.add").set(s);
                f.get(dst).get(r).i32(4).op("i32.mul").op("i32.add").tee(d).get(panel).op("i32.add").set(end);
                doWhilePtr(f, d, MR * 4, end, () => {
                  f.get(d).get(s).mem("f32.load").mem("f32.store");
                  f.get(s).get(mBytes).op("i32.add").set(s);
                });
              });
            },
          );
        },
        () => {
          // A stored [m,k]: copy each row forward, writing with stride MR.
          forLoop(f, r, () => f.i32(0), () => f.get(h), 1, () => {
            f.get(a).get(r0).get(r).op("i32.add").get(k).op("i32.mul").get(pc).op("i32.add").i32(4).op("i32.mul").op("i32.add").set(s);
            f.get(dst).get(r).i32(4).op("i32.mul").op("i32.add").tee(d).get(panel).op("i32.add").set(end);
            doWhilePtr(f, d, MR * 4, end, () => {
              f.get(d).get(s).mem("f32.load").mem("f32.store");
              f.get(s).i32(4).op("i32.add").set(s);
            });
          });
        },
      );
      f.get(dst).get(panel).op("i32.add").set(dst);
    });
  }, "packA");

  // packB(b, transB, n, k, pc, kc, j0, cols, dst): columns j0..j0+cols-1 of op(B), rows
  // pc..pc+kc-1, as NR-wide panels; panel t at dst + t*NR*kc*4 holds, per p, NR floats.
  const packB = mb.func([I32, I32, I32, I32, I32, I32, I32, I32, I32], [], (f) => {
    const [b, transB, n, k, pc, kc, j0, cols, dstP] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => f.param(i));
    const dst = f.local(I32), jj = f.local(I32), w = f.local(I32), src = f.local(I32), s = f.local(I32);
    const d = f.local(I32), end = f.local(I32), q = f.local(I32), panel = f.local(I32), nBytes = f.local(I32);
    f.get(dstP).set(dst);
    f.get(kc).i32(NR * 4).op("i32.mul").set(panel);
    f.get(n).i32(4).op("i32.mul").set(nBytes);
    forLoop(f, jj, () => f.i32(0), () => f.get(cols), NR, () => {
      pushMin(f, () => f.i32(NR), () => f.get(cols).get(jj).op("i32.sub"));
      f.set(w);
      f.get(w).i32(NR).op("i32.lt_s").if(() => {
        f.get(dst).i32(0).get(panel).memoryFill();
      });
      f.get(transB).if(
        () => {
          // B stored [n,k]: column j of op(B) is a row of storage; copy it with stride NR.
          forLoop(f, q, () => f.i32(0), () => f.get(w), 1, () => {
            f.get(b).get(j0).get(jj).op("i32.add").get(q).op("i32.add").get(k).op("i32.mul").get(pc).op("i32.add").i32(4).op("i32.mul").op("i32.add").set(s);
            f.get(dst).get(q).i32(4).op("i32.mul").op("i32.add").tee(d).get(panel).op("i32.add").set(end);
            doWhilePtr(f, d, NR * 4, end, () => {
              f.get(d).get(s).mem("f32.load").mem("f32.store");
              f.get(s).i32(4).op("i32.add").set(s);
            });
          });
        },
        () => {
          // B stored [k,n]: the NR values of one p are consecutive.
          f.get(b).get(pc).get(n).op("i32.mul").get(j0).op("i32.add").get(jj).op("i32.add").i32(4).op("i32.mul").op("i32.add").set(src);
          f.get(w).i32(NR).op("i32.eq").if(
            () => {
              f.get(dst).set(d);
              f.get(dst).get(panel).op("i32.add").set(end);
              f.get(src).set(s);
              doWhilePtr(f, d, NR * 4, end, () => {
                for (let v = 0; v < NV; v++) f.get(d).get(s).simdMem("v128.load", v * 16, 2).simdMem("v128.store", v * 16, 2);
                f.get(s).get(nBytes).op("i32.add").set(s);
              });
            },
            () => {
              forLoop(f, q, () => f.i32(0), () => f.get(w), 1, () => {
                f.get(src).get(q).i32(4).op("i32.mul").op("i32.add").set(s);
                f.get(dst).get(q).i32(4).op("i32.mul").op("i32.add").tee(d).get(panel).op("i32.add").set(end);
                doWhilePtr(f, d, NR * 4, end, () => {
                  f.get(d).get(s).mem("f32.load").mem("f32.store");
                  f.get(s).get(nBytes).op("i32.add").set(s);
                });
              });
            },
          );
        },
      );
      f.get(dst).get(panel).op("i32.add").set(dst);
    });
  }, "packB");

  // kernel(kc, ap, bp, c, ldc, acc): the MR x NR tile at c (row stride ldc bytes) becomes
  // (acc ? tile : 0) + sum over p < kc of Apanel[p, r] * Bpanel[p, s], accumulated in order of p.
  // kernelLast(kc, ap, bp, c, ldc, acc, last, i, j): the same, then (when `last`) the epilogue's
  // program of the tile at (i, j) of C on the accumulators.
  // The plain kernel, and with an epilogue a second one for the last k-block (so the plain one,
  // which every other k-block and edge tile runs, stays exactly the base module's code).
  const emitKernel = (spec: EpilogueSpec | undefined, name: string) => mb.func(Array.from({ length: spec ? 9 : 6 }, () => I32), [], (f) => {
    const [kc, apP, bpP, c, ldc, acc] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i));
    const ap = f.local(I32), bp = f.local(I32), end = f.local(I32), cr = f.local(I32);
    const accs: Local[][] = [];
    for (let r = 0; r < MR; r++) accs.push(Array.from({ length: NV }, () => f.local(ValType.v128)));
    const bv = Array.from({ length: NV }, () => f.local(ValType.v128));
    const av = f.local(ValType.v128);
    f.get(apP).set(ap);
    f.get(bpP).set(bp);
    // Initial accumulators: the partial sums in C, or zeros.
    f.get(acc).if(() => {
      f.get(c).set(cr);
      for (let r = 0; r < MR; r++) {
        for (let v = 0; v < NV; v++) f.get(cr).simdMem("v128.load", v * 16, 2).set(accs[r][v]);
        if (r + 1 < MR) f.get(cr).get(ldc).op("i32.add").set(cr);
      }
    }, () => {
      for (let r = 0; r < MR; r++) for (let v = 0; v < NV; v++) f.v128Zero().set(accs[r][v]);
    });
    /** One step of p at element offset `u` from ap/bp. */
    const step = (u: number) => {
      for (let v = 0; v < NV; v++) f.get(bp).simdMem("v128.load", (u * NR + v * 4) * 4, 2).set(bv[v]);
      for (let r = 0; r < MR; r++) {
        f.get(ap).simdMem("v128.load32_splat", (u * MR + r) * 4).set(av);
        for (let v = 0; v < NV; v++) {
          if (relaxed) f.get(av).get(bv[v]).get(accs[r][v]).simd("f32x4.relaxed_madd");
          else f.get(accs[r][v]).get(av).get(bv[v]).simd("f32x4.mul").simd("f32x4.add");
          f.set(accs[r][v]);
        }
      }
    };
    if (U > 1) {
      // Unrolled loop over floor(kc / U) * U steps.
      f.get(ap).get(kc).i32(U).op("i32.div_u").i32(U * MR * 4).op("i32.mul").op("i32.add").set(end);
      f.get(ap).get(end).op("i32.lt_u").if(() => {
        f.loop(() => {
          for (let u = 0; u < U; u++) step(u);
          f.get(bp).i32(U * NR * 4).op("i32.add").set(bp);
          f.get(ap).i32(U * MR * 4).op("i32.add").tee(ap).get(end).op("i32.lt_u").brIf(0);
        });
      });
    }
    // The remaining steps, one at a time.
    f.get(apP).get(kc).i32(MR * 4).op("i32.mul").op("i32.add").set(end);
    f.get(ap).get(end).op("i32.lt_u").if(() => {
      f.loop(() => {
        step(0);
        f.get(bp).i32(NR * 4).op("i32.add").set(bp);
        f.get(ap).i32(MR * 4).op("i32.add").tee(ap).get(end).op("i32.lt_u").brIf(0);
      });
    });
    if (spec) emitTileEpilogue(f, spec, accs, f.param(6), f.param(7), f.param(8));
    f.get(c).set(cr);
    for (let r = 0; r < MR; r++) {
      for (let v = 0; v < NV; v++) f.get(cr).get(accs[r][v]).simdMem("v128.store", v * 16, 2);
      if (r + 1 < MR) f.get(cr).get(ldc).op("i32.add").set(cr);
    }
  }, name);
  const kernel = emitKernel(undefined, "kernel");
  const kernelLast = epilogueSpec === undefined ? undefined : emitKernel(epilogueSpec, "kernelLast");

  const epilogue = epilogueSpec === undefined ? undefined : emitEpilogue(mb, epilogueSpec);

  // macro(mc, nc, kc, pa, pb, c, ldc, acc, tile, last, i0, j0): C[0:mc, 0:nc] (at c, row stride
  // ldc bytes; rows i0.., columns j0.. of the whole C) from packed A panels at pa (MR*kc floats
  // each) and packed B panels at pb (NR*kc each). Edge tiles run in the tile buffer and are
  // copied in and out. When `last` (the final k-block), the epilogue runs on each tile: a full
  // one's in the micro-kernel on its accumulators, an edge one's on C right after the copy-out.
  const macro = mb.func(Array.from({ length: 12 }, () => I32), [], (f) => {
    const [mc, nc, kc, pa, pb, c, ldc, acc, tile, last, i0, j0] = Array.from({ length: 12 }, (_, i) => f.param(i));
    const jr = f.local(I32), ir = f.local(I32), w = f.local(I32), h = f.local(I32), bPanel = f.local(I32);
    const cp = f.local(I32), aPanel = f.local(I32), r = f.local(I32), aStep = f.local(I32);
    f.get(kc).i32(MR * 4).op("i32.mul").set(aStep);
    forLoop(f, jr, () => f.i32(0), () => f.get(nc), NR, () => {
      pushMin(f, () => f.i32(NR), () => f.get(nc).get(jr).op("i32.sub"));
      f.set(w);
      f.get(pb).get(jr).get(kc).op("i32.mul").i32(4).op("i32.mul").op("i32.add").set(bPanel);
      f.get(pa).set(aPanel);
      forLoop(f, ir, () => f.i32(0), () => f.get(mc), MR, () => {
        pushMin(f, () => f.i32(MR), () => f.get(mc).get(ir).op("i32.sub"));
        f.set(h);
        f.get(c).get(ir).get(ldc).op("i32.mul").op("i32.add").get(jr).i32(4).op("i32.mul").op("i32.add").set(cp);
        f.get(w).i32(NR).op("i32.eq").get(h).i32(MR).op("i32.eq").op("i32.and").if(
          () => {
            const plain = () => f.get(kc).get(aPanel).get(bPanel).get(cp).get(ldc).get(acc).call(kernel);
            if (kernelLast === undefined) plain();
            else {
              f.get(last).if(() => {
                f.get(kc).get(aPanel).get(bPanel).get(cp).get(ldc).get(acc).i32(1).get(i0).get(ir).op("i32.add").get(j0).get(jr).op("i32.add").call(kernelLast);
              }, plain);
            }
          },
          () => {
            f.get(acc).if(() => {
              forLoop(f, r, () => f.i32(0), () => f.get(h), 1, () => {
                f.get(tile).get(r).i32(NR * 4).op("i32.mul").op("i32.add");
                f.get(cp).get(r).get(ldc).op("i32.mul").op("i32.add");
                f.get(w).i32(4).op("i32.mul").memoryCopy();
              });
            });
            // An edge tile's padding lanes would read operands out of bounds: its epilogue runs after the copy-out.
            f.get(kc).get(aPanel).get(bPanel).get(tile).i32(NR * 4).get(acc).call(kernel);
            forLoop(f, r, () => f.i32(0), () => f.get(h), 1, () => {
              f.get(cp).get(r).get(ldc).op("i32.mul").op("i32.add");
              f.get(tile).get(r).i32(NR * 4).op("i32.mul").op("i32.add");
              f.get(w).i32(4).op("i32.mul").memoryCopy();
            });
            if (epilogue !== undefined) {
              f.get(last).if(() => {
                f.get(cp).get(h).get(w).get(ldc).get(i0).get(ir).op("i32.add").get(j0).get(jr).op("i32.add").call(epilogue);
              });
            }
          },
        );
        f.get(aPanel).get(aStep).op("i32.add").set(aPanel);
      });
    });
  }, "macro");

  // tileGemm(pA, m, k, kcMax, mcMax, b, transB, n, c, i0, i1, j0, j1, pB, tile):
  // C[i0:i1, j0:j1] from A packed by packAllA (i0 a multiple of MR, j0 of NR).
  const tileGemm = mb.func(Array.from({ length: 15 }, () => I32), [], (f) => {
    const [pA, m, k, kcMax, mcMax, b, transB, n, c, i0, i1, j0, j1, pB, tile] = Array.from({ length: 15 }, (_, i) => f.param(i));
    const pc = f.local(I32), kc = f.local(I32), ic = f.local(I32), mc = f.local(I32), mPad = f.local(I32), cols = f.local(I32);
    f.get(m).i32(MR - 1).op("i32.add").i32(MR).op("i32.div_u").i32(MR).op("i32.mul").set(mPad);
    f.get(j1).get(j0).op("i32.sub").set(cols);
    forLoop(f, pc, () => f.i32(0), () => f.get(k), () => f.get(kcMax), () => {
      pushMin(f, () => f.get(kcMax), () => f.get(k).get(pc).op("i32.sub"));
      f.set(kc);
      f.get(b).get(transB).get(n).get(k).get(pc).get(kc).get(j0).get(cols).get(pB).call(packB);
      forLoop(f, ic, () => f.get(i0), () => f.get(i1), () => f.get(mcMax), () => {
        pushMin(f, () => f.get(mcMax), () => f.get(i1).get(ic).op("i32.sub"));
        f.set(mc);
        f.get(mc).get(cols).get(kc);
        // pa = pA + (pc*mPad + ic*kc)*4
        f.get(pA).get(pc).get(mPad).op("i32.mul").get(ic).get(kc).op("i32.mul").op("i32.add").i32(4).op("i32.mul").op("i32.add");
        f.get(pB);
        // c + (ic*n + j0)*4
        f.get(c).get(ic).get(n).op("i32.mul").get(j0).op("i32.add").i32(4).op("i32.mul").op("i32.add");
        f.get(n).i32(4).op("i32.mul");
        f.get(pc).i32(0).op("i32.ne");
        f.get(tile);
        f.get(pc).get(kc).op("i32.add").get(k).op("i32.ge_s");
        f.get(ic).get(j0);
        f.call(macro);
      });
    });
  }, "tileGemm");

  // packAllA(a, transA, m, k, kcMax, dst): every k-block of op(A), block pc at dst + pc*mPad*4.
  mb.func([I32, I32, I32, I32, I32, I32], [], (f) => {
    const [a, transA, m, k, kcMax, dst] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i));
    const pc = f.local(I32), kc = f.local(I32), mPad = f.local(I32);
    f.get(m).i32(MR - 1).op("i32.add").i32(MR).op("i32.div_u").i32(MR).op("i32.mul").set(mPad);
    forLoop(f, pc, () => f.i32(0), () => f.get(k), () => f.get(kcMax), () => {
      pushMin(f, () => f.get(kcMax), () => f.get(k).get(pc).op("i32.sub"));
      f.set(kc);
      f.get(a).get(transA).get(m).get(k).get(pc).get(kc);
      f.get(dst).get(pc).get(mPad).op("i32.mul").i32(4).op("i32.mul").op("i32.add");
      f.call(packA);
    });
  }, "packAllA");

  // runChunk(chunk, slot): chunk -> (row panel, column panel) of the job in the parameter
  // block; slot picks the thread's scratch (tile buffer, then packed B).
  mb.func([I32, I32], [], (f) => {
    const chunk = f.param(0), slot = f.param(1);
    const ri = f.local(I32), ci = f.local(I32), i0 = f.local(I32), j0 = f.local(I32), base = f.local(I32);
    const P = (w: number) => f.i32(0).mem("i32.load", PARAMS_PTR + w * 4);
    f.get(chunk);
    P(Param.rowChunks);
    f.op("i32.div_u").set(ci);
    f.get(chunk).get(ci);
    P(Param.rowChunks);
    f.op("i32.mul").op("i32.sub").set(ri);
    f.get(ri);
    P(Param.rowStep);
    f.op("i32.mul").set(i0);
    f.get(ci);
    P(Param.colStep);
    f.op("i32.mul").set(j0);
    P(Param.scratch);
    f.get(slot);
    P(Param.scratchStride);
    f.op("i32.mul").op("i32.add").set(base);
    P(Param.packedA);
    P(Param.m);
    P(Param.k);
    P(Param.kcMax);
    P(Param.mcMax);
    P(Param.b);
    P(Param.transB);
    P(Param.n);
    P(Param.c);
    f.get(i0);
    pushMin(f, () => P(Param.m), () => { f.get(i0); P(Param.rowStep); f.op("i32.add"); });
    f.get(j0);
    pushMin(f, () => P(Param.n), () => { f.get(j0); P(Param.colStep); f.op("i32.add"); });
    f.get(base).i32(TILE_BYTES).op("i32.add");
    f.get(base);
    f.call(tileGemm);
  }, "runChunk");

  return mb.toBytes();
}

// ---------------------------------------------------------------------------------------------
// Runtime: one memory, one instance on this thread, a job layout per call.
// ---------------------------------------------------------------------------------------------

/** The gemm exports of an instance. */
export interface GemmExports {
  packAllA(a: number, transA: number, m: number, k: number, kcMax: number, dst: number): void;
  runChunk(chunk: number, slot: number): void;
  kernel(kc: number, ap: number, bp: number, c: number, ldc: number, acc: number): void;
}

/** Everything needed to run gemm in WebAssembly on this thread (and share it with workers). */
export interface GemmRuntime {
  readonly config: KernelConfig;
  readonly bytes: Uint8Array;
  readonly module: WasmModule;
  readonly memory: WasmMemory;
  readonly exports: GemmExports;
  /** For an epilogue variant: the runtime it was derived from (same memory and kernel; its worker pool runs both). */
  readonly base?: GemmRuntime;
}

/**
 * Runs chunks `0..total-1` (each exactly once) with `run(chunk, slot)`, maybe sharing them with
 * worker threads; `slots` is how many scratch slots the job has room for. Installed by
 * ./threads.ts so that this module does not import worker_threads.
 */
export type ChunkRunner = (rt: GemmRuntime, total: number, slots: number, run: (chunk: number, slot: number) => void, kind: ChunkKind) => void;

/** Which module's `runChunk` a shared job runs: the gemm's, the matrix-vector one (./gemv-wasm.ts) or one generated per shape (./generated.ts). */
export type ChunkKind = "gemm" | "gemv" | "generated";

/**
 * The micro-kernel shape for an engine with or without relaxed SIMD. Measured on the dev box
 * (Xeon, Node 20, float32 128x784 @ 784x256, one thread, GFLOP/s): mul+add: 4x8 ~37, 6x8 ~34,
 * 4x12 ~33, 4x16 ~32, 4x8 unrolled x2 ~33; relaxed_madd: 6x8 ~47, 5x8 ~47, 4x8 ~42, 4x12 ~33.
 * Unrolling the p loop only ever lost (V8 then spills accumulators). With a separate multiply
 * and add every accumulator needs a temporary, so the larger tile runs out of the 16 XMM
 * registers V8 allocates from; with a fused op it does not. The shape never changes the bits of
 * a result (lanes are independent; the order over p is the same).
 */
export function defaultKernel(relaxed: boolean): Omit<KernelConfig, "relaxed" | "shared"> {
  return relaxed ? { mr: 6, nr: 8, unroll: 1 } : { mr: 4, nr: 8, unroll: 1 };
}

let runtime: GemmRuntime | undefined;
let runtimeError: Error | undefined;

/**
 * Builds a runtime for `cfg` (exported for benchmarks of other kernel shapes). With `memory`
 * (the heap's, see ./heap.ts) tensors already in it are used in place; without, the runtime gets
 * a private memory and copies every operand in and out.
 */
export function createGemmRuntime(cfg: KernelConfig, memory?: WasmMemory): GemmRuntime {
  const api = wasmApi();
  if (!api) throw new Error("gemm-wasm: this JavaScript engine has no WebAssembly");
  const bytes = buildGemmModule(cfg);
  const module = new api.Module(bytes);
  memory ??= new api.Memory({ initial: 16, maximum: MAX_PAGES, shared: cfg.shared });
  const instance: WasmInstance = new api.Instance(module, { env: { memory } });
  return { config: cfg, bytes, module, memory, exports: instance.exports as unknown as GemmExports };
}

/**
 * The shared runtime, built on first use: SIMD module with `relaxed_madd` if the engine has it,
 * shared memory if the engine allows it. Throws (every time, with the first cause) if WebAssembly
 * SIMD is unavailable.
 */
export function gemmRuntime(): GemmRuntime {
  if (runtime) return runtime;
  if (runtimeError) throw runtimeError;
  try {
    if (!simdSupported()) throw new Error("gemm-wasm: this engine does not support WebAssembly SIMD");
    const relaxed = relaxedSimdSupported();
    // The heap's memory where there is one (always shared), so tensors are used in place.
    const heap = wasmMemory();
    runtime = createGemmRuntime({ ...defaultKernel(relaxed), relaxed, shared: heap !== undefined || sharedMemorySupported() }, heap);
    return runtime;
  } catch (e) {
    runtimeError = e instanceof Error ? e : new Error(String(e));
    throw runtimeError;
  }
}

/** An epilogue for one {@link gemmWasm} call: its spec, a key naming the spec, and the operands. */
export interface GemmEpilogueCall {
  /** Names `spec` (program and layouts): the generated module is cached under it. */
  readonly key: string;
  readonly spec: EpilogueSpec;
  /** One array per layout, of m*n, n, m or 1 floats. */
  readonly operands: readonly Float32Array[];
}

/** Epilogue variants of the shared runtime, by {@link GemmEpilogueCall.key}. */
const variants = new Map<string, GemmRuntime>();

/** The runtime of `rt`'s module with `call`'s epilogue, built once per key. */
function epilogueRuntime(rt: GemmRuntime, call: GemmEpilogueCall): GemmRuntime {
  let v = variants.get(call.key);
  if (v === undefined || v.base !== rt) {
    const api = wasmApi()!;
    const bytes = buildGemmModule(rt.config, call.spec);
    const module = new api.Module(bytes);
    const instance: WasmInstance = new api.Instance(module, { env: { memory: rt.memory } });
    v = { config: rt.config, bytes, module, memory: rt.memory, exports: instance.exports as unknown as GemmExports, base: rt };
    variants.set(call.key, v);
  }
  return v;
}

/** The heap address of each epilogue operand, written into the parameter block; false if one is not in the heap. */
function bindEpilogue(call: GemmEpilogueCall, m: number, n: number, i32: Int32Array): boolean {
  const { layouts } = call.spec;
  if (layouts.length > MAX_EPILOGUE_OPERANDS || call.operands.length !== layouts.length) {
    throw new RangeError(`gemm-wasm: an epilogue needs one operand per layout (at most ${MAX_EPILOGUE_OPERANDS}), got ${call.operands.length} for ${layouts.length}`);
  }
  for (let k = 0; k < layouts.length; k++) {
    const a = call.operands[k];
    const layout = layouts[k];
    const want = layout === "full" ? m * n : layout === "row" ? n : layout === "column" ? m : 1;
    if (a.length !== want) throw new RangeError(`gemm-wasm: epilogue operand ${k} (${layout}) must hold ${want} floats for C [${m}x${n}], got ${a.length}`);
    const at = heapByteOffset(a);
    if (at < 0) return false;
    i32[(PARAMS_PTR >> 2) + Param.epilogue + k] = at;
  }
  return true;
}

/** Sizes of the blocking, chosen per call from the shape (never from the thread count). */
interface Blocking {
  kcMax: number;
  mcMax: number;
}

// Cache budgets (Xeon dev box: 48 KiB L1d, 2 MiB L2 per core). At the benchmark size the choice
// hardly shows: KC = 392 or 784, and A blocks of 128 KiB or 512 KiB, all measured within noise;
// the budgets matter for long k and tall A, where a block would otherwise leave its cache.
/** Target bytes of a packed B micro-panel (NR x KC floats), to sit in L1 with room for A's stream. */
const B_PANEL_BYTES = 16 * 1024;
/** Target bytes of a packed A row block (MC x KC floats), to sit in L2. */
const A_BLOCK_BYTES = 512 * 1024;
/** Target columns of one chunk when the work is not shared: bounds the packed B block (KC x cols). */
const MAX_CHUNK_BYTES = 1024 * 1024;

function blocking(cfg: KernelConfig, m: number, k: number): Blocking {
  // Balanced k-blocks no larger than the L1 budget allows.
  const kcCap = Math.max(16, Math.floor(B_PANEL_BYTES / (cfg.nr * 4)));
  const kBlocks = Math.ceil(k / kcCap);
  const kcMax = Math.ceil(k / kBlocks);
  const mcUnits = Math.max(1, Math.floor(A_BLOCK_BYTES / (kcMax * 4 * cfg.mr)));
  const mPanels = Math.ceil(m / cfg.mr);
  const mcMax = Math.ceil(mPanels / Math.ceil(mPanels / mcUnits)) * cfg.mr;
  return { kcMax, mcMax };
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

let chunkRunner: ChunkRunner | undefined;
let threadCount = 1;
/** Work (m*n*k) from which a call is shared with worker threads. */
let parallelThreshold = 1 << 20;

/** Installs the function that shares chunks with workers (./threads.ts does this). */
export function setChunkRunner(runner: ChunkRunner | undefined): void {
  chunkRunner = runner;
}

/** Sets how many threads (this one included) a big gemm may use; 1 keeps everything on this thread. */
export function setWasmThreads(n: number): void {
  threadCount = n;
}

/** Sets the m*n*k from which a gemm is shared with workers (default 2^20); for tests and tuning. */
export function setParallelThreshold(work: number): void {
  parallelThreshold = work;
}

/** The m*n*k from which a gemm is shared with workers. */
export function getParallelThreshold(): number {
  return parallelThreshold;
}

/** Typed views of the memory, refreshed when it grows. */
let f32View: Float32Array | undefined;
let i32View: Int32Array | undefined;

function views(rt: GemmRuntime): { f32: Float32Array; i32: Int32Array } {
  const buf = rt.memory.buffer;
  if (!f32View || f32View.buffer !== buf || f32View.length * 4 !== buf.byteLength) {
    f32View = new Float32Array(buf);
    i32View = new Int32Array(buf);
  }
  return { f32: f32View, i32: i32View as Int32Array };
}

/** The heap block kept as gemm scratch (grown, never shrunk), and its size. */
let heapScratchAt = -1;
let heapScratchBytes = 0;

/**
 * Byte address of `bytes` bytes of scratch for one call, or -1 when they cannot be had. On the
 * heap's memory it is a heap block kept between calls (grown by doubling); a private memory is
 * all scratch above the reserved low area.
 */
function scratchBase(rt: GemmRuntime, bytes: number): number {
  if (rt.memory === wasmMemory()) {
    if (bytes <= heapScratchBytes) return heapScratchAt;
    if (heapScratchAt >= 0) heapFree(heapScratchAt, heapScratchBytes);
    const want = Math.max(bytes, 2 * heapScratchBytes, 64 * 1024);
    heapScratchAt = heapAlloc(want);
    heapScratchBytes = heapScratchAt >= 0 ? want : 0;
    if (heapScratchAt < 0 && want > bytes) {
      heapScratchAt = heapAlloc(bytes);
      heapScratchBytes = heapScratchAt >= 0 ? bytes : 0;
    }
    return heapScratchAt;
  }
  const have = rt.memory.buffer.byteLength;
  const end = HEAP_BASE + bytes;
  if (end > have) {
    const pages = Math.ceil((end - have) / PAGE_BYTES);
    if (have / PAGE_BYTES + pages > MAX_PAGES) return -1;
    try {
      rt.memory.grow(pages);
    } catch {
      return -1; // out of memory: let the caller take the TypeScript path
    }
  }
  return HEAP_BASE;
}

/** Where one call's operands are in the memory, and its extra scratch. */
interface Staged {
  aPtr: number;
  bPtr: number;
  cPtr: number;
  /** Address of the `extraBytes` of scratch asked for. */
  extra: number;
  /** Copies C back when it was staged (a no-op when it is used in place). */
  finish(): void;
}

/**
 * Lays out one call: operands already in the runtime's memory (tensors in the heap, when
 * `inPlace`) are used where they are; the others are copied into scratch, followed by
 * `extraBytes` for the kernel. Null when the scratch cannot be had (past 2 GiB).
 */
function stage(
  rt: GemmRuntime, inPlace: boolean, m: number, n: number, k: number,
  a: Float32Array, aOff: number, b: Float32Array, bOff: number, c: Float32Array, cOff: number, extraBytes: number,
): Staged | null {
  const aHeap = inPlace ? heapByteOffset(a) : -1;
  const bHeap = inPlace ? heapByteOffset(b) : -1;
  const cHeap = inPlace ? heapByteOffset(c) : -1;
  let off = 0;
  const aStage = off;
  if (aHeap < 0) off = alignUp(off + m * k * 4, 64);
  const bStage = off;
  if (bHeap < 0) off = alignUp(off + k * n * 4, 64);
  const cStage = off;
  if (cHeap < 0) off = alignUp(off + m * n * 4, 64);
  const extraOff = off;
  off += extraBytes;
  const base = off > 0 ? scratchBase(rt, off) : 0;
  if (base < 0) return null;
  const aPtr = aHeap >= 0 ? aHeap + aOff * 4 : base + aStage;
  const bPtr = bHeap >= 0 ? bHeap + bOff * 4 : base + bStage;
  const cPtr = cHeap >= 0 ? cHeap + cOff * 4 : base + cStage;
  const { f32 } = views(rt);
  if (aHeap < 0) f32.set(a.subarray(aOff, aOff + m * k), aPtr >> 2);
  if (bHeap < 0) f32.set(b.subarray(bOff, bOff + k * n), bPtr >> 2);
  const finish = () => {
    if (cHeap < 0) c.set(views(rt).f32.subarray(cPtr >> 2, (cPtr >> 2) + m * n), cOff);
  };
  return { aPtr, bPtr, cPtr, extra: base + extraOff, finish };
}

/** Shares a matrix-vector job's chunks through the installed runner (the heap runtime's pool). */
const shareGemv: ShareChunks = (total, slots, run) => chunkRunner!(gemmRuntime(), total, slots, run, "gemv");

/**
 * The matrix-vector case of {@link gemmWasm} (m = 1 or n = 1) on the heap's memory: operands
 * outside the heap are staged into scratch, the product runs in ./gemv-wasm.ts (shared with
 * worker threads when big), and a staged C is copied back.
 */
function gemvStaged(
  rt: GemmRuntime, m: number, n: number, k: number,
  a: Float32Array, aOff: number, transA: boolean,
  b: Float32Array, bOff: number, transB: boolean,
  c: Float32Array, cOff: number,
): void {
  const at = stage(rt, true, m, n, k, a, aOff, b, bOff, c, cOff, 0);
  if (!at) {
    gemm(m, n, k, a, aOff, transA, b, bOff, transB, c, cOff);
    return;
  }
  gemvAt(m, n, k, at.aPtr, transA, at.bPtr, transB, at.cPtr, threadCount, chunkRunner === undefined ? undefined : shareGemv);
  at.finish();
}

/**
 * WebAssembly float32 matrix multiply: `C = op(A) @ op(B)`, op = transpose when its flag is set,
 * with the layout and argument rules of {@link gemm}: A stored row-major as [m,k] ([k,m] when
 * `transA`) from `aOff`, B as [k,n] ([n,k] when `transB`) from `bOff`, C [m,n] from `cOff`
 * overwritten (zeros when k = 0).
 *
 * Float32 inputs run in generated SIMD code (see the module comment): results match
 * {@link gemmReference} within float32 rounding (not bitwise) and are bitwise reproducible —
 * the same for every run and every thread count. Any Float64Array argument sends the call to the
 * TypeScript {@link gemm}. Shares the work with worker threads when the thread count set by
 * `setThreads` is above 1 and m*n*k is at least the parallel threshold (about 1e6).
 *
 * A product whose inputs, output and packed copies do not fit in one WebAssembly memory (2 GiB in
 * all) also goes to the TypeScript {@link gemm}: still deterministic, but at that kernel's
 * (float64-accumulated) precision and speed.
 *
 * With `epilogue`, the packed path also applies its program to each element of C right after
 * the element's last k-block is stored, and returns true; it returns false, having computed only
 * the product, where it cannot (a matrix-vector product, an operand outside the heap, a product
 * too big for the memory): the caller then runs the program over C as a separate kernel, which
 * gives the same bits (the epilogue runs the elementwise kernel's generated code on the same
 * float32 values).
 *
 * @throws RangeError when a size or offset is not a non-negative integer or a matrix overruns its buffer.
 * @throws Error when the engine has no WebAssembly SIMD.
 */
export function gemmWasm(
  m: number,
  n: number,
  k: number,
  a: FloatArray,
  aOff: number,
  transA: boolean,
  b: FloatArray,
  bOff: number,
  transB: boolean,
  c: FloatArray,
  cOff: number,
  epilogue?: GemmEpilogueCall,
): boolean {
  if (!(a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array)) {
    gemm(m, n, k, a, aOff, transA, b, bOff, transB, c, cOff);
    return false;
  }
  checkGemmArgs(m, n, k, a, aOff, b, bOff, c, cOff);
  if (m === 0 || n === 0) return false;
  if (k === 0) {
    c.fill(0, cOff, cOff + m * n);
    return false;
  }
  const rt = gemmRuntime();
  const inPlace = rt.memory === wasmMemory();
  // A matrix-vector product reads its matrix once, in place: packing it would double the
  // traffic. Chosen by shape alone (never by where the operands live), so the bits of a result
  // do not depend on whether its inputs were in the heap.
  if ((m === 1 || n === 1) && inPlace && gemvAvailable()) {
    gemvStaged(rt, m, n, k, a, aOff, transA, b, bOff, transB, c, cOff);
    return false;
  }
  const cfg = rt.config;
  const { kcMax, mcMax } = blocking(cfg, m, k);

  // Chunks: column panels, plus row panels when columns alone are too few to share out.
  const parallel = threadCount > 1 && chunkRunner !== undefined && m * n * k >= parallelThreshold;
  const nPanels = Math.ceil(n / cfg.nr);
  const mPanels = Math.ceil(m / cfg.mr);
  let colPanels: number; // NR-panels per column chunk
  let rowPanels: number; // MR-panels per row chunk
  if (parallel) {
    const target = threadCount * 4;
    const colChunks = Math.min(nPanels, target);
    colPanels = Math.ceil(nPanels / colChunks);
    const rowChunks = Math.min(mPanels, Math.ceil(target / Math.ceil(nPanels / colPanels)));
    rowPanels = Math.ceil(mPanels / rowChunks);
  } else {
    colPanels = Math.max(1, Math.min(nPanels, Math.floor(MAX_CHUNK_BYTES / (kcMax * 4 * cfg.nr))));
    rowPanels = mPanels;
  }
  const colStep = colPanels * cfg.nr;
  const rowStep = rowPanels * cfg.mr;
  const rowChunks = Math.ceil(mPanels / rowPanels);
  const total = rowChunks * Math.ceil(nPanels / colPanels);
  const slots = parallel ? threadCount : 1;

  // Operands already in the runtime's memory (tensors in the heap) are used in place; the
  // others are staged into scratch. Scratch layout: staged A, B, C, packed A, then per slot:
  // edge tile + packed B block.
  const mPad = mPanels * cfg.mr;
  const scratchStride = alignUp(TILE_BYTES + kcMax * colStep * 4, 64);
  const packedBytes = alignUp(mPad * k * 4, 64);
  const at = stage(rt, inPlace, m, n, k, a, aOff, b, bOff, c, cOff, packedBytes + scratchStride * slots);
  if (!at) {
    // Too big for one 2 GiB WebAssembly memory: the TypeScript kernel has no such limit.
    gemm(m, n, k, a, aOff, transA, b, bOff, transB, c, cOff);
    return false;
  }
  const { aPtr, bPtr, cPtr } = at;
  const packedA = at.extra;
  const scratch = at.extra + packedBytes;
  const { i32 } = views(rt);
  const p = PARAMS_PTR >> 2;
  i32[p + Param.packedA] = packedA;
  i32[p + Param.m] = m;
  i32[p + Param.k] = k;
  i32[p + Param.kcMax] = kcMax;
  i32[p + Param.mcMax] = mcMax;
  i32[p + Param.b] = bPtr;
  i32[p + Param.transB] = transB ? 1 : 0;
  i32[p + Param.n] = n;
  i32[p + Param.c] = cPtr;
  i32[p + Param.rowChunks] = rowChunks;
  i32[p + Param.rowStep] = rowStep;
  i32[p + Param.colStep] = colStep;
  i32[p + Param.scratch] = scratch;
  i32[p + Param.scratchStride] = scratchStride;
  // The epilogue variant of the module when the operands can be read in place.
  const job = epilogue !== undefined && inPlace && bindEpilogue(epilogue, m, n, i32) ? epilogueRuntime(rt, epilogue) : rt;
  const ex = job.exports;
  ex.packAllA(aPtr, transA ? 1 : 0, m, k, kcMax, packedA);
  if (parallel && chunkRunner) {
    chunkRunner(job, total, slots, ex.runChunk, "gemm");
  } else {
    for (let t = 0; t < total; t++) ex.runChunk(t, 0);
  }
  at.finish();
  return job !== rt;
}
