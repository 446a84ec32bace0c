import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { mulberry32 } from "./helpers.js";
import { gemm, gemmReference } from "../src/kernels/gemm.js";
import { ModuleBuilder, ValType, sleb, uleb, wasmApi } from "../src/kernels/wasm/emitter.js";
import { gemmRuntime, gemmWasm, getParallelThreshold } from "../src/kernels/wasm/gemm-wasm.js";
import { workerStats } from "../src/kernels/wasm/threads.js";
import {
  getBackend,
  getThreads,
  matmulKernel,
  relaxedSimdAvailable,
  setBackend,
  setThreads,
  shutdownThreads,
  wasmAvailable,
  warmUpThreads,
  type Backend,
} from "../src/kernels/backend.js";
import { ops } from "../src/ops/index.js";

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

const prng = mulberry32;

function randomArray<C extends Ctor>(ctor: C, size: number, rand: () => number): InstanceType<C> {
  const x = new ctor(size) as InstanceType<C>;
  for (let i = 0; i < size; i++) x[i] = rand() * 2 - 1;
  return x;
}

const FLAGS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

/**
 * Runs the wasm gemm on random float32 inputs (with offsets and garbage around C) and checks it
 * against gemmReference: within k * 2^-23 * (|A| @ |B|) per element (twice the classic float32
 * summation bound), and C untouched outside its m*n elements.
 */
function checkAgainstReference(m: number, n: number, k: number, transA: boolean, transB: boolean, seed: number): void {
  const rand = prng(seed);
  const aOff = Math.floor(rand() * 5);
  const bOff = Math.floor(rand() * 5);
  const cOff = 1 + Math.floor(rand() * 5);
  const a = randomArray(Float32Array, aOff + m * k + 3, rand);
  const b = randomArray(Float32Array, bOff + k * n + 2, rand);
  const c = randomArray(Float32Array, cOff + m * n + 4, rand);
  const before = c.slice();
  gemmWasm(m, n, k, a, aOff, transA, b, bOff, transB, c, cOff);
  const ref = new Float64Array(m * n);
  gemmReference(m, n, k, a, aOff, transA, b, bOff, transB, ref, 0);
  const absRef = new Float64Array(m * n);
  gemmReference(m, n, k, a.map(Math.abs), aOff, transA, b.map(Math.abs), bOff, transB, absRef, 0);
  const label = `m=${m} n=${n} k=${k} transA=${transA} transB=${transB}`;
  for (let i = 0; i < cOff; i++) expect(c[i], `${label}: C prefix`).toBe(before[i]);
  for (let i = cOff + m * n; i < c.length; i++) expect(c[i], `${label}: C suffix`).toBe(before[i]);
  let worst = 0;
  for (let i = 0; i < m * n; i++) {
    const err = Math.abs(c[cOff + i] - ref[i]);
    const tol = k * 2 ** -23 * absRef[i] + 1e-30;
    worst = Math.max(worst, err / tol);
  }
  expect(worst, `${label}: worst error / tolerance`).toBeLessThanOrEqual(1);
}

/** Runs the wasm gemm and returns C's bits. */
function wasmBits(m: number, n: number, k: number, a: Float32Array, transA: boolean, b: Float32Array, transB: boolean): Uint32Array {
  const c = new Float32Array(m * n);
  gemmWasm(m, n, k, a, 0, transA, b, 0, transB, c, 0);
  return new Uint32Array(c.buffer);
}

/** Asserts two bit patterns are identical (a loop: toEqual on big typed arrays is slow). */
function expectSameBits(actual: Uint32Array, expected: Uint32Array, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  let first = -1;
  for (let i = 0; i < actual.length && first < 0; i++) if (actual[i] !== expected[i]) first = i;
  expect(first, `${label}: first element that differs`).toBe(-1);
}

describe("wasm binary emitter", () => {
  it("encodes LEB128 like the spec's examples", () => {
    const u: number[] = [];
    uleb(u, 624485);
    expect(u).toEqual([0xe5, 0x8e, 0x26]);
    const s: number[] = [];
    sleb(s, -123456);
    expect(s).toEqual([0xc0, 0xbb, 0x78]);
    const z: number[] = [];
    uleb(z, 0);
    sleb(z, -1);
    sleb(z, 64);
    expect(z).toEqual([0x00, 0x7f, 0xc0, 0x00]);
  });

  it.skipIf(!wasmApi())("builds a module that validates and runs", () => {
    const api = wasmApi()!;
    const mb = new ModuleBuilder();
    mb.defineMemory({ initial: 1 }, "mem");
    // sum(n): 1 + 2 + ... + n, with a loop and a local.
    mb.func([ValType.i32], [ValType.i32], (f) => {
      const acc = f.local(ValType.i32);
      const i = f.local(ValType.i32);
      f.block(() =>
        f.loop(() => {
          f.get(i).get(f.param(0)).op("i32.ge_s").brIf(1);
          f.get(i).i32(1).op("i32.add").tee(i).get(acc).op("i32.add").set(acc);
          f.br(0);
        }),
      );
      f.get(acc);
    }, "sum");
    const bytes = mb.toBytes();
    expect(api.validate(bytes)).toBe(true);
    const inst = new api.Instance(new api.Module(bytes), {});
    expect((inst.exports.sum as (n: number) => number)(100)).toBe(5050);
  });
});

describe.skipIf(!wasmAvailable())("wasm gemm (float32)", () => {
  afterAll(async () => {
    await shutdownThreads();
  });

  it(`reports its features (relaxed SIMD: ${relaxedSimdAvailable()})`, () => {
    const cfg = gemmRuntime().config;
    expect(cfg.relaxed).toBe(relaxedSimdAvailable());
    expect(cfg.nr % 4).toBe(0);
  });

  it("matches gemmReference within float32 tolerance over odd shapes, every transpose flag, with offsets", () => {
    const saved = getThreads();
    setThreads(1);
    try {
      const shapes: [number, number, number][] = [];
      const small = [0, 1, 3, 17];
      for (const m of small) for (const n of small) for (const k of small) shapes.push([m, n, k]);
      shapes.push(
        [255, 257, 3],
        [257, 255, 17],
        [3, 257, 255],
        [257, 3, 257],
        [1, 255, 257],
        [255, 1, 255],
        [17, 257, 1],
        [6, 8, 600],
        [7, 9, 1100], // more than one k-block
        [64, 64, 64],
      );
      let seed = 1;
      for (const [transA, transB] of FLAGS) for (const [m, n, k] of shapes) checkAgainstReference(m, n, k, transA, transB, seed++);
    } finally {
      setThreads(saved);
    }
  });

  it("k = 0 writes zeros to C and nothing else; bad arguments throw like gemm", () => {
    const c = new Float32Array(10).fill(7);
    gemmWasm(2, 3, 0, new Float32Array(0), 0, false, new Float32Array(0), 0, false, c, 2);
    expect(Array.from(c)).toEqual([7, 7, 0, 0, 0, 0, 0, 0, 7, 7]);
    const a = new Float32Array(6);
    expect(() => gemmWasm(2, 2, 3, a, 1, false, new Float32Array(6), 0, false, new Float32Array(4), 0)).toThrow(/A \[2x3\]/);
    expect(() => gemmWasm(-1, 2, 3, a, 0, false, a, 0, false, a, 0)).toThrow(/m must be a non-negative integer/);
  });

  it("propagates NaN to exactly the row and column it touches", () => {
    const m = 9, n = 11, k = 13;
    const rand = prng(7);
    const a = randomArray(Float32Array, m * k, rand);
    const b = randomArray(Float32Array, k * n, rand);
    a[4 * k + 5] = NaN; // row 4 of A
    b[2 * n + 7] = NaN; // column 7 of B
    const c = new Float32Array(m * n);
    gemmWasm(m, n, k, a, 0, false, b, 0, false, c, 0);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) expect(Number.isNaN(c[i * n + j]), `${i},${j}`).toBe(i === 4 || j === 7);
  });

  it("float64 and mixed arrays go to the TypeScript gemm (bitwise)", () => {
    const rand = prng(3);
    const a = randomArray(Float64Array, 5 * 7, rand);
    const b = randomArray(Float64Array, 7 * 6, rand);
    const c1 = new Float64Array(30);
    const c2 = new Float64Array(30);
    gemmWasm(5, 6, 7, a, 0, false, b, 0, true, c1, 0);
    gemm(5, 6, 7, a, 0, false, b, 0, true, c2, 0);
    expect(Array.from(c1)).toEqual(Array.from(c2));
  });

  it("is deterministic: the same bits across runs, offsets and memory states", () => {
    const saved = getThreads();
    setThreads(1);
    try {
      const rand = prng(11);
      const m = 37, n = 45, k = 300;
      const a = randomArray(Float32Array, m * k, rand);
      const b = randomArray(Float32Array, k * n, rand);
      const first = wasmBits(m, n, k, a, false, b, true);
      // Something else in between (other sizes, growing memory), then the same call again.
      wasmBits(300, 200, 500, randomArray(Float32Array, 300 * 500, rand), true, randomArray(Float32Array, 500 * 200, rand), false);
      expectSameBits(wasmBits(m, n, k, a, false, b, true), first, "second run");
      // The same values at other offsets.
      const a2 = new Float32Array(3 + a.length);
      a2.set(a, 3);
      const b2 = new Float32Array(1 + b.length);
      b2.set(b, 1);
      const c2 = new Float32Array(5 + m * n);
      gemmWasm(m, n, k, a2, 3, false, b2, 1, true, c2, 5);
      expectSameBits(new Uint32Array(c2.slice(5).buffer), first, "other offsets");
    } finally {
      setThreads(saved);
    }
  });

  it("threaded results are bitwise equal to single-threaded ones (workers really take chunks)", async () => {
    const saved = getThreads();
    try {
      const cases: [number, number, number][] = [
        [128, 256, 784], // the benchmark: column panels only
        [300, 17, 900], // few columns: row panels too
        [5, 1000, 400],
        [257, 255, 257],
      ];
      const rand = prng(5);
      const inputs = cases.map(([m, n, k]) => [randomArray(Float32Array, m * k, rand), randomArray(Float32Array, k * n, rand)] as const);
      setThreads(1);
      const single = cases.map(([m, n, k], i) => FLAGS.map(([tA, tB]) => wasmBits(m, n, k, inputs[i][0], tA, inputs[i][1], tB)));
      for (const threads of [2, 3]) {
        setThreads(threads);
        await warmUpThreads();
        expect(workerStats().ready).toBeGreaterThanOrEqual(threads - 1);
        const before = workerStats().workerChunks;
        cases.forEach(([m, n, k], i) => {
          expect(m * n * k).toBeGreaterThanOrEqual(getParallelThreshold());
          FLAGS.forEach(([tA, tB], f) => {
            expectSameBits(wasmBits(m, n, k, inputs[i][0], tA, inputs[i][1], tB), single[i][f], `${threads} threads m=${m} n=${n} k=${k} tA=${tA} tB=${tB}`);
          });
        });
        // The calls above are spread over chunks the caller and the workers race for; on a loaded
        // machine the caller may win many, so repeat the first case until a worker has taken some.
        for (let r = 0; r < 200 && workerStats().workerChunks === before; r++) {
          const [m, n, k] = cases[0];
          expectSameBits(wasmBits(m, n, k, inputs[0][0], false, inputs[0][1], false), single[0][0], `${threads} threads, repeat ${r}`);
        }
        expect(workerStats().workerChunks).toBeGreaterThan(before);
      }
    } finally {
      setThreads(saved);
    }
  });

  it("threads see memory grown after they started", async () => {
    const saved = getThreads();
    try {
      setThreads(2);
      await warmUpThreads();
      const rand = prng(9);
      const before = gemmRuntime().memory.buffer.byteLength;
      // Needs ~ (3*600*700 + 2*600*700) * 4 bytes: more than any earlier test.
      const m = 600, n = 700, k = 700;
      const a = randomArray(Float32Array, m * k, rand);
      const b = randomArray(Float32Array, k * n, rand);
      const threaded = wasmBits(m, n, k, a, true, b, false);
      expect(gemmRuntime().memory.buffer.byteLength).toBeGreaterThan(before);
      setThreads(1);
      expectSameBits(wasmBits(m, n, k, a, true, b, false), threaded, "grown memory");
    } finally {
      setThreads(saved);
    }
  });
});

describe.skipIf(!wasmAvailable())("backend selection", () => {
  const initial = getBackend();
  afterEach(() => {
    setBackend(initial);
    vi.unstubAllEnvs();
  });

  it("defaults to wasm where the engine has SIMD, unless DUALGRAD_BACKEND says otherwise", () => {
    const env = process.env.DUALGRAD_BACKEND;
    expect(initial).toBe(env && env.trim() !== "" ? env.trim().toLowerCase() : wasmAvailable() ? "wasm" : "js");
  });

  it("switching the backend changes the kernel ops.matmul uses", () => {
    const rand = prng(21);
    const m = 16, n = 24, k = 500;
    const a = randomArray(Float32Array, m * k, rand);
    const b = randomArray(Float32Array, k * n, rand);
    const run = (dtype: "float32" | "float64", x: Float32Array | Float64Array, y: Float32Array | Float64Array) => {
      const out = dtype === "float32" ? new Float32Array(m * n) : new Float64Array(m * n);
      ops.matmul.kernel(
        [
          { shape: [m, k], dtype, data: x },
          { shape: [k, n], dtype, data: y },
        ],
        { shape: [m, n], dtype, data: out },
        { transA: false, transB: false },
      );
      return Array.from(out);
    };
    const viaJs = new Float32Array(m * n);
    gemm(m, n, k, a, 0, false, b, 0, false, viaJs, 0);
    const viaWasm = new Float32Array(m * n);
    gemmWasm(m, n, k, a, 0, false, b, 0, false, viaWasm, 0);
    // Float32 accumulation differs from the JS kernel's float64 one somewhere at this k.
    expect(Array.from(viaWasm)).not.toEqual(Array.from(viaJs));

    setBackend("js");
    expect(getBackend()).toBe("js");
    expect(matmulKernel("float32")).toBe(gemm);
    expect(run("float32", a, b)).toEqual(Array.from(viaJs));

    setBackend("wasm");
    expect(getBackend()).toBe("wasm");
    expect(matmulKernel("float32")).toBe(gemmWasm);
    expect(run("float32", a, b)).toEqual(Array.from(viaWasm));
    // Float64 stays on the TypeScript kernel.
    expect(matmulKernel("float64")).toBe(gemm);
    const a64 = Float64Array.from(a);
    const b64 = Float64Array.from(b);
    const ref64 = new Float64Array(m * n);
    gemm(m, n, k, a64, 0, false, b64, 0, false, ref64, 0);
    expect(run("float64", a64, b64)).toEqual(Array.from(ref64));

    setBackend("js");
    expect(run("float32", a, b)).toEqual(Array.from(viaJs));
  });

  it("rejects unknown backends and thread counts with clear messages", () => {
    expect(() => setBackend("cuda" as Backend)).toThrow(/unknown backend "cuda"; valid values are "js" and "wasm"/);
    expect(getBackend()).toBe(initial);
    expect(() => setThreads(0)).toThrow(/setThreads: thread count must be a positive integer, got 0/);
    expect(() => setThreads(1.5)).toThrow(/positive integer/);
  });

  it("a bad DUALGRAD_BACKEND fails at start-up, naming the variable and the valid values", async () => {
    vi.stubEnv("DUALGRAD_BACKEND", "gpu");
    vi.resetModules();
    const err = await import("../src/kernels/backend.js").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe("DualgradError");
    expect((err as Error).message).toBe('DUALGRAD_BACKEND: unknown backend "gpu"; valid values are "js" and "wasm"');
  });

  it("DUALGRAD_BACKEND=wasm and DUALGRAD_THREADS are read at start-up", async () => {
    vi.stubEnv("DUALGRAD_BACKEND", " WASM ");
    vi.stubEnv("DUALGRAD_THREADS", "3");
    vi.resetModules();
    const fresh = await import("../src/kernels/backend.js");
    expect(fresh.getBackend()).toBe("wasm");
    expect(fresh.getThreads()).toBe(3);
    vi.stubEnv("DUALGRAD_THREADS", "two");
    vi.resetModules();
    await expect(import("../src/kernels/backend.js")).rejects.toThrow('DUALGRAD_THREADS: thread count must be a positive integer, got "two"');
  });
});
