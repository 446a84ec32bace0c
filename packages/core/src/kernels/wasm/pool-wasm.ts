/**
 * 2x2, stride-2, unpadded max pooling and its gradient in WebAssembly SIMD (float32 tensors in
 * the heap), the pooling every small CNN uses. Four adjacent outputs per f32x4: the even and odd
 * columns of the window's two input rows are shuffled apart, giving the window's four values
 * a, b, c, d (row-major) as four vectors. The JavaScript kernel's scalar scan branches on every
 * comparison, which random data mispredicts about half the time.
 *
 * Same bits as ../pool.ts, lane by lane: the scan keeps the first maximum in row-major order
 * (`best < v` takes v, as the JS kernel's `v > best`, so of equal values, -0 and +0 included, the
 * first wins) and the first NaN (once best is NaN no comparison takes a later value); the gradient
 * writes `0 + gy` at that position and `+0` at the other three, as the JS kernel's `dx.fill(0);
 * dx[at] += gy[o]` does (which turns a -0 cotangent into +0). A row's last, partial vector of
 * outputs loads and stores lane by lane, so nothing past a tensor's end is read or written.
 */
import { ModuleBuilder, ValType, type FunctionBuilder, type Local } from "./emitter.js";
import { heapByteOffset, wasmMemory } from "./heap.js";
import { acrossRow, addChunkEntry, chunkedKernel, runChunked, upTo } from "./generated.js";
import type { PoolGeometry } from "../pool.js";

const I32 = ValType.i32;
const V128 = ValType.v128;

/** Byte lanes picking float lanes 0, 2 of a then 0, 2 of b (even columns), and 1, 3 of each (odd columns). */
const EVENS = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
const ODDS = EVENS.map((b) => b + 4);
/** Interleaving evens e and odds o back into columns: e0 o0 e1 o1, then e2 o2 e3 o3. */
const LOW_PAIRS = [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23];
const HIGH_PAIRS = LOW_PAIRS.map((b) => b + 8);

/** The shape a generated module is specialised on: planes (batch x channels), input and output sizes. */
interface Pool2Shape {
  W: number;
  H: number;
  OH: number;
  OW: number;
}

/**
 * Builds `fwd(x, out, unused, p0, p1)` or `grad(x, gy, dx, p0, p1)` (byte addresses; planes
 * p0..p1-1), with a `runChunk` entry over planes. `grad` writes every input element a window
 * covers; the caller zeroes the rows and columns no window covers (odd H or W).
 */
function buildPool2Module(mb: ModuleBuilder, s: Pool2Shape, grad: boolean, paramsAt: number): void {
  const { W, H, OH, OW } = s;
  const kernel = mb.func([I32, I32, I32, I32, I32], [], (f) => {
    const x = f.param(0), gy = f.param(1), out = f.param(grad ? 2 : 1), p0 = f.param(3), p1 = f.param(4);
    const p = f.local(I32), oh = f.local(I32), v = f.local(I32), zero = f.local(I32), xrow = f.local(I32), orow = f.local(I32);
    const win = [0, 1, 2, 3].map(() => f.local(V128)); // a, b, c, d
    const lo = f.local(V128), hi = f.local(V128), best = f.local(V128), idx = f.local(V128), nan = f.local(V128);
    const isNan = f.local(V128), take = f.local(V128), g = f.local(V128), dx = [0, 1, 2, 3].map(() => f.local(V128));
    /** The window values of the outputs at byte offset v (x read at 2v): whole vectors, or `lanes` < 4 lane by lane. */
    const loadWindows = (lanes: number) => {
      for (let r = 0; r < 2; r++) {
        const rowOff = r * W * 4;
        if (lanes === 4) {
          f.get(xrow).get(v).get(v).op("i32.add").op("i32.add").simdMem("v128.load", rowOff, 2).set(lo);
          f.get(xrow).get(v).get(v).op("i32.add").op("i32.add").simdMem("v128.load", rowOff + 16, 2).set(hi);
          f.get(lo).get(hi).shuffle(EVENS).set(win[2 * r]);
          f.get(lo).get(hi).shuffle(ODDS).set(win[2 * r + 1]);
        } else {
          for (let c = 0; c < 2; c++) {
            const w = win[2 * r + c];
            f.v128Zero().set(w);
            for (let l = 0; l < lanes; l++) f.get(xrow).get(v).get(v).op("i32.add").op("i32.add").get(w).simdLaneMem("v128.load32_lane", l, rowOff + (2 * l + c) * 4).set(w);
          }
        }
      }
    };
    /** best, idx: the first maximum (or first NaN) of a, b, c, d per lane. */
    const scan = () => {
      f.get(win[0]).set(best);
      f.v128Zero().set(idx);
      f.get(best).get(best).simd("f32x4.ne").set(nan);
      for (let k = 1; k < 4; k++) {
        const w = win[k];
        f.get(w).get(w).simd("f32x4.ne").set(isNan);
        // take = best < w, or w is the first NaN
        f.get(best).get(w).simd("f32x4.lt").get(isNan).get(nan).simd("v128.andnot").simd("v128.or").set(take);
        f.get(w).get(best).get(take).simd("v128.bitselect").set(best);
        f.i32x4Const(k).get(idx).get(take).simd("v128.bitselect").set(idx);
        f.get(nan).get(isNan).simd("v128.or").set(nan);
      }
    };
    /** Stores `val` at byte offset `off` from the address `addr` pushes: a whole vector, or its first `lanes` lanes. */
    const store = (addr: () => void, val: Local, off: number, lanes: number) => {
      if (lanes === 4) {
        addr();
        f.get(val).simdMem("v128.store", off, 2);
      } else {
        for (let l = 0; l < lanes; l++) {
          addr();
          f.get(val).simdLaneMem("v128.store32_lane", l, off + l * 4);
        }
      }
    };
    const vector = (lanes: number) => {
      loadWindows(lanes);
      scan();
      const outAt = () => f.get(orow).get(v).op("i32.add");
      if (!grad) {
        store(outAt, best, 0, lanes);
        return;
      }
      if (lanes === 4) f.get(orow).get(v).op("i32.add").simdMem("v128.load", 0, 2).set(g);
      else {
        f.v128Zero().set(g);
        for (let l = 0; l < lanes; l++) f.get(orow).get(v).op("i32.add").get(g).simdLaneMem("v128.load32_lane", l, l * 4).set(g);
      }
      // dx_k = 0 + (idx == k ? gy : 0), so a -0 cotangent lands as +0, as `dx[at] += gy` gives.
      for (let k = 0; k < 4; k++) {
        f.get(g).v128Zero().get(idx).i32x4Const(k).simd("i32x4.eq").simd("v128.bitselect").v128Zero().simd("f32x4.add").set(dx[k]);
      }
      // Back to columns: row r gets (dx_2r, dx_2r+1) interleaved, at x's addresses.
      const xAt = () => f.get(xrow).get(v).get(v).op("i32.add").op("i32.add").get(out).op("i32.add").get(x).op("i32.sub");
      for (let r = 0; r < 2; r++) {
        f.get(dx[2 * r]).get(dx[2 * r + 1]).shuffle(LOW_PAIRS).set(lo);
        f.get(dx[2 * r]).get(dx[2 * r + 1]).shuffle(HIGH_PAIRS).set(hi);
        // lanes < 4 outputs cover 2*lanes columns: lo holds the first four, hi the rest.
        store(xAt, lo, r * W * 4, Math.min(4, 2 * lanes));
        if (2 * lanes > 4) store(xAt, hi, r * W * 4 + 16, 2 * lanes - 4);
      }
    };
    const ohEnd = f.local(I32);
    f.i32(0).set(zero);
    f.i32(OH).set(ohEnd);
    upTo(f, p, p0, p1, () => {
      upTo(f, oh, zero, ohEnd, () => {
        // xrow = x + (p*H + 2*oh) * W * 4; orow = (grad ? gy : out) + (p*OH + oh) * OW * 4
        f.get(x).get(p).i32(H * W * 4).op("i32.mul").op("i32.add").get(oh).i32(2 * W * 4).op("i32.mul").op("i32.add").set(xrow);
        f.get(grad ? gy : out).get(p).i32(OH * OW * 4).op("i32.mul").op("i32.add").get(oh).i32(OW * 4).op("i32.mul").op("i32.add").set(orow);
        acrossRow(f, v, OW, vector);
      });
    });
  }, grad ? "grad" : "fwd");
  addChunkEntry(mb, paramsAt, kernel, 0);
}

/** Whether the SIMD kernels take this pooling: a 2x2 window, stride 2, no padding, with a heap to run in. */
function applies(g: PoolGeometry): boolean {
  return g.kh === 2 && g.kw === 2 && g.sh === 2 && g.sw === 2 && g.ph === 0 && g.pw === 0 && wasmMemory() !== undefined;
}

/** Runs the forward or gradient kernel for `g`'s shape on all planes; false when the heap cannot hold the kernel. */
function run(g: PoolGeometry, grad: boolean, args: [number, number, number], work: number): boolean {
  const s: Pool2Shape = { W: g.W, H: g.H, OH: g.OH, OW: g.OW };
  const k = chunkedKernel(`pool2 ${grad} ${JSON.stringify(s)}`, (mb, at) => buildPool2Module(mb, s, grad, at));
  if (!k) return false;
  runChunked(k, args, g.BC, [], work);
  return true;
}

/**
 * max_pool2d 2x2 / stride 2 / no padding of float32 heap tensors: true when done, false (nothing
 * done) when the pooling or the arrays do not qualify.
 */
export function maxPool2x2Wasm(x: Float32Array, out: Float32Array, g: PoolGeometry): boolean {
  const xAt = heapByteOffset(x), outAt = heapByteOffset(out);
  if (xAt < 0 || outAt < 0 || !applies(g)) return false;
  return run(g, false, [xAt, outAt, 0], x.length);
}

/** Gradient of {@link maxPool2x2Wasm} into `dx` (overwritten): true when done, false when it does not qualify. */
export function maxPool2x2GradWasm(x: Float32Array, gy: Float32Array, dx: Float32Array, g: PoolGeometry): boolean {
  const xAt = heapByteOffset(x), gyAt = heapByteOffset(gy), dxAt = heapByteOffset(dx);
  if (xAt < 0 || gyAt < 0 || dxAt < 0 || !applies(g)) return false;
  // Rows and columns no window covers (odd H or W) get zeros; the kernel writes the rest.
  if (g.H % 2 !== 0 || g.W % 2 !== 0) dx.fill(0);
  return run(g, true, [xAt, gyAt, dxAt], x.length);
}
