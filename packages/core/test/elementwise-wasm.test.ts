import { afterEach, describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { compileElementwise } from "../src/kernels/elementwise.js";
import { simdSupported } from "../src/kernels/wasm/gemm-wasm.js";
import { heapAlloc, heapBuffer, heapFree, wasmMemory } from "../src/kernels/wasm/heap.js";
import {
  compileWasmElementwise,
  wasmElementwiseSupported,
  type WasmElementwiseOp,
  type WasmOperand,
} from "../src/kernels/wasm/elementwise-wasm.js";
import { ELEMENTWISE, numberLiteral, type ElementwisePrim } from "../src/ops/elementwise.js";

const MAX = 3.4028234663852886e38;
const MIN_DENORMAL = 1.401298464324817e-45;
const SPECIALS = [NaN, 0, -0, Infinity, -Infinity, 1, -1, 0.5, -2, MIN_DENORMAL, -MIN_DENORMAL, 1e-40, 1.1754943508222875e-38, MAX, -MAX, 3, 100, -100];
const SIZES = [0, 1, 3, 4, 5, 17, 255, 257];
const TRANSCENDENTAL = new Set<string>(["exp", "log", "tanh", "sigmoid"]);

// Heap blocks allocated by a test, freed after it.
const blocks: [number, number][] = [];
afterEach(() => {
  for (const [at, bytes] of blocks.splice(0)) heapFree(at, bytes);
});

/** A Float32Array in the wasm heap holding `values`, starting `shift` floats past a 64-byte boundary (so unaligned for shift 1..3). */
function heapArray(values: ArrayLike<number>, shift = 0): Float32Array {
  const bytes = (values.length + shift) * 4;
  const at = heapAlloc(bytes);
  expect(at).toBeGreaterThanOrEqual(0);
  blocks.push([at, bytes]);
  const view = new Float32Array(heapBuffer(), at + shift * 4, values.length);
  view.set(values);
  return view;
}

/** n values: mostly random (mixed magnitudes and signs), with special values sprinkled in. */
function values(n: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    out[i] = u < 0.2 ? SPECIALS[Math.floor(rand() * SPECIALS.length)] : (rand() * 2 - 1) * 10 ** Math.floor(rand() * 6 - 3);
  }
  return out;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const VARS = ["x0", "x1", "x2"];

/** The JavaScript kernel of one primitive: ELEMENTWISE[prim].expr inlined into compileElementwise's loop. */
function jsKernel(prim: ElementwisePrim, attrs: object) {
  const spec = ELEMENTWISE[prim];
  return compileElementwise(`wasm-test:${prim}:${JSON.stringify(attrs)}`, spec.arity, spec.expr(VARS, attrs as never));
}

/** The JavaScript kernel of a fused program, as the graph generates it (every intermediate Math.fround-ed). */
function jsFused(arity: number, ops: readonly WasmElementwiseOp[]) {
  const operand = (o: WasmOperand) => (o.from === "const" ? numberLiteral(o.value) : o.from === "in" ? `x${o.index}` : `t${o.index}`);
  const exprs = ops.map((op) => `Math.fround(${ELEMENTWISE[op.prim].expr(op.operands.map(operand), op.attrs as never)})`);
  const prelude = exprs.slice(0, -1).map((e, k) => `const t${k} = ${e};`).join(" ");
  const expr = exprs[exprs.length - 1];
  return compileElementwise(`wasm-test-fused:${arity}:${prelude}|${expr}`, arity, expr, prelude);
}

const key = (ops: readonly WasmElementwiseOp[]) => `test:${JSON.stringify(ops)}`;

function single(prim: ElementwisePrim, attrs: object = {}): WasmElementwiseOp[] {
  const arity = ELEMENTWISE[prim].arity;
  return [{ prim, attrs, operands: Array.from({ length: arity }, (_, i) => ({ from: "in" as const, index: i })) }];
}

/** Position of a float32 on the number line in ulps (±0 apart by one, so signed zeros are checked). */
function ordinal(x: number): number {
  const f = new Float32Array([x]);
  const b = new Int32Array(f.buffer)[0];
  return b < 0 ? -(b & 0x7fffffff) - 1 : b;
}

/** Checks `got` against `want`: same bits (NaN matching any NaN), or within `ulps` when given. */
function expectClose(got: Float32Array, want: Float32Array, ulps: number, label: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(g) || Number.isNaN(w)) {
      expect(Number.isNaN(g), `${label} [${i}]: got ${g}, want ${w}`).toBe(Number.isNaN(w));
      continue;
    }
    if (ulps === 0) expect(Object.is(g, w), `${label} [${i}]: got ${g}, want ${w}`).toBe(true);
    else expect(Math.abs(ordinal(g) - ordinal(w)), `${label} [${i}]: got ${g}, want ${w}`).toBeLessThanOrEqual(ulps);
  }
}

/**
 * Runs `ops` in wasm on heap copies of `inputs` (each `shift` floats off alignment) and the
 * JavaScript kernel on ordinary copies; they must agree: bitwise, or within 2 ulp per exp/log/tanh/sigmoid.
 */
function check(ops: readonly WasmElementwiseOp[], inputs: Float32Array[], inShapes: number[][], outShape: number[], label: string, shift = 0): void {
  const arity = inputs.length;
  const kernel = compileWasmElementwise(key(ops), arity, ops);
  expect(kernel, label).not.toBeNull();
  const js = ops.length === 1 ? jsKernel(ops[0].prim, ops[0].attrs) : jsFused(arity, ops);
  const want = new Float32Array(sizeOf(outShape));
  js(want, outShape, inputs.map((a) => a.slice()), inShapes);
  const out = heapArray(new Float32Array(want.length).fill(7), (shift + 1) % 4);
  const heapInputs = inputs.map((a, i) => heapArray(a, (shift + i) % 4));
  expect(kernel!(out, outShape, heapInputs, inShapes), label).toBe(true);
  // Each transcendental is within 1 ulp (2 allowed); well-conditioned programs add their errors.
  const ulps = 2 * ops.filter((op) => TRANSCENDENTAL.has(op.prim)).length;
  expectClose(out, want, ulps, label);
}

/** Every primitive with each of its attribute variants. */
const PRIMS: [ElementwisePrim, object][] = [
  ...(["neg", "exp", "log", "sqrt", "abs", "relu", "tanh", "sigmoid", "add", "sub", "mul", "div", "maximum", "minimum", "where"] as const).map(
    (p): [ElementwisePrim, object] => [p, {}],
  ),
  ...[0, 1, 2].map((exponent): [ElementwisePrim, object] => ["pow", { exponent }]),
  ...(["gt", "ge", "lt", "le", "eq", "ne"] as const).map((kind): [ElementwisePrim, object] => ["compare", { kind }]),
];

describe.skipIf(!simdSupported() || !wasmMemory())("wasm elementwise kernels", () => {
  it("match the JavaScript kernel for every primitive, over odd sizes, at unaligned offsets", () => {
    const rand = mulberry32(1);
    for (const [prim, attrs] of PRIMS) {
      const arity = ELEMENTWISE[prim].arity;
      for (const n of SIZES) {
        const inputs = Array.from({ length: arity }, () => values(n, rand));
        check(single(prim, attrs), inputs, inputs.map(() => [n]), [n], `${prim} ${JSON.stringify(attrs)} n=${n}`, n % 4);
      }
    }
  });

  it("match on every pair of special values (NaN, ±0, ±Inf, denormals, extremes)", () => {
    const m = SPECIALS.length;
    const a = new Float32Array(m * m), b = new Float32Array(m * m), c = new Float32Array(m * m);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        a[i * m + j] = SPECIALS[i];
        b[i * m + j] = SPECIALS[j];
        c[i * m + j] = SPECIALS[(i + j) % m];
      }
    }
    for (const [prim, attrs] of PRIMS) {
      const inputs = [c, a, b].slice(3 - ELEMENTWISE[prim].arity);
      check(single(prim, attrs), inputs, inputs.map(() => [m * m]), [m * m], `${prim} ${JSON.stringify(attrs)} specials`);
    }
  });

  describe("broadcast layouts", () => {
    // [input shapes] -> output shape, covering full, scalar, row and column inputs and odd rows.
    const cases: [number[][], number[]][] = [
      [[[5, 17], [1]], [5, 17]], // scalar
      [[[5, 17], []], [5, 17]], // rank-0 scalar
      [[[1], [7, 3]], [7, 3]], // scalar first
      [[[5, 17], [17]], [5, 17]], // row (bias)
      [[[5, 17], [1, 17]], [5, 17]], // row with a leading 1
      [[[5, 17], [5, 1]], [5, 17]], // column
      [[[5, 1], [5, 17]], [5, 17]], // column first
      [[[3], [4, 1]], [4, 3]], // row and column: an outer product
      [[[2, 3, 5], [3, 5]], [2, 3, 5]], // row over two dims
      [[[2, 3, 5], [2, 1, 1]], [2, 3, 5]], // column over two dims
      [[[2, 3, 5], [2, 3, 1]], [2, 3, 5]], // column with inner 5
      [[[1, 3, 4], [3, 4]], [1, 3, 4]], // equal sizes, different ranks
      [[[32, 64], [64]], [32, 64]],
      [[[32, 64], [32, 1]], [32, 64]],
      [[[1, 6], [5, 1]], [5, 6]], // row and column
    ];
    for (const [inShapes, outShape] of cases) {
      it(`${inShapes.map((s) => `[${s}]`).join(" ")} -> [${outShape}]`, () => {
        const rand = mulberry32(inShapes.flat().length * 7 + outShape[0]);
        for (const [prim, attrs] of [["add", {}], ["maximum", {}], ["div", {}], ["compare", { kind: "ge" }], ["tanh", {}]] as [ElementwisePrim, object][]) {
          const arity = ELEMENTWISE[prim].arity;
          const shapes = arity === 1 ? [outShape] : inShapes;
          const inputs = shapes.map((s) => values(sizeOf(s), rand));
          check(single(prim, attrs), inputs, shapes, outShape, `${prim} ${JSON.stringify(shapes)}`, 1);
        }
        // where with the condition broadcast as the first input, plus a full operand.
        const shapes = [inShapes[1], inShapes[0], outShape];
        const inputs = shapes.map((s) => values(sizeOf(s), rand));
        check(single("where"), inputs, shapes, outShape, `where ${JSON.stringify(shapes)}`, 3);
      });
    }

    it("return false, writing nothing, for a layout they do not handle", () => {
      const kernel = compileWasmElementwise("test:add-fallback", 2, single("add"))!;
      // [4,1,8] + [1,5,1]: neither full, scalar, row nor column for any split, and 5*8 elements per
      // wasm call of a blocked layout is too few (see the blocked layouts below).
      const a = heapArray(new Float32Array(32).fill(1)), b = heapArray(new Float32Array(5).fill(2));
      const out = heapArray(new Float32Array(160).fill(7));
      expect(kernel(out, [4, 5, 8], [a, b], [[4, 1, 8], [1, 5, 1]])).toBe(false);
      expect(out.every((v) => v === 7)).toBe(true);
      // Shapes that do not broadcast, and lengths that disagree with their shapes.
      expect(kernel(out, [4, 5, 8], [a, b], [[4, 2, 4], [5]])).toBe(false);
      expect(kernel(out, [4, 5, 8], [a, b], [[4, 5, 8], [1]])).toBe(false);
      expect(kernel(out, [4, 5, 9], [a, b], [[4, 1, 8], [1, 5, 1]])).toBe(false);
      expect(out.every((v) => v === 7)).toBe(true);
    });
  });

  describe("blocked layouts (inputs constant over contiguous inner blocks, walked in JavaScript)", () => {
    // [input shapes] -> output shape: none is full/scalar/row/column for any single split.
    const cases: [number[][], number[]][] = [
      [[[6, 5, 7, 9], [5, 1, 1]], [6, 5, 7, 9]], // per-channel bias, odd H*W
      [[[5, 1, 1], [3, 5, 4, 4]], [3, 5, 4, 4]], // bias first, H*W divisible by 4
      [[[2, 5, 1, 33], [5, 1, 1]], [2, 5, 1, 33]], // a size-1 dim
      [[[3, 7, 11], [7, 1]], [3, 7, 11]], // a column repeated over a leading dim
      [[[4, 1, 17], [1, 5, 1]], [4, 5, 17]], // mixed: neither input full
      [[[2, 3, 4, 21], [3, 1, 21]], [2, 3, 4, 21]], // row block repeated per channel
      [[[2, 3, 2, 5, 13], [3, 1, 5, 1]], [2, 3, 2, 5, 13]], // three walked dims
    ];
    for (const [inShapes, outShape] of cases) {
      it(`${inShapes.map((s) => `[${s}]`).join(" ")} -> [${outShape}] give the JavaScript kernel's bits`, () => {
        const rand = mulberry32(outShape.reduce((a, b) => a * 31 + b, 5));
        for (const [prim, attrs] of [["add", {}], ["sub", {}], ["mul", {}], ["div", {}], ["maximum", {}], ["compare", { kind: "lt" }]] as [ElementwisePrim, object][]) {
          const inputs = inShapes.map((s) => values(sizeOf(s), rand));
          for (const shift of [0, 1]) check(single(prim, attrs), inputs, inShapes, outShape, `${prim} ${JSON.stringify(inShapes)} shift ${shift}`, shift);
        }
        // where, with a full third operand: three inputs, two of them broadcast.
        const shapes = [inShapes[1], inShapes[0], outShape];
        check(single("where"), shapes.map((s) => values(sizeOf(s), rand)), shapes, outShape, `where ${JSON.stringify(shapes)}`, 2);
      });
    }

    it("run a fused conv-bias + relu program on a per-channel bias", () => {
      const rand = mulberry32(11);
      const ops: WasmElementwiseOp[] = [
        { prim: "add", attrs: {}, dtype: "float32", operands: [{ from: "in", index: 0 }, { from: "in", index: 1 }] },
        { prim: "relu", attrs: {}, dtype: "float32", operands: [{ from: "op", index: 0 }] },
      ];
      check(ops, [values(4 * 8 * 25, rand), values(8, rand)], [[4, 8, 5, 5], [8, 1, 1]], [4, 8, 5, 5], "add+relu per channel");
    });

    it("leave programs with approximated ops, and too little work per call, to JavaScript", () => {
      const tanhOfSum: WasmElementwiseOp[] = [
        { prim: "add", attrs: {}, dtype: "float32", operands: [{ from: "in", index: 0 }, { from: "in", index: 1 }] },
        { prim: "tanh", attrs: {}, dtype: "float32", operands: [{ from: "op", index: 0 }] },
      ];
      const kernel = compileWasmElementwise(key(tanhOfSum), 2, tanhOfSum)!;
      const x = heapArray(new Float32Array(6 * 5 * 63).fill(1)), b = heapArray(new Float32Array(5).fill(2));
      const out = heapArray(new Float32Array(x.length).fill(7));
      // The JavaScript kernel (Math.tanh) ran this layout before; SIMD tanh would change its bits.
      expect(kernel(out, [6, 5, 7, 9], [x, b], [[6, 5, 7, 9], [5, 1, 1]])).toBe(false);
      const add = compileWasmElementwise("test:add-small-blocks", 2, single("add"))!;
      expect(add(out.subarray(0, 4 * 5 * 3), [4, 5, 3], [x.subarray(0, 12), b], [[4, 1, 3], [1, 5, 1]])).toBe(false);
      expect(out.every((v) => v === 7)).toBe(true);
    });
  });

  describe("fused programs", () => {
    const inp = (index: number): WasmOperand => ({ from: "in", index });
    const op = (index: number): WasmOperand => ({ from: "op", index });
    const k = (value: number): WasmOperand => ({ from: "const", value });
    const programs: [string, number, WasmElementwiseOp[]][] = [
      ["sgd w - lr*g", 2, [{ prim: "mul", attrs: {}, operands: [k(0.0625), inp(1)] }, { prim: "sub", attrs: {}, operands: [inp(0), op(0)] }]],
      ["momentum v*0.875 + g; w - 0.03125*v", 3, [
        { prim: "mul", attrs: {}, operands: [inp(1), k(0.875)] },
        { prim: "add", attrs: {}, operands: [op(0), inp(2)] },
        { prim: "mul", attrs: {}, operands: [k(0.03125), op(1)] },
        { prim: "sub", attrs: {}, operands: [inp(0), op(2)] },
      ]],
      ["adam-ish m / (sqrt(v) + 1e-8)", 2, [
        { prim: "sqrt", attrs: {}, operands: [inp(1)] },
        { prim: "add", attrs: {}, operands: [op(0), k(Math.fround(1e-8))] },
        { prim: "div", attrs: {}, operands: [inp(0), op(1)] },
      ]],
      ["leaky relu", 1, [
        { prim: "compare", attrs: { kind: "gt" }, operands: [inp(0), k(0)] },
        { prim: "mul", attrs: {}, operands: [inp(0), k(0.015625)] },
        { prim: "where", attrs: {}, operands: [op(0), inp(0), op(1)] },
      ]],
      ["clamp and square", 1, [
        { prim: "maximum", attrs: {}, operands: [inp(0), k(-1)] },
        { prim: "minimum", attrs: {}, operands: [op(0), k(1)] },
        { prim: "pow", attrs: { exponent: 2 }, operands: [op(1)] },
        { prim: "neg", attrs: {}, operands: [op(2)] },
        { prim: "abs", attrs: {}, operands: [op(3)] },
        { prim: "relu", attrs: {}, operands: [op(4)] },
      ]],
      ["NaN and -0 constants", 1, [
        { prim: "maximum", attrs: {}, operands: [k(-0), inp(0)] },
        { prim: "add", attrs: {}, operands: [op(0), k(NaN)] },
        { prim: "compare", attrs: { kind: "ne" }, operands: [op(1), op(1)] },
      ]],
      ["silu x*sigmoid(x)", 1, [{ prim: "sigmoid", attrs: {}, operands: [inp(0)] }, { prim: "mul", attrs: {}, operands: [inp(0), op(0)] }]],
      ["gaussian exp(-x*x)", 1, [
        { prim: "mul", attrs: {}, operands: [inp(0), inp(0)] },
        { prim: "neg", attrs: {}, operands: [op(0)] },
        { prim: "exp", attrs: {}, operands: [op(1)] },
      ]],
      ["log(x*x + 1)", 1, [
        { prim: "pow", attrs: { exponent: 2 }, operands: [inp(0)] },
        { prim: "add", attrs: {}, operands: [op(0), k(1)] },
        { prim: "log", attrs: {}, operands: [op(1)] },
      ]],
      ["lstm-ish sigmoid(a) * tanh(b)", 2, [
        { prim: "sigmoid", attrs: {}, operands: [inp(0)] },
        { prim: "tanh", attrs: {}, operands: [inp(1)] },
        { prim: "mul", attrs: {}, operands: [op(0), op(1)] },
      ]],
    ];
    for (const [name, arity, ops] of programs) {
      it(name, () => {
        expect(wasmElementwiseSupported(ops)).toBe(true);
        const rand = mulberry32(name.length);
        for (const n of SIZES) {
          const inputs = Array.from({ length: arity }, () => values(n, rand));
          check(ops, inputs, inputs.map(() => [n]), [n], `${name} n=${n}`, n % 4);
        }
        // With the second input a row and the third a column, where there are any.
        const shapes = [[6, 9], [9], [6, 1]].slice(0, arity);
        const inputs = shapes.map((s) => values(sizeOf(s), rand));
        check(ops, inputs, shapes, [6, 9], `${name} broadcast`, 2);
      });
    }
  });

  it("gives an element the same bits in the vector loop and in the one-lane tail", () => {
    // Out [m, 5] from a full input plus a column: every row runs 4 lanes as a vector and 1 in the tail.
    const rand = mulberry32(5);
    const m = 400;
    const base = values(m, rand);
    const x = new Float32Array(m * 5);
    for (let r = 0; r < m; r++) x.fill(base[r], r * 5, r * 5 + 5);
    for (const prim of ["exp", "log", "tanh", "sigmoid"] as const) {
      const ops: WasmElementwiseOp[] = [
        { prim, attrs: {}, operands: [{ from: "in", index: 0 }] },
        { prim: "add", attrs: {}, operands: [{ from: "op", index: 0 }, { from: "in", index: 1 }] },
      ];
      const out = heapArray(new Float32Array(m * 5), 1);
      const kernel = compileWasmElementwise(key(ops), 2, ops)!;
      expect(kernel(out, [m, 5], [heapArray(x, 2), heapArray(new Float32Array(m), 3)], [[m, 5], [m, 1]])).toBe(true);
      for (let r = 0; r < m; r++) {
        const lane0 = out[r * 5];
        for (let c = 1; c < 5; c++) expect(Object.is(out[r * 5 + c], lane0) || (lane0 !== lane0 && out[r * 5 + c] !== out[r * 5 + c]), `${prim}(${base[r]})`).toBe(true);
      }
    }
  });

  it("computes in place (out is one of the inputs)", () => {
    const ops: WasmElementwiseOp[] = [
      { prim: "mul", attrs: {}, operands: [{ from: "const", value: 0.5 }, { from: "in", index: 1 }] },
      { prim: "sub", attrs: {}, operands: [{ from: "in", index: 0 }, { from: "op", index: 0 }] },
    ];
    const rand = mulberry32(9);
    const w0 = values(1027, rand), g = values(1027, rand);
    const want = new Float32Array(1027);
    jsFused(2, ops)(want, [1027], [w0, g], [[1027], [1027]]);
    const w = heapArray(w0, 1);
    expect(compileWasmElementwise(key(ops), 2, ops)!(w, [1027], [w, heapArray(g, 2)], [[1027], [1027]])).toBe(true);
    expectClose(w, want, 0, "in place");
  });

  it("falls back (returns false, out untouched) for arrays outside the heap", () => {
    const kernel = compileWasmElementwise("test:add-heap", 2, single("add"))!;
    const a = new Float32Array([1, 2, 3]), b = heapArray([4, 5, 6]);
    const out = new Float32Array([7, 7, 7]);
    expect(kernel(out, [3], [a, b], [[3], [3]])).toBe(false);
    expect([...out]).toEqual([7, 7, 7]);
    const heapOut = heapArray([7, 7, 7]);
    expect(kernel(heapOut, [3], [a, b], [[3], [3]])).toBe(false);
    expect([...heapOut]).toEqual([7, 7, 7]);
    expect(kernel(heapOut, [3], [heapArray([1, 2, 3]), b], [[3], [3]])).toBe(true);
    expect([...heapOut]).toEqual([5, 7, 9]);
    // Float64 data is not for these kernels either.
    expect(kernel(heapOut, [3], [new Float64Array(3) as unknown as Float32Array, b], [[3], [3]])).toBe(false);
  });

  it("says which programs it supports, and caches by key", () => {
    const inp = { from: "in", index: 0 } as const;
    expect(wasmElementwiseSupported(single("pow", { exponent: 3 }))).toBe(false);
    expect(wasmElementwiseSupported(single("pow", { exponent: 0.5 }))).toBe(false);
    expect(wasmElementwiseSupported([{ prim: "erf" as ElementwisePrim, attrs: {}, operands: [inp] }])).toBe(false);
    expect(wasmElementwiseSupported([{ prim: "add", attrs: {}, operands: [inp] }])).toBe(false); // arity
    expect(wasmElementwiseSupported([{ prim: "neg", attrs: {}, operands: [inp], dtype: "int32" }])).toBe(false);
    expect(wasmElementwiseSupported([{ prim: "neg", attrs: {}, operands: [{ from: "op", index: 0 }] }])).toBe(false); // not earlier
    expect(wasmElementwiseSupported([{ prim: "compare", attrs: { kind: "xor" }, operands: [inp, inp] }])).toBe(false);
    expect(wasmElementwiseSupported([])).toBe(false);
    expect(wasmElementwiseSupported([{ prim: "neg", attrs: {}, operands: [inp], dtype: "float32" }])).toBe(true);
    expect(compileWasmElementwise("test:pow3", 1, single("pow", { exponent: 3 }))).toBeNull();
    expect(compileWasmElementwise("test:arity", 1, single("add"))).toBeNull(); // input 1 of 1
    const a = compileWasmElementwise("test:cached", 1, single("exp"));
    expect(a).not.toBeNull();
    expect(compileWasmElementwise("test:cached", 1, single("exp"))).toBe(a);
  });
});
