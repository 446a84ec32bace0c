import { afterAll, describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { ops } from "../src/ops/index.js";
import {
  compileConvEpilogue, compileGemmEpilogue, compileProgram, convEpilogueLayout, convOutSize, epilogueLayout, exactProgram, getBackend, getThreads, heapByteOffset, matmulKernel, releaseValue, setBackend, setThreads,
  valueFrom, wasmAvailable, warmUpThreads, type Backend, type DType, type ElementwiseProgram, type Shape, type Value,
} from "../src/index.js";
import { gemmWasm } from "../src/kernels/wasm/gemm-wasm.js";
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
});
