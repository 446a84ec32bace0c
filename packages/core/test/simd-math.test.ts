import { describe, expect, it } from "vitest";
import { ModuleBuilder, PAGE_BYTES, ValType, wasmApi, type FunctionBuilder, type Local, type PlainOp, type SimdOp } from "../src/kernels/wasm/emitter.js";
import { simdSupported } from "../src/kernels/wasm/gemm-wasm.js";
import { emitSimdMath, type SimdMathFunction } from "../src/kernels/wasm/simd-math.js";

const I32 = ValType.i32;

/** float64 references, rounded to float32 by the caller (as the JS kernels do). */
const REFERENCE: Record<SimdMathFunction, (x: number) => number> = {
  exp: Math.exp,
  log: Math.log,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
};

/**
 * `fn` over a Float32Array, run in a module of its own: `apply(ptr, n)` maps n floats (n a
 * multiple of 4) in place, four lanes at a time, in a memory made for the test.
 */
function simdMath(fn: SimdMathFunction): (xs: Float32Array) => Float32Array {
  const api = wasmApi()!;
  const mb = new ModuleBuilder().importMemory("env", "memory", { initial: 1 });
  mb.func([I32, I32], [], (f) => {
    const ptr = f.param(0), end = f.local(I32);
    f.get(ptr).get(f.param(1)).i32(4).op("i32.mul").op("i32.add").set(end);
    f.block(() =>
      f.loop(() => {
        f.get(ptr).get(end).op("i32.ge_u").brIf(1);
        f.get(ptr).get(ptr).simdMem("v128.load", 0, 0);
        emitSimdMath(f, fn);
        f.simdMem("v128.store", 0, 0);
        f.get(ptr).i32(16).op("i32.add").set(ptr).br(0);
      }),
    );
  }, "apply");
  return (xs) => {
    const n = Math.ceil(xs.length / 4) * 4;
    const memory = new api.Memory({ initial: Math.ceil((n * 4) / PAGE_BYTES) + 1 });
    const instance = new api.Instance(new api.Module(mb.toBytes()), { env: { memory } });
    const view = new Float32Array(memory.buffer, 0, n);
    view.set(xs);
    (instance.exports.apply as (p: number, n: number) => void)(0, n);
    return view.slice(0, xs.length);
  };
}

/** Position of a float32 on the number line in ulps (±0 both at 0), from its bits. */
function ordinal(bits: number): number {
  return bits < 0 ? -(bits & 0x7fffffff) : bits;
}

/** Max ulp distance of `got` from fround(reference) over `xs`, with the worst input (NaN must match NaN). */
function maxUlp(fn: SimdMathFunction, xs: Float32Array, got: Float32Array): { ulp: number; at: number } {
  const ref = REFERENCE[fn];
  const a = new Int32Array(1), af = new Float32Array(a.buffer);
  const b = new Int32Array(1), bf = new Float32Array(b.buffer);
  let worst = { ulp: 0, at: NaN };
  for (let i = 0; i < xs.length; i++) {
    const want = Math.fround(ref(xs[i]));
    const have = got[i];
    if (Number.isNaN(want) || Number.isNaN(have)) {
      if (Number.isNaN(want) !== Number.isNaN(have)) return { ulp: Infinity, at: xs[i] };
      continue;
    }
    af[0] = want;
    bf[0] = have;
    const d = Math.abs(ordinal(a[0]) - ordinal(b[0]));
    if (d > worst.ulp) worst = { ulp: d, at: xs[i] };
  }
  return worst;
}

/** Every `stride`-th float32 bit pattern that is finite (both signs, denormals included). */
function sweep(stride: number): Float32Array {
  const bits = new Uint32Array(Math.ceil(2 ** 32 / stride));
  let n = 0;
  for (let b = 0; b < 2 ** 32; b += stride) if ((b & 0x7f800000) !== 0x7f800000) bits[n++] = b;
  return new Float32Array(bits.buffer, 0, n);
}

const MAX = 3.4028234663852886e38;
const EDGES = [
  0, -0, 1, -1, 0.5, -0.5, 2, 1e-45, -1e-45, 1.1754942e-38, 1.17549435e-38, -1.17549435e-38, MAX, -MAX, 0.625, -0.625,
  0.6249999, 0.34657359, -0.34657359, 88.72283, 88.722839, 88.7228394, 89, -87.33654, -87.336548, -103.972, -103.97208,
  -104, 9.01, 9.02, -9.02, 15, -15, 20, -20, 1e-8, -1e-8, Math.E, 0.9999999, 1.0000001,
];

describe.skipIf(!simdSupported())("wasm SIMD math", () => {
  const xs = sweep(997);
  const inputs = Float32Array.from([...EDGES, ...xs]);

  for (const fn of ["exp", "log", "tanh", "sigmoid"] as const) {
    it(`${fn} is within 2 ulp of the float64 function rounded to float32 (every 997th float32)`, () => {
      const got = simdMath(fn)(inputs);
      const { ulp, at } = maxUlp(fn, inputs, got);
      expect(ulp, `${fn}: worst at x = ${at}`).toBeLessThanOrEqual(2);
    });
  }

  it("gets special values exactly", () => {
    const run = (fn: SimdMathFunction, x: number) => simdMath(fn)(Float32Array.of(x))[0];
    const cases: [SimdMathFunction, number, number][] = [
      ["exp", NaN, NaN], ["exp", Infinity, Infinity], ["exp", -Infinity, 0], ["exp", 0, 1], ["exp", -0, 1],
      ["exp", 89, Infinity], ["exp", 88.7228394, Infinity], ["exp", 1e30, Infinity], ["exp", -104, 0], ["exp", -1e30, 0],
      ["log", NaN, NaN], ["log", 0, -Infinity], ["log", -0, -Infinity], ["log", -1, NaN], ["log", -1e-45, NaN],
      ["log", -Infinity, NaN], ["log", Infinity, Infinity], ["log", 1, 0],
      ["tanh", NaN, NaN], ["tanh", 0, 0], ["tanh", -0, -0], ["tanh", Infinity, 1], ["tanh", -Infinity, -1],
      ["tanh", 10, 1], ["tanh", -10, -1], ["tanh", MAX, 1], ["tanh", -MAX, -1], ["tanh", 1e-45, 1e-45], ["tanh", -1e-45, -1e-45],
      ["sigmoid", NaN, NaN], ["sigmoid", -Infinity, 0], ["sigmoid", Infinity, 1], ["sigmoid", 0, 0.5], ["sigmoid", -0, 0.5],
      ["sigmoid", 20, 1], ["sigmoid", -MAX, 0], ["sigmoid", MAX, 1],
    ];
    for (const [fn, x, want] of cases) expect(run(fn, x), `${fn}(${x})`).toBe(Math.fround(want));
  });

  it("rounds denormal results of exp instead of flushing them", () => {
    const xs = Float32Array.of(-87.5, -90, -95, -100, -103, -103.9);
    const got = simdMath("exp")(xs);
    for (let i = 0; i < xs.length; i++) {
      expect(got[i]).toBeGreaterThan(0);
      expect(got[i]).toBeLessThan(2 ** -126);
    }
    expect(maxUlp("exp", xs, got).ulp).toBeLessThanOrEqual(1);
  });

  it("log of denormal inputs is accurate", () => {
    const xs = Float32Array.of(1e-45, 3e-45, 1e-40, 5.877e-39, 1.1754942e-38);
    expect(maxUlp("log", xs, simdMath("log")(xs)).ulp).toBeLessThanOrEqual(1);
  });
});

/**
 * Runs one op in a fresh module: v128 locals a, b, c are loaded from bytes 0, 16, 32 of a test
 * memory, `body` pushes the result, which is stored at 48 (as a v128, or an i32/f32 scalar).
 */
function runOp(inputs: { a?: ArrayLike<number>; b?: ArrayLike<number>; c?: ArrayLike<number> }, lanes: "f32" | "i32" | "f64", body: (f: FunctionBuilder, a: Local, b: Local, c: Local) => void, result: "v128" | "i32" | "f32" = "v128"): number[] {
  const api = wasmApi()!;
  const mb = new ModuleBuilder().importMemory("env", "memory", { initial: 1 });
  mb.func([], [], (f) => {
    const [a, b, c] = [0, 16, 32].map((at) => {
      const l = f.local(ValType.v128);
      f.i32(at).simdMem("v128.load", 0, 0).set(l);
      return l;
    });
    f.i32(48);
    body(f, a, b, c);
    if (result === "v128") f.simdMem("v128.store", 0, 0);
    else f.mem(result === "i32" ? "i32.store" : "f32.store");
  }, "run");
  const memory = new api.Memory({ initial: 1 });
  const Ctor = lanes === "f32" ? Float32Array : lanes === "i32" ? Int32Array : Float64Array;
  const view = new Ctor(memory.buffer as ArrayBuffer);
  const per = 16 / Ctor.BYTES_PER_ELEMENT;
  [inputs.a, inputs.b, inputs.c].forEach((v, k) => v && view.set(Array.from(v), k * per));
  (new api.Instance(new api.Module(mb.toBytes()), { env: { memory } }).exports.run as () => void)();
  if (result === "i32") return [new Int32Array(memory.buffer)[12]];
  if (result === "f32") return [new Float32Array(memory.buffer)[12]];
  return Array.from(view.subarray(3 * per, 4 * per));
}

describe.skipIf(!simdSupported())("emitter SIMD and f32 opcodes (numbering checked by behaviour)", () => {
  const A = [1.5, -2.5, NaN, -0];
  const B = [2, -2.5, 1, 0];
  const fr = Math.fround;
  const mask = (t: boolean) => (t ? -1 : 0);
  const asI32 = (xs: number[]) => Array.from(new Int32Array(new Float32Array(xs).buffer));
  const same = (got: number[], want: number[], label: string) =>
    want.forEach((w, i) => expect(Object.is(got[i], w) || (Number.isNaN(got[i]) && Number.isNaN(w)), `${label} lane ${i}: got ${got[i]}, want ${w}`).toBe(true));

  const binF32: [SimdOp, (x: number, y: number) => number][] = [
    ["f32x4.add", (x, y) => fr(x + y)],
    ["f32x4.sub", (x, y) => fr(x - y)],
    ["f32x4.mul", (x, y) => fr(x * y)],
    ["f32x4.div", (x, y) => fr(x / y)],
    ["f32x4.min", Math.min], // NaN-propagating, -0 below +0: as Math.min
    ["f32x4.max", Math.max],
    ["f32x4.pmin", (x, y) => (y < x ? y : x)],
    ["f32x4.pmax", (x, y) => (x < y ? y : x)],
  ];
  for (const [name, model] of binF32) {
    it(name, () => same(runOp({ a: A, b: B }, "f32", (f, a, b) => f.get(a).get(b).simd(name)), A.map((x, i) => model(x, B[i])), name));
  }

  const cmpF32: [SimdOp, (x: number, y: number) => boolean][] = [
    ["f32x4.eq", (x, y) => x === y], ["f32x4.ne", (x, y) => x !== y], ["f32x4.lt", (x, y) => x < y],
    ["f32x4.gt", (x, y) => x > y], ["f32x4.le", (x, y) => x <= y], ["f32x4.ge", (x, y) => x >= y],
  ];
  for (const [name, model] of cmpF32) {
    it(name, () => {
      // Given and read back as raw i32 lanes: an all-ones mask is a NaN pattern as a float.
      const got = runOp({ a: asI32(A), b: asI32(B) }, "i32", (f, a, b) => f.get(a).get(b).simd(name));
      expect(got, name).toEqual(A.map((x, i) => mask(model(x, B[i]))));
    });
  }

  const U = [2.5, -3.5, 0.3, -0.7];
  const unF32: [SimdOp, number[]][] = [
    ["f32x4.abs", [2.5, 3.5, 0.3, 0.7]], ["f32x4.neg", [-2.5, 3.5, -0.3, 0.7]], ["f32x4.sqrt", [Math.sqrt(2.5), NaN, Math.sqrt(fr(0.3)), NaN]],
    ["f32x4.ceil", [3, -3, 1, -0]], ["f32x4.floor", [2, -4, 0, -1]], ["f32x4.trunc", [2, -3, 0, -0]], ["f32x4.nearest", [2, -4, 0, -1]],
  ];
  for (const [name, want] of unF32) {
    it(name, () => same(runOp({ a: U }, "f32", (f, a) => f.get(a).simd(name)), want.map(fr), name));
  }

  const I = [7, -9, 0x7fffffff, -0x80000000];
  const J = [3, -9, 1, 5];
  const binI32: [SimdOp, (x: number, y: number) => number][] = [
    ["i32x4.add", (x, y) => (x + y) | 0], ["i32x4.sub", (x, y) => (x - y) | 0], ["i32x4.mul", Math.imul],
    ["i32x4.min_s", Math.min], ["i32x4.max_s", Math.max],
    ["i32x4.eq", (x, y) => mask(x === y)], ["i32x4.ne", (x, y) => mask(x !== y)], ["i32x4.lt_s", (x, y) => mask(x < y)],
    ["i32x4.gt_s", (x, y) => mask(x > y)], ["i32x4.le_s", (x, y) => mask(x <= y)], ["i32x4.ge_s", (x, y) => mask(x >= y)],
    ["v128.and", (x, y) => x & y], ["v128.or", (x, y) => x | y], ["v128.xor", (x, y) => x ^ y], ["v128.andnot", (x, y) => x & ~y],
  ];
  for (const [name, model] of binI32) {
    it(name, () => expect(runOp({ a: I, b: J }, "i32", (f, a, b) => f.get(a).get(b).simd(name)), name).toEqual(I.map((x, i) => model(x, J[i]))));
  }

  it("i32x4 unary ops, shifts, splats and reductions", () => {
    const run = (body: (f: FunctionBuilder, a: Local, b: Local, c: Local) => void, result: "v128" | "i32" = "v128") => runOp({ a: I, b: J, c: [-1, 0, -1, 0] }, "i32", body, result);
    expect(run((f, a) => f.get(a).simd("i32x4.abs"))).toEqual(I.map((x) => Math.abs(x) | 0));
    expect(run((f, a) => f.get(a).simd("i32x4.neg"))).toEqual(I.map((x) => -x | 0));
    expect(run((f, a) => f.get(a).simd("v128.not"))).toEqual(I.map((x) => ~x));
    expect(run((f, a) => f.get(a).i32(3).simd("i32x4.shl"))).toEqual(I.map((x) => x << 3));
    expect(run((f, a) => f.get(a).i32(3).simd("i32x4.shr_s"))).toEqual(I.map((x) => x >> 3));
    expect(run((f, a) => f.get(a).i32(3).simd("i32x4.shr_u"))).toEqual(I.map((x) => (x >>> 3) | 0));
    expect(run((f) => f.i32(-5).simd("i32x4.splat"))).toEqual([-5, -5, -5, -5]);
    expect(run((f, a, b, c) => f.get(a).get(b).get(c).simd("v128.bitselect"))).toEqual([I[0], J[1], I[2], J[3]]);
    expect(run((f, _a, _b, c) => f.get(c).simd("v128.any_true"), "i32")).toEqual([1]);
    expect(run((f, _a, _b, c) => f.get(c).simd("i32x4.all_true"), "i32")).toEqual([0]);
    expect(run((f, a) => f.get(a).simd("i32x4.bitmask"), "i32")).toEqual([0b1010]);
    expect(run((f, a) => f.get(a).lane("i32x4.extract_lane", 1), "i32")).toEqual([-9]);
    expect(run((f, a) => f.get(a).i32(42).lane("i32x4.replace_lane", 2))).toEqual([I[0], I[1], 42, I[3]]);
    expect(run((f) => f.i32x4Const([1, -2, 3, -4]))).toEqual([1, -2, 3, -4]);
    expect(run((f, a, b) => f.get(a).get(b).shuffle([4, 5, 6, 7, 16, 17, 18, 19, 28, 29, 30, 31, 0, 1, 2, 3]))).toEqual([I[1], J[0], J[3], I[0]]);
  });

  it("conversions, splats, lane access and one-lane memory ops", () => {
    const F = [1.75, -2.5, 3e9, NaN];
    expect(runOp({ a: asI32(F) }, "i32", (f, a) => f.get(a).simd("i32x4.trunc_sat_f32x4_s"))).toEqual([1, -2, 0x7fffffff, 0]);
    expect(runOp({ a: [7, -3, 16777217, 0] }, "i32", (f, a) => f.get(a).simd("f32x4.convert_i32x4_s"))).toEqual(asI32([7, -3, 16777216, 0]));
    same(runOp({ a: F }, "f32", (f) => f.f32(0.25).simd("f32x4.splat")), [0.25, 0.25, 0.25, 0.25], "f32x4.splat");
    same(runOp({ a: F }, "f32", (f, a) => f.get(a).extractLane(1), "f32"), [-2.5], "f32x4.extract_lane");
    same(runOp({ a: F }, "f32", (f, a) => f.get(a).f32(9).lane("f32x4.replace_lane", 3)), [1.75, -2.5, 3e9, 9], "f32x4.replace_lane");
    same(runOp({ a: F }, "f32", (f) => f.i32(4).simdMem("v128.load32_zero")), [-2.5, 0, 0, 0], "v128.load32_zero");
    same(runOp({ a: F }, "f32", (f) => f.i32(8).simdMem("v128.load32_splat")), [3e9, 3e9, 3e9, 3e9].map(fr), "v128.load32_splat");
    same(runOp({ a: F }, "f32", (f) => f.i32(4).v128Zero().simdLaneMem("v128.load32_lane", 2)), [0, 0, -2.5, 0], "v128.load32_lane");
    // store32_lane writes lane 1 of a to byte 48, which is read back and stored again as the scalar result.
    same(runOp({ a: F }, "f32", (f, a) => f.op("drop").i32(48).get(a).simdLaneMem("v128.store32_lane", 1).i32(48).i32(48).mem("f32.load"), "f32"), [-2.5], "v128.store32_lane");
    same(runOp({ a: [1, 2, 3, 4] }, "f32", (f) => f.f32x4Const([0.5, -1, 2, 4])), [0.5, -1, 2, 4], "f32x4Const");
  });

  it("f64x2 arithmetic, promote and demote", () => {
    const D = [1 / 3, -2.5];
    const E = [3, 0.5];
    for (const [name, model] of [["f64x2.add", (x: number, y: number) => x + y], ["f64x2.sub", (x: number, y: number) => x - y], ["f64x2.mul", (x: number, y: number) => x * y], ["f64x2.div", (x: number, y: number) => x / y]] as const) {
      expect(runOp({ a: D, b: E }, "f64", (f, a, b) => f.get(a).get(b).simd(name)), name).toEqual(D.map((x, i) => model(x, E[i])));
    }
    expect(runOp({ a: [0.1, -7, 8, 9] }, "f32", (f, a) => f.get(a).simd("f64x2.promote_low_f32x4").simd("f32x4.demote_f64x2_zero"))).toEqual([fr(0.1), -7, 0, 0]);
  });

  it("scalar f32 ops", () => {
    const scalar = (args: number[], ops: PlainOp[], result: "f32" | "i32" = "f32") =>
      runOp({}, "f32", (f) => {
        for (const x of args) f.f32(x);
        for (const o of ops) f.op(o);
      }, result)[0];
    expect(scalar([1.5, 0.25], ["f32.sub"])).toBe(1.25);
    expect(scalar([1, 3], ["f32.div"])).toBe(fr(1 / 3));
    expect(scalar([-0, 0], ["f32.min"])).toBe(-0);
    expect(scalar([-0, 0], ["f32.max"])).toBe(0);
    expect(scalar([2, -0], ["f32.copysign"])).toBe(-2);
    expect(scalar([4], ["f32.sqrt"])).toBe(2);
    expect(scalar([-9], ["f32.abs"])).toBe(9);
    expect(scalar([-9], ["f32.neg"])).toBe(9);
    const cmps: [PlainOp, number][] = [["f32.eq", 0], ["f32.ne", 1], ["f32.lt", 0], ["f32.gt", 1], ["f32.le", 0], ["f32.ge", 1]];
    for (const [o, want] of cmps) expect(scalar([2, 1], [o], "i32"), o).toBe(want);
    expect(scalar([1], ["i32.reinterpret_f32"], "i32")).toBe(0x3f800000);
    expect(scalar([1], ["i32.reinterpret_f32", "f32.reinterpret_i32"])).toBe(1);
    expect(scalar([1], ["i32.reinterpret_f32", "f32.convert_i32_s"])).toBe(fr(0x3f800000));
  });
});
