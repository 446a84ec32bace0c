/**
 * A tiny typed WebAssembly binary emitter: enough of the module format (type, import, function,
 * memory, export and code sections), LEB128 integers and the opcodes dualgrad's generated kernels
 * use — i32 arithmetic, structured control flow, f32 and v128 memory access, a handful of SIMD
 * float ops and, when the engine has them, relaxed SIMD — to build modules at run time from
 * TypeScript. No toolchain, nothing built ahead of time.
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

/** SIMD opcodes (after the 0xfd prefix) used by dualgrad, from the SIMD and relaxed-SIMD proposals. */
const Simd = {
  "v128.load": 0x00,
  "v128.load32_splat": 0x09,
  "v128.store": 0x0b,
  "v128.const": 0x0c,
  "f32x4.splat": 0x13,
  "f32x4.extract_lane": 0x1f,
  "f32x4.add": 0xe4,
  "f32x4.sub": 0xe5,
  "f32x4.mul": 0xe6,
  "f32x4.relaxed_madd": 0x105,
} as const;

/** Integer ops without immediates: name -> opcode. */
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
  "f32.add": 0x92,
  "f32.mul": 0x94,
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
const NATURAL_ALIGN: Record<keyof typeof MemOps | "v128.load" | "v128.store" | "v128.load32_splat", number> = {
  "i32.load": 2,
  "f32.load": 2,
  "i32.store": 2,
  "f32.store": 2,
  "v128.load": 4,
  "v128.store": 4,
  "v128.load32_splat": 2,
};

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
  simd(name: "f32x4.splat" | "f32x4.add" | "f32x4.sub" | "f32x4.mul" | "f32x4.relaxed_madd"): this {
    this.code.push(0xfd);
    uleb(this.code, Simd[name]);
    return this;
  }

  /** A SIMD memory op (`v128.load`, `v128.store`, `v128.load32_splat`) with a constant byte offset. */
  simdMem(name: "v128.load" | "v128.store" | "v128.load32_splat", offset = 0, align = NATURAL_ALIGN[name]): this {
    this.code.push(0xfd);
    uleb(this.code, Simd[name]);
    uleb(this.code, align);
    uleb(this.code, offset);
    return this;
  }

  /** `f32x4.extract_lane lane`. */
  extractLane(lane: number): this {
    this.code.push(0xfd);
    uleb(this.code, Simd["f32x4.extract_lane"]);
    this.code.push(lane & 3);
    return this;
  }

  /** `v128.const` of sixteen zero bytes. */
  v128Zero(): this {
    this.code.push(0xfd);
    uleb(this.code, Simd["v128.const"]);
    for (let i = 0; i < 16; i++) this.code.push(0);
    return this;
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
