/**
 * A tiny typed WebAssembly binary emitter: enough of the module format (type, import, function,
 * memory, export and code sections), LEB128 integers and the opcodes dualgrad's generated kernels
 * use — i32 and f32 scalar arithmetic, structured control flow, f32 and v128 memory access, the
 * f32x4/i32x4 SIMD ops of the gemm and elementwise kernels and, when the engine has them, relaxed
 * SIMD — to build modules at run time from TypeScript. No toolchain, nothing built ahead of time.
 *
 * Also declares the small slice of the `WebAssembly` JavaScript API that dualgrad calls: the
 * project compiles against ES2022 without the DOM library, which is where TypeScript keeps those
 * types, so {@link wasmApi} hands out a typed view of `globalThis.WebAssembly` instead of
 * declaring globals that could clash with a consumer's own declarations.
 *
 * Reference: the WebAssembly core specification, binary format (chapter 5), the fixed-width SIMD
 * proposal (opcode prefix 0xfd) and the relaxed-SIMD proposal.
 */

// ---------------------------------------------------------------------------------------------
// The JavaScript API we use.
// ---------------------------------------------------------------------------------------------

/** A compiled module (`WebAssembly.Module`). Structured-cloneable to worker threads. */
export interface WasmModule {
  readonly __wasmModuleBrand?: never;
}

/** A linear memory (`WebAssembly.Memory`). When shared, its buffer is a SharedArrayBuffer. */
export interface WasmMemory {
  /** The current buffer; a fresh object after every `grow` of a non-shared memory. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Grows by `deltaPages` 64 KiB pages; returns the previous size in pages. */
  grow(deltaPages: number): number;
}

/** An instance (`WebAssembly.Instance`): its exports are functions and memories by name. */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

/** The subset of the global `WebAssembly` namespace dualgrad uses. */
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports?: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

/** `globalThis.WebAssembly`, typed; `undefined` where the engine has none (e.g. V8 with `--jitless`). */
export function wasmApi(): WasmApi | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  return typeof api === "object" && api !== null && typeof api.validate === "function" ? api : undefined;
}

/** Bytes in one page of linear memory. */
export const PAGE_BYTES = 65536;

// ---------------------------------------------------------------------------------------------
// Encoding primitives.
// ---------------------------------------------------------------------------------------------

/** Value types. */
export const ValType = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
} as const;
/** One of {@link ValType}'s codes. */
export type ValType = (typeof ValType)[keyof typeof ValType];

/** Appends the unsigned LEB128 encoding of `v` (a non-negative integer below 2^32) to `out`. */
export function uleb(out: number[], v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uleb: ${v} is not a u32`);
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

/** Appends the signed LEB128 encoding of `v` (an integer in the i32 range) to `out`. */
export function sleb(out: number[], v: number): void {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`sleb: ${v} is not an i32`);
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7; // arithmetic shift keeps the sign
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

/** Appends a UTF-8 name, length-prefixed. */
function name(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** Appends a vector: its length, then each item's encoding. */
function vec<T>(out: number[], items: readonly T[], each: (out: number[], item: T) => void): void {
  uleb(out, items.length);
  for (const item of items) each(out, item);
}

/** Appends section `id` with the given payload, size-prefixed. */
function section(out: number[], id: number, payload: number[]): void {
  out.push(id);
  uleb(out, payload.length);
  for (const b of payload) out.push(b);
}

// ---------------------------------------------------------------------------------------------
// Function bodies.
// ---------------------------------------------------------------------------------------------

/** A local variable (or parameter) index inside one function, branded so it is not mixed up with plain numbers. */
export type Local = number & { readonly __local: unique symbol };

/**
 * SIMD opcodes (after the 0xfd prefix), from the fixed-width SIMD proposal's opcode table
 * (numbered in that table's order: loads 0x00-0x0c, splats 0x0f-0x14, lanes 0x15-0x22,
 * comparisons 0x23-0x4c, bitwise 0x4d-0x53, lane loads/stores 0x54-0x5d, then per-shape
 * arithmetic; f32x4 arithmetic is 0xe0-0xeb) and the relaxed-SIMD proposal (0x100 up).
 */
const Simd = {
  // Memory (memarg immediates; the lane forms also take a lane index).
  "v128.load": 0x00,
  "v128.load32_splat": 0x09,
  "v128.store": 0x0b,
  "v128.load32_lane": 0x56,
  "v128.store32_lane": 0x5a,
  "v128.load32_zero": 0x5c,
  // Immediates of their own.
  "v128.const": 0x0c,
  "i8x16.shuffle": 0x0d,
  "i32x4.extract_lane": 0x1b,
  "i32x4.replace_lane": 0x1c,
  "f32x4.extract_lane": 0x1f,
  "f32x4.replace_lane": 0x20,
  // No immediates.
  "i32x4.splat": 0x11,
  "f32x4.splat": 0x13,
  "f64x2.splat": 0x14,
  "i32x4.eq": 0x37,
  "i32x4.ne": 0x38,
  "i32x4.lt_s": 0x39,
  "i32x4.gt_s": 0x3b,
  "i32x4.le_s": 0x3d,
  "i32x4.ge_s": 0x3f,
  "f32x4.eq": 0x41,
  "f32x4.ne": 0x42,
  "f32x4.lt": 0x43,
  "f32x4.gt": 0x44,
  "f32x4.le": 0x45,
  "f32x4.ge": 0x46,
  "v128.not": 0x4d,
  "v128.and": 0x4e,
  "v128.andnot": 0x4f,
  "v128.or": 0x50,
  "v128.xor": 0x51,
  "v128.bitselect": 0x52,
  "v128.any_true": 0x53,
  "f32x4.demote_f64x2_zero": 0x5e,
  "f64x2.promote_low_f32x4": 0x5f,
  "f32x4.ceil": 0x67,
  "f32x4.floor": 0x68,
  "f32x4.trunc": 0x69,
  "f32x4.nearest": 0x6a,
  "i32x4.abs": 0xa0,
  "i32x4.neg": 0xa1,
  "i32x4.all_true": 0xa3,
  "i32x4.bitmask": 0xa4,
  "i32x4.shl": 0xab,
  "i32x4.shr_s": 0xac,
  "i32x4.shr_u": 0xad,
  "i32x4.add": 0xae,
  "i32x4.sub": 0xb1,
  "i32x4.mul": 0xb5,
  "i32x4.min_s": 0xb6,
  "i32x4.max_s": 0xb8,
  "f32x4.abs": 0xe0,
  "f32x4.neg": 0xe1,
  "f32x4.sqrt": 0xe3,
  "f32x4.add": 0xe4,
  "f32x4.sub": 0xe5,
  "f32x4.mul": 0xe6,
  "f32x4.div": 0xe7,
  "f32x4.min": 0xe8,
  "f32x4.max": 0xe9,
  "f32x4.pmin": 0xea,
  "f32x4.pmax": 0xeb,
  "f64x2.add": 0xf0,
  "f64x2.sub": 0xf1,
  "f64x2.mul": 0xf2,
  "f64x2.div": 0xf3,
  "i32x4.trunc_sat_f32x4_s": 0xf8,
  "f32x4.convert_i32x4_s": 0xfa,
  "f32x4.relaxed_madd": 0x105,
} as const;

/** SIMD memory ops taking a memarg: `v128.load`/`store`, and the 32-bit splat and zero-extending loads. */
export type SimdMemOp = "v128.load" | "v128.store" | "v128.load32_splat" | "v128.load32_zero";
/** SIMD memory ops taking a memarg and a lane index: one 32-bit lane loaded into, or stored from, a vector. */
export type SimdLaneMemOp = "v128.load32_lane" | "v128.store32_lane";
/** SIMD lane ops taking a lane index: extract a lane as a scalar, or replace one with a scalar. */
export type SimdLaneOp = "i32x4.extract_lane" | "i32x4.replace_lane" | "f32x4.extract_lane" | "f32x4.replace_lane";
/**
 * Names of the immediate-free SIMD ops {@link FunctionBuilder.simd} accepts. Notes on semantics
 * that matter to kernels: comparisons give all-ones/all-zeros lane masks; `v128.bitselect` pops
 * (a, b, mask) and takes a's bits where the mask is set; `v128.andnot` pops (a, b) for `a & ~b`;
 * `f32x4.min`/`max` propagate NaN and order -0 below +0, while `pmin`/`pmax` are the plain
 * `b < a ? b : a` / `a < b ? b : a`; shifts pop (vector, i32 count).
 */
export type SimdOp = Exclude<keyof typeof Simd, SimdMemOp | SimdLaneMemOp | SimdLaneOp | "v128.const" | "i8x16.shuffle">;

/** Scalar ops without immediates (control, i32 and f32): name -> opcode. */
const Plain = {
  "unreachable": 0x00,
  "nop": 0x01,
  "return": 0x0f,
  "drop": 0x1a,
  "select": 0x1b,
  "i32.eqz": 0x45,
  "i32.eq": 0x46,
  "i32.ne": 0x47,
  "i32.lt_s": 0x48,
  "i32.lt_u": 0x49,
  "i32.gt_s": 0x4a,
  "i32.gt_u": 0x4b,
  "i32.le_s": 0x4c,
  "i32.le_u": 0x4d,
  "i32.ge_s": 0x4e,
  "i32.ge_u": 0x4f,
  "i32.add": 0x6a,
  "i32.sub": 0x6b,
  "i32.mul": 0x6c,
  "i32.div_s": 0x6d,
  "i32.div_u": 0x6e,
  "i32.and": 0x71,
  "i32.or": 0x72,
  "i32.xor": 0x73,
  "i32.shl": 0x74,
  "i32.shr_s": 0x75,
  "i32.shr_u": 0x76,
  "f32.eq": 0x5b,
  "f32.ne": 0x5c,
  "f32.lt": 0x5d,
  "f32.gt": 0x5e,
  "f32.le": 0x5f,
  "f32.ge": 0x60,
  "f32.abs": 0x8b,
  "f32.neg": 0x8c,
  "f32.sqrt": 0x91,
  "f32.add": 0x92,
  "f32.sub": 0x93,
  "f32.mul": 0x94,
  "f32.div": 0x95,
  "f32.min": 0x96,
  "f32.max": 0x97,
  "f32.copysign": 0x98,
  "f32.convert_i32_s": 0xb2,
  "i32.reinterpret_f32": 0xbc,
  "f32.reinterpret_i32": 0xbe,
} as const;
/** Names of the immediate-free ops {@link FunctionBuilder.op} accepts. */
export type PlainOp = keyof typeof Plain;

/** Memory ops with a memarg (alignment exponent, offset): name -> opcode. */
const MemOps = {
  "i32.load": 0x28,
  "f32.load": 0x2a,
  "i32.store": 0x36,
  "f32.store": 0x38,
} as const;

/** Natural alignment (log2 of the access size) of each memory op, the default memarg alignment. */
const NATURAL_ALIGN: Record<keyof typeof MemOps | SimdMemOp | SimdLaneMemOp, number> = {
  "i32.load": 2,
  "f32.load": 2,
  "i32.store": 2,
  "f32.store": 2,
  "v128.load": 4,
  "v128.store": 4,
  "v128.load32_splat": 2,
  "v128.load32_zero": 2,
  "v128.load32_lane": 2,
  "v128.store32_lane": 2,
};

/** `lane` if it is an integer in 0..count-1 (a lane immediate), else a RangeError. */
function checkLane(lane: number, count: number): number {
  if (!Number.isInteger(lane) || lane < 0 || lane >= count) throw new RangeError(`lane ${lane} outside 0..${count - 1}`);
  return lane;
}

/** Four lane values from one value (splatted) or four. */
function lanes4(v: number | readonly number[]): number[] {
  if (typeof v === "number") return [v, v, v, v];
  if (v.length !== 4) throw new RangeError(`expected 4 lane values, got ${v.length}`);
  return [...v];
}

/**
 * Builds one function body: locals plus an instruction stream. Instructions are appended in
 * stack-machine order (operands first); structured control (`block`, `loop`, `if`) takes
 * callbacks so `end` is never forgotten and branch depths stay local. Every method returns
 * `this`, so short sequences chain.
 */
export class FunctionBuilder {
  /** Encoded instructions so far (without the final `end`). */
  readonly code: number[] = [];
  /** Types of the declared (non-parameter) locals, in index order. */
  readonly localTypes: ValType[] = [];
  /** Current nesting of blocks, loops and ifs (for sanity checks). */
  private depth = 0;

  constructor(
    /** Parameter types; parameters are locals 0..params.length-1. */
    readonly params: readonly ValType[],
    /** Result types. */
    readonly results: readonly ValType[],
  ) {}

  /** The local holding parameter `i`. */
  param(i: number): Local {
    if (!Number.isInteger(i) || i < 0 || i >= this.params.length) throw new RangeError(`param ${i} out of range (${this.params.length} params)`);
    return i as Local;
  }

  /** Declares a fresh local of type `t` and returns it. */
  local(t: ValType): Local {
    this.localTypes.push(t);
    return (this.params.length + this.localTypes.length - 1) as Local;
  }

  /** Appends an immediate-free op. */
  op(name: PlainOp): this {
    this.code.push(Plain[name]);
    return this;
  }

  /** `local.get`. */
  get(l: Local): this {
    this.code.push(0x20);
    uleb(this.code, l);
    return this;
  }

  /** `local.set`. */
  set(l: Local): this {
    this.code.push(0x21);
    uleb(this.code, l);
    return this;
  }

  /** `local.tee`. */
  tee(l: Local): this {
    this.code.push(0x22);
    uleb(this.code, l);
    return this;
  }

  /** `i32.const v`. */
  i32(v: number): this {
    this.code.push(0x41);
    sleb(this.code, v | 0);
    return this;
  }

  /** `f32.const v`. */
  f32(v: number): this {
    this.code.push(0x43);
    const bytes = new Uint8Array(new Float32Array([v]).buffer);
    for (const b of bytes) this.code.push(b);
    return this;
  }

  /** A memory op with a constant byte `offset` added to the address operand. */
  mem(name: keyof typeof MemOps, offset = 0, align = NATURAL_ALIGN[name]): this {
    this.code.push(MemOps[name]);
    uleb(this.code, align);
    uleb(this.code, offset);
    return this;
  }

  /** A SIMD op without immediates (prefix 0xfd). */
  simd(name: SimdOp): this {
    this.simdOpcode(name);
    return this;
  }

  /**
   * A SIMD memory op with a constant byte offset. The alignment hint is only a hint: wasm allows
   * any address, so pass 0 (or 2 for float data) when the address may not be 16-byte aligned.
   */
  simdMem(name: SimdMemOp, offset = 0, align = NATURAL_ALIGN[name]): this {
    this.simdOpcode(name);
    uleb(this.code, align);
    uleb(this.code, offset);
    return this;
  }

  /** `v128.load32_lane` (pops address, vector) or `v128.store32_lane` (pops address, vector) on lane `lane`. */
  simdLaneMem(name: SimdLaneMemOp, lane: number, offset = 0, align = NATURAL_ALIGN[name]): this {
    this.simdOpcode(name);
    uleb(this.code, align);
    uleb(this.code, offset);
    this.code.push(checkLane(lane, 4));
    return this;
  }

  /** `f32x4.extract_lane lane`. */
  extractLane(lane: number): this {
    return this.lane("f32x4.extract_lane", lane);
  }

  /** A lane op (`{i32x4,f32x4}.{extract,replace}_lane`) on lane `lane` (0..3). */
  lane(name: SimdLaneOp, lane: number): this {
    this.simdOpcode(name);
    this.code.push(checkLane(lane, 4));
    return this;
  }

  /** `v128.const` of sixteen given bytes (little-endian lane order). */
  v128Const(bytes: ArrayLike<number>): this {
    if (bytes.length !== 16) throw new RangeError(`v128.const needs 16 bytes, got ${bytes.length}`);
    this.simdOpcode("v128.const");
    for (let i = 0; i < 16; i++) this.code.push(bytes[i] & 0xff);
    return this;
  }

  /** `v128.const` of sixteen zero bytes. */
  v128Zero(): this {
    return this.v128Const(new Uint8Array(16));
  }

  /** `v128.const` of four float32 lanes: `v` in every lane, or one value per lane (each rounded to float32). */
  f32x4Const(v: number | readonly number[]): this {
    return this.v128Const(new Uint8Array(new Float32Array(lanes4(v)).buffer));
  }

  /** `v128.const` of four i32 lanes: `v` in every lane, or one value per lane (each taken modulo 2^32). */
  i32x4Const(v: number | readonly number[]): this {
    return this.v128Const(new Uint8Array(new Int32Array(lanes4(v)).buffer));
  }

  /** `i8x16.shuffle`: pops (a, b); byte i of the result is byte `lanes[i]` of a (0..15) or b (16..31). */
  shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16) throw new RangeError(`i8x16.shuffle needs 16 lane indices, got ${lanes.length}`);
    this.simdOpcode("i8x16.shuffle");
    for (const l of lanes) this.code.push(checkLane(l, 32));
    return this;
  }

  private simdOpcode(name: keyof typeof Simd): void {
    this.code.push(0xfd);
    uleb(this.code, Simd[name]);
  }

  /** `memory.copy` (bulk memory): pops dst, src, byte count. */
  memoryCopy(): this {
    this.code.push(0xfc, 10, 0, 0);
    return this;
  }

  /** `memory.fill` (bulk memory): pops dst, byte value, byte count. */
  memoryFill(): this {
    this.code.push(0xfc, 11, 0);
    return this;
  }

  /** `block ... end` with no result; inside, `br(0)` jumps past the end. */
  block(body: () => void): this {
    return this.structured(0x02, body);
  }

  /** `loop ... end` with no result; inside, `br(0)` jumps back to the start. */
  loop(body: () => void): this {
    return this.structured(0x03, body);
  }

  /** `if ... (else ...) end` with no result, on the i32 condition on the stack. */
  if(then: () => void, otherwise?: () => void): this {
    this.code.push(0x04, 0x40);
    this.depth++;
    then();
    if (otherwise) {
      this.code.push(0x05);
      otherwise();
    }
    this.code.push(0x0b);
    this.depth--;
    return this;
  }

  /** `br depth` (0 = innermost enclosing block/loop/if). */
  br(depth: number): this {
    this.checkDepth(depth);
    this.code.push(0x0c);
    uleb(this.code, depth);
    return this;
  }

  /** `br_if depth` on the i32 condition on the stack. */
  brIf(depth: number): this {
    this.checkDepth(depth);
    this.code.push(0x0d);
    uleb(this.code, depth);
    return this;
  }

  /** `call f`. */
  call(funcIndex: number): this {
    this.code.push(0x10);
    uleb(this.code, funcIndex);
    return this;
  }

  private structured(opcode: number, body: () => void): this {
    this.code.push(opcode, 0x40); // 0x40: empty block type
    this.depth++;
    body();
    this.code.push(0x0b);
    this.depth--;
    return this;
  }

  private checkDepth(depth: number): void {
    if (!Number.isInteger(depth) || depth < 0 || depth >= this.depth + 1) throw new RangeError(`branch depth ${depth} outside ${this.depth} enclosing blocks`);
  }

  /** The encoded body: locals (run-length grouped by type), the code and the final `end`. */
  encode(): number[] {
    if (this.depth !== 0) throw new Error("FunctionBuilder: unbalanced blocks");
    const groups: [number, ValType][] = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body: number[] = [];
    vec(body, groups, (o, [count, t]) => {
      uleb(o, count);
      o.push(t);
    });
    for (const b of this.code) body.push(b);
    body.push(0x0b);
    const out: number[] = [];
    uleb(out, body.length);
    for (const b of body) out.push(b);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Modules.
// ---------------------------------------------------------------------------------------------

/** Limits of a linear memory, in 64 KiB pages. */
export interface MemoryLimits {
  initial: number;
  maximum?: number;
  /** A shared memory (threads proposal) must have a maximum. */
  shared?: boolean;
}

interface FuncEntry {
  typeIndex: number;
  builder: FunctionBuilder;
  exportName: string | undefined;
}

/**
 * Builds a module: function types are interned, functions are numbered in the order they are
 * declared (after imports, of which only a memory import is supported), and {@link toBytes}
 * writes the sections in the order the format requires.
 */
export class ModuleBuilder {
  private readonly types: { params: readonly ValType[]; results: readonly ValType[] }[] = [];
  private readonly funcs: FuncEntry[] = [];
  private memoryImport: { module: string; field: string; limits: MemoryLimits } | undefined;
  private memoryDef: { limits: MemoryLimits; exportName: string | undefined } | undefined;

  /** Imports the module's (single) memory as `module.field`. */
  importMemory(module: string, field: string, limits: MemoryLimits): this {
    if (this.memoryImport || this.memoryDef) throw new Error("ModuleBuilder: only one memory");
    this.memoryImport = { module, field, limits };
    return this;
  }

  /** Defines the module's (single) memory, optionally exported as `exportName`. */
  defineMemory(limits: MemoryLimits, exportName?: string): this {
    if (this.memoryImport || this.memoryDef) throw new Error("ModuleBuilder: only one memory");
    this.memoryDef = { limits, exportName };
    return this;
  }

  /**
   * Declares a function and returns its index (usable in `call` before its body exists, for
   * recursion or forward calls); `build` fills in the body now. Exported when `exportName` is set.
   */
  func(params: readonly ValType[], results: readonly ValType[], build: (f: FunctionBuilder) => void, exportName?: string): number {
    const builder = new FunctionBuilder(params, results);
    const index = this.funcs.length;
    this.funcs.push({ typeIndex: this.typeIndex(params, results), builder, exportName });
    build(builder);
    return index;
  }

  private typeIndex(params: readonly ValType[], results: readonly ValType[]): number {
    const same = (x: readonly ValType[], y: readonly ValType[]) => x.length === y.length && x.every((t, i) => t === y[i]);
    let i = this.types.findIndex((t) => same(t.params, params) && same(t.results, results));
    if (i < 0) {
      i = this.types.length;
      this.types.push({ params: [...params], results: [...results] });
    }
    return i;
  }

  /** The binary module. */
  toBytes(): Uint8Array {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const limits = (o: number[], l: MemoryLimits) => {
      const hasMax = l.maximum !== undefined;
      if (l.shared && !hasMax) throw new Error("ModuleBuilder: a shared memory needs a maximum");
      o.push((hasMax ? 1 : 0) | (l.shared ? 2 : 0));
      uleb(o, l.initial);
      if (hasMax) uleb(o, l.maximum as number);
    };
    // 1: types
    const types: number[] = [];
    vec(types, this.types, (o, t) => {
      o.push(0x60);
      vec(o, t.params, (oo, v) => oo.push(v));
      vec(o, t.results, (oo, v) => oo.push(v));
    });
    section(out, 1, types);
    // 2: imports
    if (this.memoryImport) {
      const imp: number[] = [];
      const mi = this.memoryImport;
      vec(imp, [mi], (o, m) => {
        name(o, m.module);
        name(o, m.field);
        o.push(0x02);
        limits(o, m.limits);
      });
      section(out, 2, imp);
    }
    // 3: function declarations
    const fdecl: number[] = [];
    vec(fdecl, this.funcs, (o, f) => uleb(o, f.typeIndex));
    section(out, 3, fdecl);
    // 5: memory
    if (this.memoryDef) {
      const mem: number[] = [];
      const md = this.memoryDef;
      vec(mem, [md], (o, m) => limits(o, m.limits));
      section(out, 5, mem);
    }
    // 7: exports
    const exports: [string, number, number][] = [];
    this.funcs.forEach((f, i) => {
      if (f.exportName !== undefined) exports.push([f.exportName, 0x00, i]);
    });
    if (this.memoryDef?.exportName !== undefined) exports.push([this.memoryDef.exportName, 0x02, 0]);
    if (exports.length > 0) {
      const exp: number[] = [];
      vec(exp, exports, (o, [n, kind, index]) => {
        name(o, n);
        o.push(kind);
        uleb(o, index);
      });
      section(out, 7, exp);
    }
    // 10: code
    const code: number[] = [];
    vec(code, this.funcs, (o, f) => {
      for (const b of f.builder.encode()) o.push(b);
    });
    section(out, 10, code);
    return Uint8Array.from(out);
  }
}
