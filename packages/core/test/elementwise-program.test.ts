import { describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { getBackend, setBackend, wasmAvailable } from "../src/kernels/backend.js";
import { WASM_ELEMENTWISE_MIN_SIZE } from "../src/kernels/elementwise-dispatch.js";
import { compileProgram, programSource } from "../src/kernels/elementwise-program.js";
import type { ElementwiseOp, ElementwisePrim, ElementwiseProgram } from "../src/ops/elementwise-types.js";
import { ops } from "../src/ops/index.js";

const inp = (index: number) => ({ from: "in", index }) as const;
const op = (index: number) => ({ from: "op", index }) as const;
const k = (value: number) => ({ from: "const", value }) as const;

/** Runs `fn` with the given backend, restoring the previous one after. */
function withBackend(backend: "js" | "wasm", fn: () => void): void {
  const saved = getBackend();
  try {
    setBackend(backend);
    fn();
  } finally {
    setBackend(saved);
  }
}

describe("elementwise programs", () => {
  it("generate one JavaScript expression per op, rounded to the op's dtype where an unfused op would store it", () => {
    const sgd: ElementwiseProgram = {
      ops: [
        { prim: "mul", attrs: {}, operands: [inp(1), k(0.5)], dtype: "float32" },
        { prim: "pow", attrs: { exponent: 2 }, operands: [op(0)], dtype: "float32" },
        { prim: "sub", attrs: {}, operands: [inp(0), op(1)], dtype: "float32" },
      ],
    };
    expect(programSource(sgd)).toEqual({
      prelude: "const t0 = Math.fround(x1 * (0.5)); const t1 = Math.fround(Math.pow(t0, (2)));",
      expr: "Math.fround(x0 - t1)",
    });
    expect(programSource({ ops: [{ prim: "add", attrs: {}, operands: [inp(0), k(-0)], dtype: "int32" }] }).expr).toBe("((x0 + -0) | 0)");
    expect(programSource({ ops: [{ prim: "compare", attrs: { kind: "ge" }, operands: [inp(0), k(NaN)], dtype: "float64" }] }).expr).toBe("(x0 >= NaN ? 1 : 0)");
    // No dtype (a primitive's one-op kernel, shared by every dtype): the store rounds.
    expect(programSource({ ops: [{ prim: "neg", attrs: {}, operands: [inp(0)] }] })).toEqual({ prelude: "", expr: "-x0" });
  });

  it("refuse an intermediate op without a dtype, a primitive that is not elementwise, and no ops", () => {
    const loose: ElementwiseOp[] = [
      { prim: "exp", attrs: {}, operands: [inp(0)] },
      { prim: "neg", attrs: {}, operands: [op(0)], dtype: "float32" },
    ];
    expect(() => programSource({ ops: loose })).toThrow(/op 0 \(exp\) needs a dtype/);
    expect(() => programSource({ ops: [{ prim: "matmul" as ElementwisePrim, attrs: {}, operands: [inp(0), inp(1)] }] })).toThrow(/matmul is not elementwise/);
    expect(() => programSource({ ops: [] })).toThrow(/no ops/);
  });

  it("run a fused float32 chain with the bits of its ops run one by one, on both backends", () => {
    const rand = mulberry32(11);
    const n = 4 * WASM_ELEMENTWISE_MIN_SIZE + 3;
    const w = Float32Array.from({ length: n }, () => rand() * 4 - 2);
    const g = Float32Array.from({ length: n }, () => rand() * 4 - 2);
    const lr = Math.fround(0.1);
    const program: ElementwiseProgram = {
      ops: [
        { prim: "mul", attrs: {}, operands: [inp(1), k(lr)], dtype: "float32" },
        { prim: "relu", attrs: {}, operands: [op(0)], dtype: "float32" },
        { prim: "sub", attrs: {}, operands: [inp(0), op(1)], dtype: "float32" },
      ],
    };
    const view = (data: Float32Array) => ({ shape: [n], dtype: "float32" as const, data });
    for (const backend of wasmAvailable() ? (["js", "wasm"] as const) : (["js"] as const)) {
      withBackend(backend, () => {
        const step = new Float32Array(n), act = new Float32Array(n), want = new Float32Array(n);
        ops.mul.kernel([view(g), { shape: [], dtype: "float32", data: Float32Array.of(lr) }], view(step), {});
        ops.relu.kernel([view(step)], view(act), {});
        ops.sub.kernel([view(w), view(act)], view(want), {});
        const got = new Float32Array(n);
        compileProgram(program, 2)(got, [n], [w, g], [[n], [n]]);
        expect(Array.from(got), backend).toEqual(Array.from(want));
      });
    }
  });

  it.runIf(wasmAvailable())("keep a float64 program's kernel apart from the same program without a dtype (only the latter runs in wasm)", () => {
    const rand = mulberry32(5);
    const x = Float32Array.from({ length: 1024 }, () => rand() * 6 - 3);
    const exact = Array.from(x, (v) => Math.fround(Math.tanh(v)));
    const run = (dtype?: "float64") => {
      const out = new Float32Array(x.length);
      compileProgram({ ops: [{ prim: "tanh", attrs: {}, operands: [inp(0)], dtype }] }, 1)(out, [x.length], [x], [[x.length]]);
      return Array.from(out);
    };
    withBackend("wasm", () => {
      // Compiled first, the float64 program (JavaScript only) must not decide for the other.
      expect(run("float64")).toEqual(exact);
      expect(run()).not.toEqual(exact); // the SIMD tanh, within 1 ulp but not always Math.tanh's bits
    });
  });
});
