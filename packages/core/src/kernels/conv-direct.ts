/**
 * Direct convolution kernels: each output row computed from the input rows it reads, with no
 * im2col matrix in between. ./conv.ts chooses between these and its im2col + gemm kernels per
 * shape (see `convPath` there); this file only computes.
 *
 * WebAssembly SIMD only (float32 on the wasm backend): a JavaScript direct loop (double sums, the
 * reference's order) was measured 2-3x slower than im2col + the TypeScript gemm at the cnn shapes,
 * float32 and float64, so the JS backend and float64 keep im2col.
 *
 * The forward kernel ({@link conv2dDirectWasm}) computes four adjacent output columns per f32x4,
 * two output rows by four output channels per pass (each weight splat feeding both rows; a lone
 * last row takes eight channels), in code generated per geometry
 * (the sizes become constants and the taps unroll) and cached. The input is first copied into a
 * zero-padded scratch image, so the inner loop has no bounds checks and each output is
 * `acc = acc + x * w` over (channel, kernel row, kernel column) in increasing order from zero,
 * with padding taps adding `0 * w`: the same float32 operations, in the same order, as the wasm
 * gemm runs on the im2col matrix (fused `relaxed_madd` exactly when the gemm uses it). So the
 * direct and im2col forward kernels give the same bits, and the choice never changes a forward
 * result.
 *
 * The input gradient of a stride-1 convolution is itself a convolution (of the zero-padded output
 * gradient with the flipped, channel-transposed weight), so {@link conv2dGradInputDirectWasm} runs
 * the same generated kernel; its sums run over (output channel, kernel row, kernel column), an
 * order of its own, so it agrees with the im2col input gradient within float32 rounding only.
 *
 * The forward kernel can also apply a per-channel epilogue ({@link DirectEpilogue}: the graph's
 * conv bias, and exact elementwise follow-ups, ./gemm-epilogue.ts) to each output vector as it
 * stores it, running the program's generated SIMD code (./wasm/simd-program.ts) on the final
 * accumulator with the channel's operand values splatted: the same float32 operations on the same
 * stored value as the program's separate kernel, so the same bits, in one pass over the output.
 */
import { MAX_EPILOGUE_OPERANDS, relaxedSimdSupported, type EpilogueSpec } from "./wasm/gemm-wasm.js";
import { ModuleBuilder, ValType, wasmApi, type FunctionBuilder, type Local } from "./wasm/emitter.js";
import { emitProgram } from "./wasm/simd-program.js";
import { acrossRow, addChunkEntry, chunkedKernel, runChunked, upTo, type ChunkedKernel } from "./wasm/generated.js";
import { MAX_PAGES, heapAlloc, heapBuffer, heapByteOffset, heapFree, wasmMemory } from "./wasm/heap.js";
import type { ConvGeometry } from "./conv.js";

const I32 = ValType.i32;
const V128 = ValType.v128;

/**
 * Accumulators of one pass of the forward kernel: 8 vectors, as 2 rows x 4 channels (measured
 * 3-20% faster than 1 row x 8 at the cnn's shapes; 2 x 6 was no better) or 1 row x 8 channels.
 * With the inputs and temporaries they fit the 16 vector registers V8 allocates from.
 */
const CHANNEL_BLOCK = 8;

/**
 * An epilogue of the forward kernel: program input 0 is an output element's float32 value, input
 * k >= 1 operand k - 1, one value per output channel (`column`, K floats) or one value (`scalar`).
 */
export interface DirectEpilogue {
  /** Names the program and layouts (what the generated code depends on). */
  readonly key: string;
  readonly spec: EpilogueSpec;
  /** The operands of this call, each a heap tensor (else the kernel declines). */
  readonly operands: readonly Float32Array[];
}

/** The constants one generated forward kernel is specialised on. */
interface DirectShape {
  /** Input channels, output channels. */
  C: number;
  K: number;
  /** Padded input: rows per plane and floats per row (the row stride). */
  Hp: number;
  Wr: number;
  kh: number;
  kw: number;
  sh: number;
  dh: number;
  dw: number;
  OH: number;
  OW: number;
  relaxed: boolean;
}

/**
 * Builds `fwd(xp, w, out, b0, b1)` (byte addresses; images b0..b1-1): out[b,k,oh,ow] = sum over
 * (c, i, j) of xp[b, c, oh*sh + i*dh, ow + j*dw] * w[k, c, i, j], xp already zero-padded (stride
 * 1 along the width, which the f32x4 over adjacent columns needs).
 */
function buildDirectModule(mb: ModuleBuilder, s: DirectShape, paramsAt: number, epilogue?: EpilogueSpec): void {
  const { C, K, Hp, Wr, kh, kw, sh, dh, dw, OH, OW, relaxed } = s;
  const T = kh * kw;
  const plane = Hp * Wr * 4; // bytes per padded input plane
  const layouts = epilogue?.layouts ?? [];
  const fwd = mb.func([I32, I32, I32, I32, I32, ...layouts.map(() => I32)], [], (f) => {
    const [xp, w, out, b0, b1] = [0, 1, 2, 3, 4].map((i) => f.param(i));
    // The epilogue's operand addresses (params 5..) and their values for one channel, splatted.
    const operandAt = layouts.map((_, k) => f.param(5 + k));
    const operand = layouts.map(() => f.local(V128));
    const b = f.local(I32), oh = f.local(I32), xrow = f.local(I32), orow = f.local(I32);
    const px = f.local(I32), pw = f.local(I32), c = f.local(I32), v = f.local(I32);
    const xv = [f.local(V128), f.local(V128)], wv = f.local(V128), prod = f.local(V128);
    const acc = [0, 1].map(() => Array.from({ length: Math.min(K, CHANNEL_BLOCK) }, () => f.local(V128)));
    /**
     * Output vectors at byte offset `v` from xrow/orow, all K channels, for `rows` (1 or 2)
     * adjacent output rows (two rows share each weight splat); `lanes` < 4 stores only that many.
     */
    const vector = (lanes: number, rows: number) => {
      const block = rows === 2 ? CHANNEL_BLOCK / 2 : CHANNEL_BLOCK;
      for (let k0 = 0; k0 < K; k0 += block) {
        const kn = Math.min(block, K - k0);
        for (let r = 0; r < rows; r++) for (let kk = 0; kk < kn; kk++) f.v128Zero().set(acc[r][kk]);
        f.get(xrow).get(v).op("i32.add").set(px);
        f.get(w).i32(k0 * C * T * 4).op("i32.add").set(pw);
        const channel = () => {
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              for (let r = 0; r < rows; r++) f.get(px).simdMem("v128.load", ((r * sh + i * dh) * Wr + j * dw) * 4, 2).set(xv[r]);
              for (let kk = 0; kk < kn; kk++) {
                f.get(pw).simdMem("v128.load32_splat", (kk * C * T + i * kw + j) * 4).set(wv);
                for (let r = 0; r < rows; r++) {
                  if (relaxed) f.get(xv[r]).get(wv).get(acc[r][kk]).simd("f32x4.relaxed_madd");
                  else f.get(xv[r]).get(wv).simd("f32x4.mul").set(prod).get(acc[r][kk]).get(prod).simd("f32x4.add");
                  f.set(acc[r][kk]);
                }
              }
            }
        };
        if (C === 1) channel();
        else {
          f.i32(C).set(c);
          f.loop(() => {
            channel();
            f.get(px).i32(plane).op("i32.add").set(px);
            f.get(pw).i32(T * 4).op("i32.add").set(pw);
            f.get(c).i32(1).op("i32.sub").tee(c).brIf(0);
          });
        }
        for (let kk = 0; kk < kn; kk++) {
          layouts.forEach((layout, e) => f.get(operandAt[e]).simdMem("v128.load32_splat", layout === "column" ? (k0 + kk) * 4 : 0).set(operand[e]));
          for (let r = 0; r < rows; r++) {
            // The accumulator is the value a plain store writes: the epilogue runs on exactly that.
            if (epilogue) {
              emitProgram(f, epilogue.ops, [acc[r][kk], ...operand]);
              f.set(acc[r][kk]);
            }
            const off = ((k0 + kk) * OH + r) * OW * 4;
            if (lanes === 4) f.get(orow).get(v).op("i32.add").get(acc[r][kk]).simdMem("v128.store", off, 2);
            else for (let l = 0; l < lanes; l++) f.get(orow).get(v).op("i32.add").get(acc[r][kk]).simdLaneMem("v128.store32_lane", l, off + l * 4);
          }
        }
      }
    };
    /** Rows oh .. oh+rows-1 of image b. */
    const rowsAt = (rows: number) => {
      // xrow = xp + (b*C*Hp + oh*sh) * Wr * 4; orow = out + (b*K*OH + oh) * OW * 4
      f.get(xp).get(b).i32(C * plane).op("i32.mul").op("i32.add").get(oh).i32(sh * Wr * 4).op("i32.mul").op("i32.add").set(xrow);
      f.get(out).get(b).i32(K * OH * OW * 4).op("i32.mul").op("i32.add").get(oh).i32(OW * 4).op("i32.mul").op("i32.add").set(orow);
      acrossRow(f, v, OW, (lanes) => vector(lanes, rows));
    };
    const pairs = Math.floor(OH / 2);
    upTo(f, b, b0, b1, () => {
      f.i32(0).set(oh);
      if (pairs > 0) {
        f.loop(() => {
          rowsAt(2);
          f.get(oh).i32(2).op("i32.add").tee(oh).i32(2 * pairs).op("i32.lt_u").brIf(0);
        });
      }
      if (OH % 2 !== 0) rowsAt(1);
    });
  }, "fwd");
  addChunkEntry(mb, paramsAt, fwd, layouts.length);
}

/**
 * Builds `gw(xp, gy, dw, k0, k1, B)` (byte addresses; output channels k0..k1-1): dw[k,c,i,j] = sum
 * over (b, oh, ow) of gy[b,k,oh,ow] * xp[b, c, oh*sh + i*dh, ow + j*dw], xp zero-padded as for
 * `fwd`. Each weight gets four lane partial sums (ow mod 4) accumulated in (b, oh, ow) order,
 * added as (l0 + l1) + (l2 + l3) at the end; the last, partial vector of a row loads only its
 * lanes of gy and has the unused lanes' products zeroed by a mask (0 * an infinite input would
 * otherwise leak a NaN into them).
 */
function buildGradWeightModule(mb: ModuleBuilder, s: DirectShape, paramsAt: number): void {
  const { C, K, Hp, Wr, kh, kw, sh, dh, dw, OH, OW, relaxed } = s;
  const T = kh * kw;
  const plane = Hp * Wr * 4;
  const gw = mb.func([I32, I32, I32, I32, I32, I32], [], (f) => {
    const [xp, gy, dwp, k0, k1, B] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i));
    const k = f.local(I32), c = f.local(I32), b = f.local(I32), oh = f.local(I32), v = f.local(I32);
    const xrow = f.local(I32), grow = f.local(I32), px = f.local(I32), zero = f.local(I32);
    const gv = f.local(V128), prod = f.local(V128), mask = f.local(V128);
    const acc = Array.from({ length: T }, () => f.local(V128));
    const tail = OW % 4;
    if (tail) f.i32x4Const([0, 1, 2, 3].map((l) => (l < tail ? -1 : 0))).set(mask);
    /** One vector of columns at byte offset v: gy loaded once, every tap's input vector multiplied into its accumulator. */
    const vector = (lanes: number) => {
      const masked = lanes < 4;
      if (!masked) f.get(grow).get(v).op("i32.add").simdMem("v128.load", 0, 2).set(gv);
      else {
        // Lane by lane, so the last row's partial vector does not read past the end of gy.
        f.v128Zero().set(gv);
        for (let l = 0; l < tail; l++) f.get(grow).get(v).op("i32.add").get(gv).simdLaneMem("v128.load32_lane", l, l * 4).set(gv);
      }
      f.get(xrow).get(v).op("i32.add").set(px);
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) {
          const a = acc[i * kw + j];
          f.get(px).simdMem("v128.load", (i * dh * Wr + j * dw) * 4, 2).get(gv).simd("f32x4.mul");
          if (masked) f.set(prod).get(prod).v128Zero().get(mask).simd("v128.bitselect");
          f.set(prod).get(a).get(prod).simd("f32x4.add").set(a);
        }
    };
    void relaxed; // a product and a sum per step, like the gemm without relaxed SIMD; the fused form would need its own masking
    upTo(f, k, k0, k1, () => {
      f.i32(0).set(c);
      f.loop(() => {
        for (const a of acc) f.v128Zero().set(a);
        f.i32(0).set(zero);
        upTo(f, b, zero, B, () => {
          f.i32(0).set(oh);
          f.loop(() => {
            // xrow = xp + ((b*C + c)*Hp + oh*sh)*Wr*4; grow = gy + ((b*K + k)*OH + oh)*OW*4
            f.get(xp).get(b).i32(C).op("i32.mul").get(c).op("i32.add").i32(plane).op("i32.mul").op("i32.add")
              .get(oh).i32(sh * Wr * 4).op("i32.mul").op("i32.add").set(xrow);
            f.get(gy).get(b).i32(K).op("i32.mul").get(k).op("i32.add").i32(OH * OW * 4).op("i32.mul").op("i32.add")
              .get(oh).i32(OW * 4).op("i32.mul").op("i32.add").set(grow);
            acrossRow(f, v, OW, vector);
            f.get(oh).i32(1).op("i32.add").tee(oh).i32(OH).op("i32.lt_u").brIf(0);
          });
        });
        // dw[k, c, tap] = (l0 + l1) + (l2 + l3)
        for (let t = 0; t < T; t++) {
          f.get(dwp).get(k).i32(C).op("i32.mul").get(c).op("i32.add").i32(T * 4).op("i32.mul").op("i32.add");
          f.get(acc[t]).extractLane(0).get(acc[t]).extractLane(1).op("f32.add");
          f.get(acc[t]).extractLane(2).get(acc[t]).extractLane(3).op("f32.add").op("f32.add");
          f.mem("f32.store", t * 4);
        }
        f.get(c).i32(1).op("i32.add").tee(c).i32(C).op("i32.lt_u").brIf(0);
      });
    });
  }, "gw");
  addChunkEntry(mb, paramsAt, gw, 1);
}

/** The kernel `build` makes for `s`, compiled once per shape; null when the heap cannot hold it. */
function kernelFor(name: string, build: (mb: ModuleBuilder, s: DirectShape, paramsAt: number) => void, s: DirectShape): ChunkedKernel | null {
  return chunkedKernel(`${name} ${JSON.stringify(s)}`, (mb, at) => build(mb, s, at));
}

/** Heap addresses of `e`'s operands, checked against K output channels; null when one is not a heap tensor. */
function epilogueAddresses(e: DirectEpilogue, K: number): number[] | null {
  const { layouts } = e.spec;
  if (layouts.length > MAX_EPILOGUE_OPERANDS || e.operands.length !== layouts.length) {
    throw new RangeError(`conv direct: an epilogue needs one operand per layout (at most ${MAX_EPILOGUE_OPERANDS}), got ${e.operands.length} for ${layouts.length}`);
  }
  const at: number[] = [];
  for (let k = 0; k < layouts.length; k++) {
    const layout = layouts[k], a = e.operands[k];
    if (layout !== "column" && layout !== "scalar") throw new RangeError(`conv direct: epilogue operand ${k} must be per channel or scalar, got ${layout}`);
    const want = layout === "column" ? K : 1;
    if (a.length !== want) throw new RangeError(`conv direct: epilogue operand ${k} (${layout}) must hold ${want} floats for ${K} output channels, got ${a.length}`);
    at.push(heapByteOffset(a));
    if (at[k] < 0) return null;
  }
  return at;
}

/** Heap scratch blocks (padded input, staged weight or gradient, staged output, staged unpadded input), kept between calls and grown by doubling. */
const blocks: { at: number; bytes: number }[] = [0, 1, 2, 3].map(() => ({ at: -1, bytes: 0 }));

/** A float32 view of heap scratch block `slot` with at least `n` elements; null when the heap cannot grow. */
function heapScratch(slot: number, n: number): Float32Array | null {
  const s = blocks[slot];
  if (s.bytes < n * 4) {
    if (s.at >= 0) heapFree(s.at, s.bytes);
    const want = Math.max(n * 4, 2 * s.bytes, 64 * 1024);
    s.at = heapAlloc(want);
    s.bytes = s.at < 0 ? 0 : want;
    if (s.at < 0) return null;
  }
  return new Float32Array(heapBuffer(), s.at, n);
}

/** Whether the wasm direct kernels can run here (a shared wasm heap to run in). */
export function directWasmAvailable(): boolean {
  return wasmMemory() !== undefined && wasmApi() !== undefined;
}

/** `pad(src, dst, planes, H, W, Hp, Wr, pt, pl)`: see {@link padInput}; byte addresses, sizes in floats. */
type PadRows = (src: number, dst: number, planes: number, H: number, W: number, Hp: number, Wr: number, pt: number, pl: number) => void;

/**
 * The row padder, one small module for every shape (sizes are arguments): zeroes the padded
 * block with `memory.fill`, then copies each input row into place with `memory.copy`. A
 * JavaScript loop over the elements was a tenth of the cnn's step (four paddings of up to 200k
 * floats a step); two bulk-memory instructions per row run at memcpy speed. Null without a heap.
 */
function padRows(): PadRows | null {
  if (padRowsFn === undefined) {
    const api = wasmApi(), memory = wasmMemory();
    padRowsFn = api && memory ? (new api.Instance(new api.Module(buildPadModule()), { env: { memory } }).exports.pad as PadRows) : null;
  }
  return padRowsFn;
}
let padRowsFn: PadRows | null | undefined;

/** Builds the module of {@link padRows}: `pad` over the shared heap memory. */
function buildPadModule(): Uint8Array {
  const mb = new ModuleBuilder();
  mb.importMemory("env", "memory", { initial: 1, maximum: MAX_PAGES, shared: true });
  mb.func(Array<ValType>(9).fill(ValType.i32), [], (f) => {
    const [src, dst, planes, H, W, Hp, Wr, pt, pl] = Array.from({ length: 9 }, (_, i) => f.param(i));
    const zero = f.local(ValType.i32), p = f.local(ValType.i32), h = f.local(ValType.i32), d = f.local(ValType.i32);
    const rowBytes = f.local(ValType.i32), strideBytes = f.local(ValType.i32);
    f.get(W).i32(2).op("i32.shl").set(rowBytes);
    f.get(Wr).i32(2).op("i32.shl").set(strideBytes);
    // Everything to zero first: the padding rows and columns, and what lies past them.
    f.get(dst).i32(0).get(planes).get(Hp).op("i32.mul").get(Wr).op("i32.mul").i32(2).op("i32.shl").memoryFill();
    upTo(f, p, zero, planes, () => {
      // d = dst + ((p * Hp + pt) * Wr + pl) * 4: the first row's place in plane p.
      f.get(dst).get(p).get(Hp).op("i32.mul").get(pt).op("i32.add").get(Wr).op("i32.mul").get(pl).op("i32.add").i32(2).op("i32.shl").op("i32.add").set(d);
      upTo(f, h, zero, H, () => {
        f.get(d).get(src).get(rowBytes).memoryCopy();
        f.get(src).get(rowBytes).op("i32.add").set(src);
        f.get(d).get(strideBytes).op("i32.add").set(d);
      });
    });
  }, "pad");
  return mb.toBytes();
}

/**
 * Copies `x` [B,C,H,W] into heap scratch block 0 as [B,C,Hp,Wr] with pt rows of zeros on top and
 * pl columns on the left, and zeros below and right as far as the kernels read: rows up to
 * (OH-1)*sh + (kh-1)*dh, columns up to ceil(OW/4)*4 - 1 + (kw-1)*dw (a partial output vector
 * still loads four columns). An `x` outside the heap is staged in scratch block 3 first. Null
 * when the heap cannot grow.
 */
function padInput(
  x: Float32Array, B: number, C: number, H: number, W: number, kh: number, kw: number,
  sh: number, dh: number, dw: number, pt: number, pl: number, OH: number, OW: number,
): { xp: Float32Array; Hp: number; Wr: number } | null {
  const Hp = Math.max(H + pt, (OH - 1) * sh + (kh - 1) * dh + 1);
  const Wr = Math.max(W + pl, Math.ceil(OW / 4) * 4 + (kw - 1) * dw);
  const xp = heapScratch(0, B * C * Hp * Wr);
  const pad = padRows();
  if (!xp || !pad) return null;
  let src = heapByteOffset(x);
  if (src < 0) {
    const staged = heapScratch(3, x.length);
    if (!staged) return null;
    staged.set(x);
    src = staged.byteOffset;
  }
  pad(src, xp.byteOffset, B * C, H, W, Hp, Wr, pt, pl);
  return { xp, Hp, Wr };
}

/**
 * Runs the generated kernel for a stride-1-along-width convolution of `x` [B,C,H,W] by `w`
 * [K,C,kh,kw] with padding (pt, pl) on top/left and enough zeros right and below, into `out`
 * [B,K,OH,OW]. False (nothing done) when the heap cannot hold the scratch.
 */
function runDirect(
  x: Float32Array, w: Float32Array, out: Float32Array,
  B: number, C: number, H: number, W: number, K: number, kh: number, kw: number,
  sh: number, dh: number, dw: number, pt: number, pl: number, OH: number, OW: number, epilogue?: DirectEpilogue,
): boolean {
  const operandsAt = epilogue ? epilogueAddresses(epilogue, K) : [];
  if (!operandsAt) return false;
  const pad = padInput(x, B, C, H, W, kh, kw, sh, dh, dw, pt, pl, OH, OW);
  if (!pad) return false;
  const name = epilogue ? `fwd+${epilogue.key}` : "fwd";
  const k = kernelFor(name, (mb, s, at) => buildDirectModule(mb, s, at, epilogue?.spec), { C, K, Hp: pad.Hp, Wr: pad.Wr, kh, kw, sh, dh, dw, OH, OW, relaxed: relaxedSimdSupported() });
  if (!k) return false;
  return inHeap(w, out, (wAt, outAt) => runChunked(k, [pad.xp.byteOffset, wAt, outAt], B, operandsAt, B * K * OH * OW * C * kh * kw));
}

/**
 * Runs `run(operand address, output address)` with both arrays in the heap: used in place when
 * they are heap tensors, else the operand copied into scratch block 1 and the output written to
 * block 2 and copied back. False (nothing run) when the heap cannot hold the copies.
 */
function inHeap(operand: Float32Array, out: Float32Array, run: (operandAt: number, outAt: number) => void): boolean {
  const at = heapByteOffset(operand);
  const staged = at < 0 ? heapScratch(1, operand.length) : null;
  const outAt = heapByteOffset(out);
  const outStaged = outAt < 0 ? heapScratch(2, out.length) : null;
  if ((at < 0 && !staged) || (outAt < 0 && !outStaged)) return false;
  staged?.set(operand);
  run(staged ? staged.byteOffset : at, outStaged ? outStaged.byteOffset : outAt);
  if (outStaged) out.set(outStaged);
  return true;
}

/**
 * Direct weight gradient in WebAssembly SIMD (float32, stride 1 along the width): deterministic,
 * within float32 rounding of the im2col kernel (its sums run in another order). False, doing
 * nothing, when the heap cannot hold the padded copy.
 */
export function conv2dGradWeightDirectWasm(x: Float32Array, gy: Float32Array, dwt: Float32Array, g: ConvGeometry): boolean {
  const { B, C, H, W, K, kh, kw, sh, ph, pw, dh, dw, OH, OW } = g;
  const pad = padInput(x, B, C, H, W, kh, kw, sh, dh, dw, ph, pw, OH, OW);
  if (!pad) return false;
  const k = kernelFor("gw", buildGradWeightModule, { C, K, Hp: pad.Hp, Wr: pad.Wr, kh, kw, sh, dh, dw, OH, OW, relaxed: false });
  if (!k) return false;
  return inHeap(gy, dwt, (gyAt, dwAt) => runChunked(k, [pad.xp.byteOffset, gyAt, dwAt], K, [B], B * K * OH * OW * C * kh * kw));
}

/**
 * Direct conv2d in WebAssembly SIMD (float32, stride 1 along the width): the same bits as the
 * im2col + wasm gemm kernel; with `epilogue`, its program applied to each output as it is stored
 * (the same bits as running it separately afterwards). False, doing nothing, when the heap cannot
 * hold the padded copy or an epilogue operand is not a heap tensor.
 *
 * @throws RangeError when an epilogue operand is not one float per output channel (or one in all).
 */
export function conv2dDirectWasm(x: Float32Array, w: Float32Array, out: Float32Array, g: ConvGeometry, epilogue?: DirectEpilogue): boolean {
  const { B, C, H, W, K, kh, kw, sh, ph, pw, dh, dw, OH, OW } = g;
  return runDirect(x, w, out, B, C, H, W, K, kh, kw, sh, dh, dw, ph, pw, OH, OW, epilogue);
}

/** The weight for the input gradient as a forward convolution: wt[c,k,i,j] = w[k,c,kh-1-i,kw-1-j]. */
function flippedTransposed(w: Float32Array, K: number, C: number, kh: number, kw: number): Float32Array {
  const wt = heapScratch(1, w.length) ?? new Float32Array(w.length);
  for (let k = 0; k < K; k++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) wt[((c * K + k) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)] = w[((k * C + c) * kh + i) * kw + j];
  return wt;
}

/**
 * Direct input gradient in WebAssembly SIMD for a stride-1 convolution whose padding is at most
 * its dilated kernel extent minus one on each axis (so the equivalent forward convolution pads
 * by a non-negative amount): dx = conv2d(gy, flipped w^T) with padding (kh-1)*dh - ph. False,
 * doing nothing, when the heap cannot hold the scratch.
 */
export function conv2dGradInputDirectWasm(gy: Float32Array, w: Float32Array, dx: Float32Array, g: ConvGeometry): boolean {
  const { B, C, H, W, K, kh, kw, dh, dw, ph, pw, OH, OW } = g;
  const wt = flippedTransposed(w, K, C, kh, kw);
  // The flipped weight sits in scratch block 1, which runDirect then sees as already in the heap.
  return runDirect(gy, wt, dx, B, K, OH, OW, C, kh, kw, 1, dh, dw, (kh - 1) * dh - ph, (kw - 1) * dw - pw, H, W);
}
