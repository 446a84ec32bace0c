/**
 * Column sums in WebAssembly SIMD: `out[j] = (sum over i of x[i,j]) / div` for a float32 [rows,
 * cols] matrix, the reduction a bias gradient is (the batch axis of [batch, features]). Each sum
 * runs in float64 in increasing i, exactly as the JavaScript reducer (../reduce.ts) accumulates,
 * and is divided (for means) and rounded to float32 the same way, so the results are the same
 * bits; only the loop is faster: eight columns at a time, two float64 lanes per vector.
 */
import { ModuleBuilder, ValType, wasmApi, type Local } from "./emitter.js";
import { MAX_PAGES, heapByteOffset, wasmMemory } from "./heap.js";

const I32 = ValType.i32;
const V128 = ValType.v128;

/** Bytes 8..15 of a vector moved to bytes 0..7 (the high two float32 lanes, ready for promote_low). */
const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
/** The low 8 bytes of a, then the low 8 bytes of b (two demoted pairs into one vector of four). */
const JOIN_LOWS = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** Builds `colSums(x, rows, cols, out, div)` (byte addresses; div an f64). */
export function buildColumnSumModule(): Uint8Array {
  const mb = new ModuleBuilder();
  mb.importMemory("env", "memory", { initial: 1, maximum: MAX_PAGES, shared: true });
  mb.func([I32, I32, I32, I32, ValType.f64], [], (f) => {
    const [x, rows, cols, out, divP] = [0, 1, 2, 3, 4].map((i) => f.param(i));
    const j = f.local(I32), p = f.local(I32), end = f.local(I32), stride = f.local(I32), div = f.local(V128), v = f.local(V128);
    const acc = [0, 1, 2, 3].map(() => f.local(V128));
    f.get(divP).simd("f64x2.splat").set(div);
    f.get(cols).i32(4).op("i32.mul").set(stride);
    /** One pass down the rows for `width` columns at j: 8 (two vectors), 4 (one) or 1 (one lane). */
    const pass = (width: 8 | 4 | 1) => {
      const vectors = width === 8 ? 2 : 1;
      for (let t = 0; t < 2 * vectors; t++) f.v128Zero().set(acc[t]);
      f.get(x).get(j).i32(4).op("i32.mul").op("i32.add").set(p);
      f.get(p).get(rows).get(stride).op("i32.mul").op("i32.add").set(end);
      f.get(rows).if(() => {
        f.loop(() => {
          for (let t = 0; t < vectors; t++) {
            f.get(p);
            if (width === 1) f.simdMem("v128.load32_zero");
            else f.simdMem("v128.load", t * 16, 0);
            f.set(v);
            f.get(acc[2 * t]).get(v).simd("f64x2.promote_low_f32x4").simd("f64x2.add").set(acc[2 * t]);
            if (width !== 1) f.get(acc[2 * t + 1]).get(v).get(v).shuffle(HIGH_TO_LOW).simd("f64x2.promote_low_f32x4").simd("f64x2.add").set(acc[2 * t + 1]);
          }
          f.get(p).get(stride).op("i32.add").tee(p).get(end).op("i32.lt_u").brIf(0);
        });
      });
      const rounded = (a: Local) => f.get(a).get(div).simd("f64x2.div").simd("f32x4.demote_f64x2_zero");
      for (let t = 0; t < vectors; t++) {
        f.get(out).get(j).i32(4).op("i32.mul").op("i32.add");
        if (width === 1) {
          rounded(acc[0]);
          f.simdLaneMem("v128.store32_lane", 0);
        } else {
          rounded(acc[2 * t]);
          rounded(acc[2 * t + 1]);
          f.shuffle(JOIN_LOWS).simdMem("v128.store", t * 16, 0);
        }
      }
    };
    const blocks = (width: 8 | 4 | 1) =>
      f.block(() =>
        f.loop(() => {
          f.get(cols).get(j).op("i32.sub").i32(width).op("i32.lt_s").brIf(1);
          pass(width);
          f.get(j).i32(width).op("i32.add").set(j);
          f.br(0);
        }),
      );
    f.i32(0).set(j);
    blocks(8);
    blocks(4);
    blocks(1);
  }, "colSums");
  return mb.toBytes();
}

let colSumsFn: ((x: number, rows: number, cols: number, out: number, div: number) => void) | null | undefined;

/**
 * `out[j] = (sum_i x[i*cols + j]) / div`, float64 sums in increasing i, rounded to float32 — the
 * same bits as the JavaScript reducer — when x and out are float32 tensors in the wasm heap.
 * Returns false, doing nothing, otherwise (no heap, or an array outside it).
 */
export function columnSumsWasm(x: Float32Array, rows: number, cols: number, out: Float32Array, div: number): boolean {
  if (colSumsFn === undefined) {
    const api = wasmApi();
    const memory = wasmMemory();
    colSumsFn = api && memory ? (new api.Instance(new api.Module(buildColumnSumModule()), { env: { memory } }).exports.colSums as typeof colSumsFn) : null;
  }
  const xAt = heapByteOffset(x), outAt = heapByteOffset(out);
  if (!colSumsFn || xAt < 0 || outAt < 0) return false;
  colSumsFn(xAt, rows, cols, outAt, div);
  return true;
}
