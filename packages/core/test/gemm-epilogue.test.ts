import { afterAll, describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { ops } from "../src/ops/index.js";
import {
  compileConvEpilogue, compileGemmEpilogue, compileProgram, convEpilogueLayout, convOutSize, epilogueLayout, exactProgram, getBackend, getThreads, heapByteOffset, matmulKernel, releaseValue, setBackend, setThreads,
  valueFrom, wasmAvailable, warmUpThreads, type Backend, type DType, type ElementwiseProgram, type Shape, type Value,
} from "../src/index.js";
import { gemmWasm } from "../src/kernels/wasm/gemm-wasm.js";
import { convGeometry, convPath } from "../src/kernels/conv.js";
import { conv2dDirectWasm } from "../src/kernels/conv-direct.js";
import { workerStats } from "../src/kernels/wasm/threads.js";

/** A program over C (in0) and operands in1.. with every op rounded to `dtype`, as the graph's fusion writes it. */
function program(dtype: DType, ops: [prim: string, operands: string[], attrs?: object][]): ElementwiseProgram {
  return {
    ops: ops.map(([prim, operands, attrs]) => ({
      prim: prim as never,
      attrs: (attrs ?? {}) as never,
      dtype,
      operands: operands.map((o) => (o.startsWith("in") ? { from: "in" as const, index: Number(o.slice(2)) } : o.startsWith("op") ? { from: "op" as const, index: Number(o.slice(2)) } : { from: "const" as const, value: Number(o) })),
    })),
  };
}

/** The epilogues a network runs, by operand shapes (given [m, n]). */
const CASES: { name: string; prog: (d: DType) => ElementwiseProgram; shapes: (m: number, n: number) => Shape[] }[] = [
  { name: "bias row → relu", prog: (d) => program(d, [["add", ["in0", "in1"]], ["relu", ["op0"]]]), shapes: (_m, n) => [[n]] },
  { name: "relu mask (backward)", prog: (d) => program(d, [["compare", ["in1", "0"], { kind: "gt" }], ["mul", ["op0", "in0"]]]), shapes: (m, n) => [[m, n]] },
  { name: "bias → tanh", prog: (d) => program(d, [["add", ["in1", "in0"]], ["tanh", ["op0"]]]), shapes: (_m, n) => [[1, n]] },
  { name: "column, scalar, sigmoid, where", prog: (d) => program(d, [["mul", ["in0", "in1"]], ["sub", ["op0", "in2"]], ["sigmoid", ["op1"]], ["where", ["in3", "op2", "in0"]]]), shapes: (m, n) => [[m, 1], [], [m, n]] },
  { name: "bias only", prog: (d) => program(d, [["add", ["in0", "in1"]]]), shapes: (_m, n) => [[n]] },
];

/** [m, n, k]: tile edges, a tiny output (under the wasm elementwise threshold), matrix-vector, the mlp sizes. */
const SHAPES: [number, number, number][] = [[7, 13, 5], [3, 4, 9], [1, 33, 20], [17, 1, 9], [128, 256, 784], [61, 70, 300]];

function random(dtype: DType, shape: Shape, seed: number, mask = false): Value {
  const rand = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return valueFrom(dtype, shape, Array.from({ length: n }, () => (mask ? (rand() < 0.5 ? 0 : 1) : rand() * 2 - 1)));
}

/** Fused vs the two separate kernels (matmul, then the program over its result), as bit patterns. */
function compare(dtype: DType, m: number, n: number, k: number, transA: boolean, transB: boolean, c: (typeof CASES)[number], seed: number): void {
  const prog = c.prog(dtype);
  const shapes = c.shapes(m, n);
  const a = random(dtype, transA ? [k, m] : [m, k], seed);
  const b = random(dtype, transB ? [n, k] : [k, n], seed + 1);
  const operands = shapes.map((s, i) => random(dtype, s, seed + 2 + i, c.name.includes("where") && i === 2));
  const fused = random(dtype, [m, n], 0);
  const separate = random(dtype, [m, n], 1);
  try {
    compileGemmEpilogue(prog, [m, n], dtype, shapes)([a, b, ...operands], fused, transA, transB);
    matmulKernel(dtype)(m, n, k, a.data as Float32Array, 0, transA, b.data as Float32Array, 0, transB, separate.data as Float32Array, 0);
    const product = separate.data.slice();
    compileProgram(prog, 1 + shapes.length)(separate.data, [m, n], [product, ...operands.map((o) => o.data)], [[m, n], ...shapes]);
    const label = `${c.name} ${dtype} ${getBackend()} ${getThreads()}t m=${m} n=${n} k=${k} tA=${transA} tB=${transB}`;
    const bits = (v: Value) => Array.from(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
    expect(bits(fused), label).toEqual(bits(separate));
  } finally {
    for (const v of [a, b, fused, separate, ...operands]) releaseValue(v);
  }
}

describe("gemm epilogue", () => {
  const saved = { backend: getBackend(), threads: getThreads() };
  afterAll(() => {
    setBackend(saved.backend);
    setThreads(saved.threads);
  });

  it("classifies operand layouts against [m, n]", () => {
    expect(epilogueLayout([5], 3, 5)).toBe("row");
    expect(epilogueLayout([1, 5], 3, 5)).toBe("row");
    expect(epilogueLayout([3, 1], 3, 5)).toBe("column");
    expect(epilogueLayout([], 3, 5)).toBe("scalar");
    expect(epilogueLayout([1, 1], 3, 5)).toBe("scalar");
    expect(epilogueLayout([3, 5], 3, 5)).toBe("full");
    expect(epilogueLayout([5], 1, 5)).toBe("full");
    expect(epilogueLayout([4], 3, 5)).toBeNull();
    expect(epilogueLayout([2, 3, 5], 3, 5)).toBeNull();
    expect(() => compileGemmEpilogue(CASES[0].prog("float32"), [3, 5], "float32", [[4]])).toThrow(/operand 0 of shape \[4\] does not broadcast to \[3,5\]/);
  });

  const backends: Backend[] = wasmAvailable() ? ["wasm", "js"] : ["js"];
  for (const backend of backends) {
    for (const threads of backend === "wasm" ? [1, 2] : [1]) {
      it(`is bitwise the separate kernels' result (${backend}, ${threads} thread${threads > 1 ? "s" : ""}, float32 and float64)`, async () => {
        setBackend(backend);
        setThreads(threads);
        if (backend === "wasm" && threads > 1) await warmUpThreads();
        const before = workerStats().workerChunks;
        let seed = 10;
        for (const dtype of ["float32", "float64"] as const) {
          for (const [m, n, k] of SHAPES) {
            // Every case on the small shapes; the big one with both transposes and the mask only.
            const big = m * n * k > 1e6;
            for (const c of big ? CASES.slice(0, 3) : CASES) {
              for (const [tA, tB] of big ? [[false, true], [true, false]] : [[false, false], [true, true]]) compare(dtype, m, n, k, tA, tB, c, seed++);
            }
          }
        }
        // With two threads the fused variant's chunks reach the workers too (the repeat makes that
        // likely on a loaded machine, where the caller may win every chunk of one call).
        if (backend === "wasm" && threads > 1) {
          for (let r = 0; r < 100 && workerStats().workerChunks === before; r++) compare("float32", 128, 256, 784, false, true, CASES[1], 3);
          expect(workerStats().workerChunks).toBeGreaterThan(before);
        }
      }, 120_000);
    }
  }

  for (const backend of backends) {
    it(`a convolution's epilogue is bitwise the separate kernels' result (${backend}, float32 and float64)`, () => {
      setBackend(backend);
      setThreads(1);
      const biasRelu = (d: DType) => program(d, [["add", ["in0", "in1"]], ["relu", ["op0"]]]);
      const scaleMax = (d: DType) => program(d, [["mul", ["in1", "in0"]], ["maximum", ["op0", "in2"]]]);
      // [B, C, H, W], [K, C, kh, kw], attrs, program, operand shapes (per channel or scalar).
      const cases: [Shape, Shape, { stride: number[]; padding: number[]; dilation: number[] }, (d: DType) => ElementwiseProgram, Shape[]][] = [
        [[5, 1, 12, 12], [8, 1, 3, 3], { stride: [1, 1], padding: [1, 1], dilation: [1, 1] }, biasRelu, [[8, 1, 1]]],
        [[3, 4, 9, 7], [6, 4, 3, 2], { stride: [2, 1], padding: [0, 1], dilation: [1, 2] }, scaleMax, [[1, 6, 1, 1], []]],
        [[2, 3, 5, 5], [1, 3, 3, 3], { stride: [1, 1], padding: [1, 1], dilation: [1, 1] }, biasRelu, [[1, 1, 1]]],
      ];
      let seed = 100;
      for (const dtype of ["float32", "float64"] as const) {
        for (const [xs, ws, attrs, prog, shapes] of cases) {
          const x = random(dtype, xs, seed++), w = random(dtype, ws, seed++);
          const operands = shapes.map((sh) => random(dtype, sh, seed++));
          const outShape = [xs[0], ws[0], convOutSize(xs[2], ws[2], attrs.stride[0], attrs.padding[0], attrs.dilation[0]), convOutSize(xs[3], ws[3], attrs.stride[1], attrs.padding[1], attrs.dilation[1])];
          const fused = random(dtype, outShape, 0), separate = random(dtype, outShape, 1);
          try {
            compileConvEpilogue(prog(dtype), outShape, dtype, shapes)([x, w, ...operands], fused, attrs);
            ops.conv2d.kernel([x, w], separate, attrs);
            compileProgram(prog(dtype), 1 + shapes.length)(separate.data, outShape, [separate.data.slice(), ...operands.map((o) => o.data)], [outShape, ...shapes]);
            const bits = (v: Value) => Array.from(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
            expect(bits(fused), `${backend} ${dtype} x=${xs} w=${ws}`).toEqual(bits(separate));
          } finally {
            for (const v of [x, w, fused, separate, ...operands]) releaseValue(v);
          }
        }
      }
    });
  }

  it("a convolution takes only exact programs and per-channel or scalar operands", () => {
    const tanh = program("float32", [["add", ["in0", "in1"]], ["tanh", ["op0"]]]);
    expect(exactProgram(tanh)).toBe(false);
    expect(exactProgram(program("float32", [["pow", ["in0"]]]))).toBe(false);
    expect(() => compileConvEpilogue(tanh, [2, 8, 4, 4], "float32", [[8, 1, 1]])).toThrow(/conv epilogue: add→tanh is not exact/);
    const add = program("float32", [["add", ["in0", "in1"]]]);
    expect(() => compileConvEpilogue(add, [2, 8, 4, 4], "float32", [[8, 4, 4]])).toThrow(/operand 0 of shape \[8,4,4\] is not one value per channel/);
    expect(convEpilogueLayout([8, 1, 1], 8)).toBe("column");
    expect(convEpilogueLayout([1, 8, 1, 1], 8)).toBe("column");
    expect(convEpilogueLayout([1], 8)).toBe("scalar");
    expect(convEpilogueLayout([8], 8)).toBeNull();
  });

  it.skipIf(!wasmAvailable())("runs in the wasm gemm when the operands are in the heap, and says so", () => {
    setBackend("wasm");
    setThreads(1);
    const prog = CASES[0].prog("float32");
    const [m, n, k] = [9, 20, 6];
    const a = random("float32", [m, k], 1), b = random("float32", [k, n], 2), bias = random("float32", [n], 3), c = random("float32", [m, n], 4);
    try {
      expect(heapByteOffset(bias.data)).toBeGreaterThanOrEqual(0);
      const call = { key: "test:add→relu", spec: { ops: prog.ops, layouts: ["row" as const] }, operands: [bias.data as Float32Array] };
      expect(gemmWasm(m, n, k, a.data as Float32Array, 0, false, b.data as Float32Array, 0, false, c.data as Float32Array, 0, call)).toBe(true);
      // Applied exactly once: every element is relu(C + bias) of the plain product.
      const plain = new Float32Array(m * n);
      gemmWasm(m, n, k, a.data as Float32Array, 0, false, b.data as Float32Array, 0, false, plain, 0);
      for (let i = 0; i < m * n; i++) expect(c.data[i]).toBe(Math.max(0, Math.fround(plain[i] + bias.data[i % n])));
      // A bias outside the heap: only the product, and the caller is told.
      const outside = { ...call, operands: [new Float32Array(bias.data)] };
      expect(gemmWasm(m, n, k, a.data as Float32Array, 0, false, b.data as Float32Array, 0, false, c.data as Float32Array, 0, outside)).toBe(false);
      expect(Array.from(c.data)).toEqual(Array.from(plain));
      expect(() => gemmWasm(m, n, k, a.data as Float32Array, 0, false, b.data as Float32Array, 0, false, c.data as Float32Array, 0, { ...call, operands: [new Float32Array(3)] })).toThrow(
        /epilogue operand 0 \(row\) must hold 20 floats for C \[9x20\], got 3/,
      );
    } finally {
      for (const v of [a, b, bias, c]) releaseValue(v);
    }
  });

  describe.skipIf(!wasmAvailable())("on the direct convolution path (wasm, float32)", () => {
    const biasOnly = program("float32", [["add", ["in0", "in1"]]]);
    const biasRelu = program("float32", [["add", ["in0", "in1"]], ["relu", ["op0"]]]);
    const scaleMax = program("float32", [["mul", ["in1", "in0"]], ["maximum", ["op0", "in2"]]]);
    type Attrs2 = { stride: number[]; padding: number[]; dilation: number[] };
    const attrs = (stride: number[], padding: number[], dilation = [1, 1]): Attrs2 => ({ stride, padding, dilation });
    // [B, C, H, W], [K, C, kh, kw], attrs: the cnn's conv1 and conv2, odd widths (partial vectors),
    // channels 1/3/8/9 in and out, padding on one axis only, stride and dilation along the height.
    const geometries: [Shape, Shape, Attrs2][] = [
      [[24, 1, 28, 28], [8, 1, 3, 3], attrs([1, 1], [1, 1])],
      [[4, 8, 14, 14], [16, 8, 3, 3], attrs([1, 1], [1, 1])],
      [[3, 3, 9, 7], [9, 3, 3, 3], attrs([1, 1], [1, 1])],
      [[2, 9, 8, 11], [3, 9, 2, 3], attrs([2, 1], [0, 1], [1, 2])],
      [[1, 1, 6, 5], [1, 1, 3, 3], attrs([1, 1], [2, 0])],
    ];
    const programs: [string, ElementwiseProgram, (K: number) => Shape[]][] = [
      ["bias", biasOnly, (K) => [[K, 1, 1]]],
      ["bias → relu", biasRelu, (K) => [[1, K, 1, 1]]],
      ["scalar scale, per-channel maximum", scaleMax, (K) => [[], [K, 1, 1]]],
    ];
    const outShapeOf = (xs: Shape, ws: Shape, a: Attrs2) => [xs[0], ws[0], ...[2, 3].map((d) => convOutSize(xs[d], ws[d], a.stride[d - 2], a.padding[d - 2], a.dilation[d - 2]))];
    const bits = (d: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) => new Uint32Array(new Float32Array(d as Float32Array).buffer);
    /** The first element whose bits differ, -1 when none (a full-array diff of 100k elements is too slow to print). */
    const firstDiff = (a: Uint32Array, b: Uint32Array) => (a.length !== b.length ? 0 : a.findIndex((v, i) => v !== b[i]));

    for (const threads of [1, 2]) {
      it(`runs the program in the direct kernel's store, bitwise conv then the separate program (${threads} thread${threads > 1 ? "s" : ""})`, async () => {
        setBackend("wasm");
        setThreads(threads);
        if (threads > 1) await warmUpThreads();
        let seed = 500;
        for (const [xs, ws, a] of geometries) {
          const g = convGeometry(xs, ws, a);
          expect(convPath("forward", g, "float32"), `x=${xs} w=${ws}`).toBe("direct");
          const outShape = outShapeOf(xs, ws, a);
          for (const [name, prog, shapesOf] of programs) {
            const shapes = shapesOf(ws[0]);
            const x = random("float32", xs, seed++), w = random("float32", ws, seed++);
            const operands = shapes.map((sh) => random("float32", sh, seed++));
            const fused = random("float32", outShape, 0), separate = random("float32", outShape, 1), direct = random("float32", outShape, 2);
            try {
              const label = `${name} ${threads}t x=${xs} w=${ws}`;
              compileConvEpilogue(prog, outShape, "float32", shapes)([x, w, ...operands], fused, a);
              ops.conv2d.kernel([x, w], separate, a);
              compileProgram(prog, 1 + shapes.length)(separate.data, outShape, [separate.data.slice(), ...operands.map((o) => o.data)], [outShape, ...shapes]);
              expect(firstDiff(bits(fused.data), bits(separate.data)), label).toBe(-1);
              // The kernel itself takes the epilogue (so the step above was one pass, not the fallback).
              const epilogue = { key: `test ${name}`, spec: { ops: prog.ops, layouts: shapes.map((sh) => (sh.length === 0 ? "scalar" : "column") as "scalar" | "column") }, operands: operands.map((o) => o.data as Float32Array) };
              expect(conv2dDirectWasm(x.data as Float32Array, w.data as Float32Array, direct.data as Float32Array, g, epilogue), label).toBe(true);
              expect(firstDiff(bits(direct.data), bits(separate.data)), label).toBe(-1);
            } finally {
              for (const v of [x, w, fused, separate, direct, ...operands]) releaseValue(v);
            }
          }
        }
        if (threads > 1) {
          // The fused variant's chunks reach the workers too, with the same bits.
          const [xs, ws, a] = geometries[0];
          const x = random("float32", xs, 1), w = random("float32", ws, 2), bias = random("float32", [ws[0], 1, 1], 3);
          const outShape = outShapeOf(xs, ws, a);
          const one = random("float32", outShape, 4), two = random("float32", outShape, 5);
          const kernel = compileConvEpilogue(biasRelu, outShape, "float32", [bias.shape]);
          try {
            setThreads(1);
            kernel([x, w, bias], one, a);
            setThreads(2);
            const before = workerStats().workerChunks;
            for (let r = 0; r < 50 && workerStats().workerChunks === before; r++) kernel([x, w, bias], two, a);
            expect(workerStats().workerChunks).toBeGreaterThan(before);
            expect(firstDiff(bits(two.data), bits(one.data))).toBe(-1);
          } finally {
            for (const v of [x, w, bias, one, two]) releaseValue(v);
          }
        }
      }, 120_000);
    }

    it("declines operands outside the heap (the caller then runs the program separately, with the same bits) and rejects mis-sized ones", () => {
      setBackend("wasm");
      setThreads(1);
      const [xs, ws, a] = geometries[2];
      const g = convGeometry(xs, ws, a);
      const outShape = outShapeOf(xs, ws, a);
      const x = random("float32", xs, 7), w = random("float32", ws, 8), bias = random("float32", [ws[0], 1, 1], 9);
      const inHeap = random("float32", outShape, 0), out = random("float32", outShape, 1);
      const outside = new Float32Array(bias.data);
      try {
        const untouched = bits(out.data);
        const epilogue = { key: "test outside", spec: { ops: biasRelu.ops, layouts: ["column" as const] }, operands: [outside] };
        expect(conv2dDirectWasm(x.data as Float32Array, w.data as Float32Array, out.data as Float32Array, g, epilogue)).toBe(false);
        expect(bits(out.data)).toEqual(untouched);
        const kernel = compileConvEpilogue(biasRelu, outShape, "float32", [bias.shape]);
        kernel([x, w, bias], inHeap, a);
        kernel([x, w, { data: outside, shape: bias.shape }], out, a);
        expect(firstDiff(bits(out.data), bits(inHeap.data))).toBe(-1);
        expect(() => conv2dDirectWasm(x.data as Float32Array, w.data as Float32Array, out.data as Float32Array, g, { ...epilogue, operands: [new Float32Array(4)] })).toThrow(
          /epilogue operand 0 \(column\) must hold 9 floats for 9 output channels, got 4/,
        );
      } finally {
        for (const v of [x, w, bias, inHeap, out]) releaseValue(v);
      }
    });
  });
});
