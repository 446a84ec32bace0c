/**
 * Fused float32 elementwise kernels compiled to WebAssembly SIMD at run time: a program of
 * elementwise ops (../../ops/elementwise-types.ts: one primitive, a graph fused kernel, eager's
 * SGD update) becomes one loop that reads its inputs and writes its output in place in the
 * shared wasm heap (./heap.ts), four lanes at a time, with no intermediate buffers and no copies.
 *
 * ## Layouts
 *
 * The output is viewed as [outer, inner], inner being the product of a trailing run of its dims
 * (the whole shape when possible, so usually outer = 1). Each input is then one of
 * - full: as many elements as the output;
 * - scalar: one element;
 * - row: `inner` elements, the same row for every outer index (a bias [64] over [32,64]);
 * - column: one element per outer index, splatted across the row ([32,1] over [32,64]).
 * Full and row inputs are loaded as vectors, scalar and column inputs are splatted once per row.
 * The generated function is specialised on which inputs are splatted (one module per pattern,
 * built on first use); pointers and strides are arguments.
 *
 * Other broadcasts (a per-channel bias [C,1,1] over [B,C,H,W], [4,1,8] + [1,5,1]) run blocked:
 * the merged output dims split as [...walked, rows, inner], the module above runs the rows
 * (each input's row stride now anything) and JavaScript walks the leading dims, one call each.
 * Only for programs without approximated ops (exp, log, tanh, sigmoid), whose bits are then the
 * JavaScript kernel's that ran these layouts before, and with at least 64 elements per call.
 * The rest return false and the caller runs the JavaScript kernel.
 *
 * ## Numerics
 *
 * Each op rounds to float32, as the JavaScript kernels do when they store (or Math.fround) every
 * op's result, and + - * / sqrt in float32 are exactly float64-then-round; so add, sub, mul, div,
 * sqrt, neg, abs, relu, maximum, minimum, compare, where and pow with exponent 0, 1 or 2 give the
 * JavaScript kernel's bits, NaN-ness and signed zeros included (NaN payloads may differ). The
 * selections follow the JavaScript expressions through lane masks (`f32x4.min`/`max` would order
 * -0 below +0, which `a > b ? a : b` does not). exp, log, tanh and sigmoid use ./simd-math.ts:
 * within 1 ulp of the JavaScript kernel. Constants are rounded to float32 (the JavaScript kernel
 * multiplies by the float64 literal, so use float32 constants where bits must agree).
 *
 * The last `inner % 4` elements of a row run the same vector code on one lane (loaded with
 * `v128.load32_zero`, stored from lane 0), so an element's value never depends on its position.
 */
import { ELEMENTWISE, isElementwisePrim } from "../../ops/elementwise.js";
import type { ElementwiseOp, ElementwiseOperand } from "../../ops/elementwise-types.js";
import { ModuleBuilder, ValType, wasmApi, type Local } from "./emitter.js";
import { simdSupported } from "./gemm-wasm.js";
import { MAX_PAGES, heapByteOffset, wasmMemory } from "./heap.js";
import { COMPARE, emitProgram } from "./simd-program.js";

/** @deprecated The program types are core's elementwise ones; this name is kept for existing callers. */
export type WasmOperand = ElementwiseOperand;

/** @deprecated The program types are core's elementwise ones; this name is kept for existing callers. */
export type WasmElementwiseOp = ElementwiseOp;

/**
 * Runs `out = program(inputs)` with NumPy broadcasting. Returns false, having done nothing, when
 * it cannot: an array that is not a Float32Array in the wasm heap, lengths that do not match the
 * shapes, or a broadcast layout it does not run (see the module comment); the
 * caller then runs the JavaScript kernel. `out` may be one of the inputs (same view), not a
 * partial overlap of one.
 */
export type WasmElementwiseKernel = (
  out: Float32Array,
  outShape: readonly number[],
  inputs: readonly Float32Array[],
  inShapes: readonly (readonly number[])[],
) => boolean;

/** Exponents pow runs with in wasm: those whose JavaScript Math.pow is exact arithmetic (1, x, x*x). */
const POW_EXPONENTS = new Set([0, 1, 2]);

function opSupported(op: ElementwiseOp, k: number): boolean {
  // Programs are checked here, not trusted: they may come from a file or a hand-made test.
  if (!isElementwisePrim(op.prim) || op.operands.length !== ELEMENTWISE[op.prim].arity) return false;
  if (op.dtype !== undefined && op.dtype !== "float32") return false;
  const attrs = op.attrs as { exponent?: unknown; kind?: unknown };
  if (op.prim === "pow" && !POW_EXPONENTS.has(attrs.exponent as number)) return false;
  if (op.prim === "compare" && !(typeof attrs.kind === "string" && Object.hasOwn(COMPARE, attrs.kind))) return false;
  return op.operands.every((o) =>
    o.from === "const" ? typeof o.value === "number" : Number.isInteger(o.index) && o.index >= 0 && (o.from === "in" || o.index < k),
  );
}

/**
 * True when every op can run in wasm: a known elementwise primitive with the right operand count,
 * float32 (when the op says), pow only with exponent 0, 1 or 2, operands that refer to inputs or
 * earlier ops. Says nothing about the engine (see {@link compileWasmElementwise}).
 */
export function wasmElementwiseSupported(ops: readonly ElementwiseOp[]): boolean {
  return ops.length > 0 && ops.every(opSupported);
}

// ---------------------------------------------------------------------------------------------
// Code generation.
// ---------------------------------------------------------------------------------------------

const I32 = ValType.i32;
const V128 = ValType.v128;

/**
 * The module for one splat pattern: `run(outer, innerBytes, out, ptr0, stride0, ptr1, stride1, ...)`
 * computes `outer` rows of `innerBytes / 4` elements. Input i is read as vectors from
 * `ptr_i + j` (or splatted from `ptr_i` when bit i of `splat` is set) and `ptr_i` advances by
 * `stride_i` bytes per row; `out` advances by `innerBytes`.
 */
function buildModule(arity: number, ops: readonly ElementwiseOp[], splat: number): Uint8Array {
  const mb = new ModuleBuilder();
  mb.importMemory("env", "memory", { initial: 1, maximum: MAX_PAGES, shared: true });
  const params = [I32, I32, I32, ...Array.from({ length: 2 * arity }, () => I32)];
  mb.func(params, [], (f) => {
    const outer = f.param(0), innerBytes = f.param(1), out = f.param(2);
    const ptr = Array.from({ length: arity }, (_, i) => f.param(3 + 2 * i));
    const stride = Array.from({ length: arity }, (_, i) => f.param(4 + 2 * i));
    const isSplat = (i: number) => (splat >> i) & 1;
    const x = Array.from({ length: arity }, () => f.local(V128));
    const row = f.local(I32), j = f.local(I32), vecEnd = f.local(I32), res = f.local(V128);
    f.get(innerBytes).i32(-16).op("i32.and").set(vecEnd);
    f.i32(0).set(row);
    // One pass over [j, end) in steps of `step` bytes: vector loads (or one-lane loads in the tail).
    const pass = (end: Local, step: 16 | 4) =>
      f.block(() =>
        f.loop(() => {
          f.get(j).get(end).op("i32.ge_u").brIf(1);
          for (let i = 0; i < arity; i++) {
            if (isSplat(i)) continue;
            f.get(ptr[i]).get(j).op("i32.add").simdMem(step === 16 ? "v128.load" : "v128.load32_zero", 0, 2).set(x[i]);
          }
          emitProgram(f, ops, x);
          f.set(res);
          f.get(out).get(j).op("i32.add").get(res);
          if (step === 16) f.simdMem("v128.store", 0, 2);
          else f.extractLane(0).mem("f32.store");
          f.get(j).i32(step).op("i32.add").set(j).br(0);
        }),
      );
    f.block(() =>
      f.loop(() => {
        f.get(row).get(outer).op("i32.ge_u").brIf(1);
        for (let i = 0; i < arity; i++) if (isSplat(i)) f.get(ptr[i]).simdMem("v128.load32_splat").set(x[i]);
        f.i32(0).set(j);
        pass(vecEnd, 16);
        pass(innerBytes, 4);
        f.get(out).get(innerBytes).op("i32.add").set(out);
        for (let i = 0; i < arity; i++) f.get(ptr[i]).get(stride[i]).op("i32.add").set(ptr[i]);
        f.get(row).i32(1).op("i32.add").set(row).br(0);
      }),
    );
  }, "run");
  return mb.toBytes();
}

// ---------------------------------------------------------------------------------------------
// Layouts and the kernel.
// ---------------------------------------------------------------------------------------------

const FULL = 0, SCALAR = 1, ROW = 2, COLUMN = 3;
type Mode = typeof FULL | typeof SCALAR | typeof ROW | typeof COLUMN;

/** The [outer, inner] view of the output and each input's mode: scratch that {@link planLayout} fills. */
interface Plan {
  outer: number;
  inner: number;
  readonly modes: Mode[];
}

function product(dims: readonly number[], from: number, to: number): number {
  let p = 1;
  for (let d = from; d < to; d++) p *= dims[d];
  return p;
}

/** Whether `shape` broadcasts to `outShape` (NumPy rules, right-aligned). */
function broadcasts(shape: readonly number[], outShape: readonly number[]): boolean {
  const off = outShape.length - shape.length;
  if (off < 0) return false;
  for (let t = 0; t < shape.length; t++) if (shape[t] !== 1 && shape[t] !== outShape[off + t]) return false;
  return true;
}

/** The mode of an input of shape `shape` (`len` elements) when the output splits after dim `k`; -1 when none fits. */
function modeAt(shape: readonly number[], len: number, outShape: readonly number[], n: number, k: number): Mode | -1 {
  if (len === n) return FULL;
  if (len === 1) return SCALAR;
  const off = outShape.length - shape.length;
  let row = true, column = true;
  for (let d = 0; d < outShape.length; d++) {
    const v = d < off ? 1 : shape[d - off];
    const outer = d < k;
    if (v !== (outer ? 1 : outShape[d])) row = false;
    if (v !== (outer ? outShape[d] : 1)) column = false;
  }
  return row ? ROW : column ? COLUMN : -1;
}

/** Whether every input's length matches its shape and its shape broadcasts to `outShape`. */
function shapesValid(outShape: readonly number[], inputs: readonly Float32Array[], inShapes: readonly (readonly number[])[]): boolean {
  for (let i = 0; i < inputs.length; i++) {
    if (inputs[i].length !== product(inShapes[i], 0, inShapes[i].length) || !broadcasts(inShapes[i], outShape)) return false;
  }
  return true;
}

/**
 * Fills `plan` with the split having the largest inner part that gives every input a mode, and
 * returns true; false when no split fits. Assumes {@link shapesValid}. Allocates nothing: it
 * runs on every call.
 */
function planLayout(plan: Plan, outShape: readonly number[], n: number, inputs: readonly Float32Array[], inShapes: readonly (readonly number[])[]): boolean {
  let simple = true; // every input full or scalar: one flat pass
  for (let i = 0; i < inputs.length; i++) {
    const len = inputs[i].length;
    if (len !== n && len !== 1) simple = false;
  }
  const r = outShape.length;
  for (let k = simple ? 0 : 1; k <= r; k++) {
    let fits = true;
    for (let i = 0; i < inputs.length && fits; i++) {
      const mode = modeAt(inShapes[i], inputs[i].length, outShape, n, k);
      if (mode < 0) fits = false;
      else plan.modes[i] = mode as Mode;
    }
    if (fits) {
      plan.outer = product(outShape, 0, k);
      plan.inner = n / plan.outer;
      return true;
    }
  }
  return false;
}

/**
 * Scratch for {@link planBlocked}: the output's dims with size-1 dims dropped and neighbours
 * merged where every operand allows (as coalesceDims does), and each input's element stride per
 * merged dim (0 where it broadcasts). Preallocated: the planner runs on every call.
 */
interface Blocked {
  rank: number;
  readonly dims: Int32Array;
  readonly strides: Int32Array[]; // strides[i][d] for input i
}

/** Most output dims a blocked layout takes (more falls back to JavaScript). */
const MAX_BLOCKED_RANK = 16;

/**
 * Rows of at least this many elements per wasm call in a blocked layout: below it the calls
 * from the JavaScript odometer cost more than they save, and the JavaScript kernel runs.
 */
const MIN_BLOCK_ELEMENTS = 64;

/**
 * The general broadcast layout: the output as [...walked, rows, inner] after merging dims, where
 * each input's inner stride is 0 (splatted per row) or 1 (vectors), its row stride is anything,
 * and the walked dims (a per-channel bias [C,1,1] over [B,C,H,W] gives [B | C rows | H*W]) are
 * stepped by JavaScript, one wasm call per walked index. The elements are those of the
 * full/scalar/row/column layouts, computed by the same vector code, so only the order of
 * the work differs. Fills `b` and returns true, or false when the rank is too large, or the work
 * per call is too small to pay for the calls. Assumes {@link planLayout}'s checks passed
 * (lengths match shapes, shapes broadcast).
 */
function planBlocked(b: Blocked, outShape: readonly number[], inShapes: readonly (readonly number[])[]): boolean {
  const r = outShape.length;
  if (r > MAX_BLOCKED_RANK) return false;
  const arity = inShapes.length;
  let m = 0;
  for (let d = 0; d < r; d++) {
    const size = outShape[d];
    if (size === 1) continue;
    // Each input's contiguous stride for output dim d (0 where it broadcasts).
    let merge = m > 0;
    for (let i = 0; i < arity; i++) {
      const st = inputStride(inShapes[i], r, d);
      b.strides[i][m] = st; // tentatively, as a new dim
      if (merge && b.strides[i][m - 1] !== st * size) merge = false;
    }
    if (merge) {
      b.dims[m - 1] *= size;
      for (let i = 0; i < arity; i++) b.strides[i][m - 1] = b.strides[i][m];
    } else {
      b.dims[m] = size;
      m++;
    }
  }
  if (m === 0) return false; // one element: planLayout's flat pass takes it
  b.rank = m;
  const perCall = m >= 2 ? b.dims[m - 1] * b.dims[m - 2] : b.dims[0];
  return perCall >= MIN_BLOCK_ELEMENTS;
}

/** The stride (in elements) of an input of shape `shape` along output dim `d` of a rank-`r` output: 0 where it broadcasts. */
function inputStride(shape: readonly number[], r: number, d: number): number {
  const t = d - (r - shape.length);
  if (t < 0 || shape[t] === 1) return 0;
  let st = 1;
  for (let u = t + 1; u < shape.length; u++) st *= shape[u];
  return st;
}

type RunFn = (...args: number[]) => void;

/** Ops whose SIMD code only approximates the JavaScript kernel's (./simd-math.ts). */
const APPROXIMATED = new Set<string>(["exp", "log", "tanh", "sigmoid"]);

let available: boolean | undefined;

/** Whether wasm kernels can run here: SIMD and the shared-memory heap. */
function runtimeAvailable(): boolean {
  if (available === undefined) available = simdSupported() && wasmMemory() !== undefined;
  return available;
}

const cache = new Map<string, WasmElementwiseKernel | null>();

/** Most inputs a kernel takes (the splat pattern is a bit mask). */
const MAX_ARITY = 24;

/**
 * Compiles (once per `key`, like compileElementwise) the wasm kernel for a program over `arity`
 * inputs; the modules themselves are built on first use, one per pattern of splatted inputs.
 * Returns null when the program is unsupported ({@link wasmElementwiseSupported}, an input
 * index past `arity`, more than 24 inputs) or the engine has no WebAssembly SIMD or no shared memory.
 * Modules are compiled synchronously, which Node allows for any size (browsers allow it only
 * for small modules off the main thread).
 */
export function compileWasmElementwise(key: string, arity: number, ops: readonly ElementwiseOp[]): WasmElementwiseKernel | null {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const ok =
    runtimeAvailable() &&
    Number.isInteger(arity) &&
    arity >= 0 &&
    arity <= MAX_ARITY &&
    wasmElementwiseSupported(ops) &&
    ops.every((op) => op.operands.every((o) => o.from !== "in" || o.index < arity));
  const kernel = ok ? makeKernel(arity, ops) : null;
  cache.set(key, kernel);
  return kernel;
}

function makeKernel(arity: number, ops: readonly ElementwiseOp[]): WasmElementwiseKernel {
  const api = wasmApi()!;
  const memory = wasmMemory()!;
  const variants = new Map<number, RunFn>();
  const variant = (splat: number): RunFn => {
    let run = variants.get(splat);
    if (!run) {
      const instance = new api.Instance(new api.Module(buildModule(arity, ops, splat)), { env: { memory } });
      run = instance.exports.run as RunFn;
      variants.set(splat, run);
    }
    return run;
  };
  const plan: Plan = { outer: 0, inner: 0, modes: new Array<Mode>(arity).fill(FULL) };
  const at: number[] = new Array<number>(arity).fill(0); // byte addresses of the inputs
  const st: number[] = new Array<number>(arity).fill(0); // their strides per outer step
  const args: number[] = new Array<number>(3 + 2 * arity).fill(0);
  // heapByteOffset reads `view.buffer`, which is slow for shared buffers (tens of ns, as much as
  // a small kernel's work): remember the last heap view seen in each slot (a view's buffer and
  // offset never change; only heap views are kept, so nothing else is held alive).
  const seen: (Float32Array | undefined)[] = new Array<Float32Array | undefined>(arity + 1).fill(undefined);
  const seenAt: number[] = new Array<number>(arity + 1).fill(-1);
  const addressOf = (slot: number, a: Float32Array): number => {
    if (a === seen[slot]) return seenAt[slot];
    const byte = heapByteOffset(a);
    if (byte >= 0) {
      seen[slot] = a;
      seenAt[slot] = byte;
    }
    return byte;
  };
  // Direct calls for the common arities: a spread call costs more than a small kernel's work.
  const call = (run: RunFn, outer: number, innerBytes: number, out: number): void => {
    if (arity === 1) run(outer, innerBytes, out, at[0], st[0]);
    else if (arity === 2) run(outer, innerBytes, out, at[0], st[0], at[1], st[1]);
    else if (arity === 3) run(outer, innerBytes, out, at[0], st[0], at[1], st[1], at[2], st[2]);
    else {
      args[0] = outer;
      args[1] = innerBytes;
      args[2] = out;
      for (let i = 0; i < arity; i++) {
        args[3 + 2 * i] = at[i];
        args[4 + 2 * i] = st[i];
      }
      run(...args);
    }
  };
  const exact = ops.every((op) => !APPROXIMATED.has(op.prim));
  const blocked: Blocked = {
    rank: 0,
    dims: new Int32Array(MAX_BLOCKED_RANK),
    strides: Array.from({ length: arity }, () => new Int32Array(MAX_BLOCKED_RANK)),
  };
  const base: number[] = new Array<number>(arity).fill(0); // byte addresses of the inputs, for runBlocked
  const pos: number[] = new Array<number>(arity).fill(0); // element offsets of the current walked index
  const idx = new Int32Array(MAX_BLOCKED_RANK);
  /** Runs the layout planBlocked left in `blocked`: one call of `rows` rows per walked index; `at` holds the inputs' addresses. */
  const runBlocked = (outAt: number): void => {
    const { rank: m, dims, strides } = blocked;
    const innerBytes = dims[m - 1] * 4;
    const rows = m >= 2 ? dims[m - 2] : 1;
    let splat = 0;
    for (let i = 0; i < arity; i++) {
      if (strides[i][m - 1] === 0) splat |= 1 << i;
      st[i] = m >= 2 ? strides[i][m - 2] * 4 : 0;
      base[i] = at[i];
      pos[i] = 0;
    }
    const run = variant(splat);
    const walked = m - 2;
    let calls = 1;
    for (let d = 0; d < walked; d++) {
      calls *= dims[d];
      idx[d] = 0;
    }
    const callBytes = rows * innerBytes;
    for (let c = 0; c < calls; c++) {
      for (let i = 0; i < arity; i++) at[i] = base[i] + pos[i] * 4;
      call(run, rows, innerBytes, outAt + c * callBytes);
      for (let d = walked - 1; d >= 0; d--) {
        idx[d]++;
        for (let i = 0; i < arity; i++) pos[i] += strides[i][d];
        if (idx[d] < dims[d]) break;
        for (let i = 0; i < arity; i++) pos[i] -= strides[i][d] * dims[d];
        idx[d] = 0;
      }
    }
  };
  return (out, outShape, inputs, inShapes) => {
    if (!(out instanceof Float32Array) || inputs.length !== arity || inShapes.length !== arity) return false;
    const outAt = addressOf(arity, out);
    if (outAt < 0) return false;
    for (let i = 0; i < arity; i++) {
      const a = inputs[i];
      if (!(a instanceof Float32Array) || (at[i] = addressOf(i, a)) < 0) return false;
    }
    const n = out.length;
    if (n !== product(outShape, 0, outShape.length)) return false;
    if (n === 0) return true;
    if (!shapesValid(outShape, inputs, inShapes)) return false;
    if (!planLayout(plan, outShape, n, inputs, inShapes)) {
      // Blocked layouts only for programs whose bits match the JavaScript kernel's, which ran
      // these layouts before they were supported here (see the module comment, Numerics).
      if (!exact || !planBlocked(blocked, outShape, inShapes)) return false;
      runBlocked(outAt);
      return true;
    }
    const innerBytes = plan.inner * 4;
    let splat = 0;
    for (let i = 0; i < arity; i++) {
      const mode = plan.modes[i];
      if (mode === SCALAR || mode === COLUMN) splat |= 1 << i;
      st[i] = mode === FULL ? innerBytes : mode === COLUMN ? 4 : 0;
    }
    call(variant(splat), plan.outer, innerBytes, outAt);
    return true;
  };
}
