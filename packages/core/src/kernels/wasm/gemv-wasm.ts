/**
 * Matrix-vector products in WebAssembly SIMD: the float32 matmuls with one row or one column
 * (m = 1 or n = 1), which a linear layer with one output, or its weight gradient, is made of.
 * The blocked gemm (./gemm-wasm.ts) would pack the whole matrix for them, a full extra pass over
 * memory for a product that reads each element once; these kernels read the matrix in place,
 * once, straight from the heap (./heap.ts).
 *
 * Two shapes of loop cover the four cases:
 * - `dotRows`: `out[i] = sum_p M[i,p] * v[p]` when the matrix rows are contiguous along p. Four
 *   rows at a time share each load of v; every row keeps four lane partial sums (p = lane mod 4)
 *   that are added as `(l0 + l1) + (l2 + l3)`, then the last `k mod 4` products in order.
 * - `axpyRows`: `out[j] = sum_p v[p] * M[p,j]` when the matrix rows are contiguous along j:
 *   columns in blocks of 32 (then 4, then 1) held in registers while p runs over the rows, so
 *   each column's sum is in increasing p, like the gemm's.
 *
 * Both are deterministic (an element's bits depend only on its inputs and k), but `dotRows` sums
 * in a different order from the blocked gemm, so a matrix-vector product can differ from the
 * same column of a wider product in the last bits. Eager and graph call the same kernel for the
 * same shapes, so they still agree bit for bit.
 */
import { FunctionBuilder, ModuleBuilder, ValType, wasmApi, type Local, type WasmModule } from "./emitter.js";
import { MAX_PAGES, heapBuffer, heapByteOffset, wasmMemory } from "./heap.js";

const I32 = ValType.i32;
const V128 = ValType.v128;

/** Byte address of the job parameter block `runChunk` reads (i32 words, see {@link GemvParam}); below the heap, clear of the gemm's. */
const GEMV_PARAMS_PTR = 512;
/** Job parameters, as i32 word indices from {@link GEMV_PARAMS_PTR}. */
const GemvParam = { kind: 0, mat: 1, rows: 2, ld: 3, v: 4, out: 5, perChunk: 6, total: 7 } as const;

/** Matrix elements from which a product is shared with worker threads (1 MiB of float32: linreg-wide's x). */
let gemvParallelWork = 1 << 18;

/** Sets the matrix size (elements) from which a matrix-vector product is shared with workers; for tests and tuning. */
export function setGemvParallelThreshold(elements: number): void {
  gemvParallelWork = elements;
}

/** Columns per register block of `axpyRows` (8 vectors of accumulators). */
const AXPY_BLOCK = 32;

/** Emits `do { body } while ((ptr += step) < end)` (unsigned). */
function doWhile(f: FunctionBuilder, ptr: Local, step: number | Local, end: Local, body: () => void): void {
  f.loop(() => {
    body();
    f.get(ptr);
    if (typeof step === "number") f.i32(step);
    else f.get(step);
    f.op("i32.add").tee(ptr).get(end).op("i32.lt_u").brIf(0);
  });
}

/** Builds the module: `dotRows(m, rows, k, v, out)` and `axpyRows(m, rows, cols, v, out)` (byte addresses). */
export function buildGemvModule(): Uint8Array {
  const mb = new ModuleBuilder();
  mb.importMemory("env", "memory", { initial: 1, maximum: MAX_PAGES, shared: true });

  // dotRows(m, rows, k, v, out): out[i] = sum_p m[i*k + p] * v[p] for i < rows.
  const dotRows = mb.func([I32, I32, I32, I32, I32], [], (f) => {
    const [mP, rows, k, v, out] = [0, 1, 2, 3, 4].map((i) => f.param(i));
    const i = f.local(I32), row = f.local(I32), p = f.local(I32), k4 = f.local(I32), rowBytes = f.local(I32), h = f.local(I32);
    const r = f.local(I32), q = f.local(I32), s = f.local(ValType.f32);
    const acc = [0, 1, 2, 3].map(() => f.local(V128));
    const rowT = [0, 1, 2, 3].map(() => f.local(I32));
    const vv = f.local(V128);
    f.get(k).i32(-4).op("i32.and").i32(4).op("i32.mul").set(k4); // bytes of whole vectors of p
    f.get(k).i32(4).op("i32.mul").set(rowBytes);
    f.get(mP).set(row);
    f.i32(0).set(i);
    f.block(() =>
      f.loop(() => {
        f.get(i).get(rows).op("i32.ge_u").brIf(1);
        // h = min(4, rows - i) rows in this group.
        f.i32(4).get(rows).get(i).op("i32.sub").i32(4).get(rows).get(i).op("i32.sub").op("i32.lt_u").op("select").set(h);
        for (const a of acc) f.v128Zero().set(a);
        // Rows past h read row 0 of the group again (harmless: never stored).
        for (let t = 0; t < 4; t++) {
          f.get(row);
          if (t > 0) f.get(h).i32(t).op("i32.gt_u").get(rowBytes).i32(t).op("i32.mul").op("i32.mul").op("i32.add");
          f.set(rowT[t]);
        }
        f.i32(0).set(p);
        f.get(k4).if(() => {
          doWhile(f, p, 16, k4, () => {
            f.get(v).get(p).op("i32.add").simdMem("v128.load", 0, 0).set(vv);
            for (let t = 0; t < 4; t++) {
              f.get(acc[t]).get(rowT[t]).get(p).op("i32.add").simdMem("v128.load", 0, 0).get(vv).simd("f32x4.mul").simd("f32x4.add").set(acc[t]);
            }
          });
        });
        for (let t = 0; t < 4; t++) {
          f.get(h).i32(t).op("i32.gt_u").if(() => {
            f.get(acc[t]).extractLane(0).get(acc[t]).extractLane(1).op("f32.add");
            f.get(acc[t]).extractLane(2).get(acc[t]).extractLane(3).op("f32.add").op("f32.add").set(s);
            // The k mod 4 tail, in order.
            f.get(rowT[t]).set(r);
            f.get(k4).set(q);
            f.block(() =>
              f.loop(() => {
                f.get(q).get(rowBytes).op("i32.ge_u").brIf(1);
                f.get(s).get(r).get(q).op("i32.add").mem("f32.load").get(v).get(q).op("i32.add").mem("f32.load").op("f32.mul").op("f32.add").set(s);
                f.get(q).i32(4).op("i32.add").set(q);
                f.br(0);
              }),
            );
            f.get(out).get(i).i32(t).op("i32.add").i32(4).op("i32.mul").op("i32.add").get(s).mem("f32.store");
          });
        }
        f.get(row).get(rowBytes).i32(4).op("i32.mul").op("i32.add").set(row);
        f.get(i).i32(4).op("i32.add").set(i);
        f.br(0);
      }),
    );
  }, "dotRows");

  // axpyRows(m, rows, cols, ld, v, out): out[j] = sum_p v[p] * m[p*ld + j] for j < cols, p in order.
  const axpyRows = mb.func([I32, I32, I32, I32, I32, I32], [], (f) => {
    const [mP, rows, cols, ld, v, out] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i));
    const j = f.local(I32), col = f.local(I32), vp = f.local(I32), vEnd = f.local(I32), stride = f.local(I32);
    const width = f.local(I32), sv = f.local(V128);
    const acc = Array.from({ length: AXPY_BLOCK / 4 }, () => f.local(V128));
    f.get(ld).i32(4).op("i32.mul").set(stride);
    f.get(v).get(rows).i32(4).op("i32.mul").op("i32.add").set(vEnd);
    /** One pass over the rows for the `nv` vectors (or, with nv = 0, one scalar lane) at column j. */
    const pass = (nv: number) => {
      const lanes = Math.max(1, nv);
      for (let t = 0; t < lanes; t++) f.v128Zero().set(acc[t]);
      f.get(mP).get(j).i32(4).op("i32.mul").op("i32.add").set(col);
      f.get(v).set(vp);
      f.get(rows).if(() => {
        doWhile(f, vp, 4, vEnd, () => {
          f.get(vp).simdMem("v128.load32_splat").set(sv);
          for (let t = 0; t < lanes; t++) {
            f.get(acc[t]).get(col);
            if (nv === 0) f.simdMem("v128.load32_splat", 0);
            else f.simdMem("v128.load", t * 16, 0);
            f.get(sv).simd("f32x4.mul").simd("f32x4.add").set(acc[t]);
          }
          f.get(col).get(stride).op("i32.add").set(col);
        });
      });
      f.get(out).get(j).i32(4).op("i32.mul").op("i32.add").set(col);
      if (nv === 0) f.get(col).get(acc[0]).extractLane(0).mem("f32.store");
      else for (let t = 0; t < nv; t++) f.get(col).get(acc[t]).simdMem("v128.store", t * 16, 0);
    };
    /** Runs `pass(nv)` for column blocks of `step` while at least `step` columns remain. */
    const blocks = (step: number, nv: number) => {
      f.block(() =>
        f.loop(() => {
          f.get(cols).get(j).op("i32.sub").set(width);
          f.get(width).i32(step).op("i32.lt_s").brIf(1);
          pass(nv);
          f.get(j).i32(step).op("i32.add").set(j);
          f.br(0);
        }),
      );
    };
    f.i32(0).set(j);
    blocks(AXPY_BLOCK, AXPY_BLOCK / 4);
    blocks(4, 1);
    blocks(1, 0);
  }, "axpyRows");

  // runChunk(chunk, slot): one share of the job in the parameter block (rows of a dotRows job,
  // columns of an axpyRows job), so that worker threads can take shares (see ./threads.ts).
  mb.func([I32, I32], [], (f) => {
    const chunk = f.param(0);
    const start = f.local(I32), count = f.local(I32);
    const P = (w: number) => f.i32(0).mem("i32.load", GEMV_PARAMS_PTR + w * 4);
    f.get(chunk);
    P(GemvParam.perChunk);
    f.op("i32.mul").set(start);
    // count = min(perChunk, total - start)
    P(GemvParam.total);
    f.get(start).op("i32.sub").set(count);
    P(GemvParam.perChunk);
    f.get(count);
    P(GemvParam.perChunk);
    f.get(count).op("i32.lt_s").op("select").set(count);
    f.get(count).i32(0).op("i32.gt_s").if(() => {
      P(GemvParam.kind);
      f.if(
        () => {
          // axpyRows over columns start..start+count-1.
          P(GemvParam.mat);
          f.get(start).i32(4).op("i32.mul").op("i32.add");
          P(GemvParam.rows);
          f.get(count);
          P(GemvParam.ld);
          P(GemvParam.v);
          P(GemvParam.out);
          f.get(start).i32(4).op("i32.mul").op("i32.add");
          f.call(axpyRows);
        },
        () => {
          // dotRows over rows start..start+count-1.
          P(GemvParam.mat);
          f.get(start);
          P(GemvParam.ld);
          f.op("i32.mul").i32(4).op("i32.mul").op("i32.add");
          f.get(count);
          P(GemvParam.ld);
          P(GemvParam.v);
          P(GemvParam.out);
          f.get(start).i32(4).op("i32.mul").op("i32.add");
          f.call(dotRows);
        },
      );
    });
  }, "runChunk");
  return mb.toBytes();
}

interface GemvExports {
  dotRows(m: number, rows: number, k: number, v: number, out: number): void;
  axpyRows(m: number, rows: number, cols: number, ld: number, v: number, out: number): void;
  runChunk(chunk: number, slot: number): void;
}

let gemvModuleCache: WasmModule | null | undefined;
let gemvExports: GemvExports | null | undefined;

/** The compiled module (for worker threads to instantiate on the same memory); null when there is no heap. */
export function gemvModule(): WasmModule | null {
  if (gemvModuleCache === undefined) {
    const api = wasmApi();
    gemvModuleCache = api && wasmMemory() ? new api.Module(buildGemvModule()) : null;
  }
  return gemvModuleCache;
}

/** The instance on the heap's memory, built on first use; null when there is no heap. */
function exportsOrNull(): GemvExports | null {
  if (gemvExports !== undefined) return gemvExports;
  const module = gemvModule();
  const api = wasmApi();
  gemvExports = module && api ? (new api.Instance(module, { env: { memory: wasmMemory() } }).exports as unknown as GemvExports) : null;
  return gemvExports;
}

/**
 * Shares `total` chunks among `slots` threads (the caller's included), running each once with
 * `run(chunk, slot)`; supplied by the gemm, which owns the worker pool.
 */
export type ShareChunks = (total: number, slots: number, run: (chunk: number, slot: number) => void) => void;

/** Writes a job into the parameter block and runs it in `chunks` shares of `per` rows or columns. */
function runJob(ex: GemvExports, kind: 0 | 1, mat: number, rows: number, ld: number, v: number, out: number, total: number, align: number, threads: number, share: ShareChunks): void {
  const per = Math.ceil(Math.ceil(total / threads) / align) * align;
  const chunks = Math.ceil(total / per);
  const p = new Int32Array(heapBuffer(), GEMV_PARAMS_PTR, 8);
  p[GemvParam.kind] = kind;
  p[GemvParam.mat] = mat;
  p[GemvParam.rows] = rows;
  p[GemvParam.ld] = ld;
  p[GemvParam.v] = v;
  p[GemvParam.out] = out;
  p[GemvParam.perChunk] = per;
  p[GemvParam.total] = total;
  share(chunks, chunks, ex.runChunk);
}

/**
 * `count` outputs from the matrix at `mat` and the k-vector at `v`: dots of its `count` rows of k
 * (`dots`), or sums over its k rows of `count` columns. With `share`, the job is split among the
 * threads: dotRows by rows in groups of 4, axpyRows by columns in blocks of 32; each element is
 * still computed by the same instructions, so sharing never changes a bit.
 */
function matVec(ex: GemvExports, dots: boolean, mat: number, count: number, k: number, v: number, out: number, threads: number, share: ShareChunks | undefined): void {
  if (share) {
    if (dots) runJob(ex, 0, mat, count, k, v, out, count, 4, threads, share);
    else runJob(ex, 1, mat, k, count, v, out, count, AXPY_BLOCK, threads, share);
  } else if (dots) ex.dotRows(mat, count, k, v, out);
  else ex.axpyRows(mat, k, count, count, v, out);
}

/** Whether the matrix-vector kernels can run (there is a heap to run them in). */
export function gemvAvailable(): boolean {
  return exportsOrNull() !== null;
}

/**
 * `C = op(A) @ op(B)` for m = 1 or n = 1, with A, B and C given as byte addresses in the heap's
 * memory (layouts as {@link gemmWasm}'s; ./gemm-wasm.ts stages operands that are elsewhere).
 * Shares big products through `share` when `threads` is above 1.
 *
 * @throws Error when there is no heap ({@link gemvAvailable} is false) or the shape is not m = 1 or n = 1.
 */
export function gemvAt(
  m: number, n: number, k: number,
  A: number, transA: boolean,
  B: number, transB: boolean,
  C: number,
  threads = 1, share?: ShareChunks,
): void {
  if (m !== 1 && n !== 1) throw new Error(`gemv: needs m = 1 or n = 1, got m=${m} n=${n}`);
  const ex = exportsOrNull();
  if (!ex) throw new Error("gemv: no WebAssembly heap on this engine");
  // A vector operand is contiguous whichever way it is flagged.
  const sharing = share !== undefined && threads > 1 && m * n * k >= gemvParallelWork ? share : undefined;
  if (n === 1 && !transA) matVec(ex, true, A, m, k, B, C, threads, sharing); // rows of A . b
  else if (m === 1 && transB) matVec(ex, true, B, n, k, A, C, threads, sharing); // rows of B (stored [n,k]) . a
  else if (m === 1) matVec(ex, false, B, n, k, A, C, threads, sharing); // a[p] * row p of B ([k,n])
  else matVec(ex, false, A, m, k, B, C, threads, sharing); // n = 1, A stored [k,m]: b[p] * row p of A
}
