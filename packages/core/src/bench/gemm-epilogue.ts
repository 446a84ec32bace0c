/**
 * Does the gemm epilogue pay? For the matmul + elementwise pairs of the reference MLP step (and
 * a few more shapes), times the fused kernel (../kernels/gemm-epilogue.ts) against the two
 * separate kernels, interleaved A, B, A, B, ... within one run so that a loaded machine slows
 * both alike, and prints the median CPU ms per call of each and their ratio.
 *
 * Run after a build: `node packages/core/dist/bench/gemm-epilogue.js [rounds]` (default 41; set
 * `DUALGRAD_THREADS` for the thread count).
 */
import { pathToFileURL } from "node:url";
import type { DType } from "../dtype.js";
import { allocValue, releaseValue, type Value } from "../execute.js";
import { getBackend, getThreads, matmulKernel, warmUpThreads } from "../kernels/backend.js";
import { compileProgram } from "../kernels/elementwise-program.js";
import { convGeometry } from "../kernels/conv.js";
import { compileConvEpilogue, compileGemmEpilogue } from "../kernels/gemm-epilogue.js";
import { ops } from "../ops/index.js";
import type { ElementwiseProgram } from "../ops/elementwise-types.js";
import type { Shape } from "../shape.js";

/** One fused pair: the product's sizes and flags, the program (C is in0) and its operands' shapes. */
export interface EpilogueCase {
  name: string;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  program: ElementwiseProgram;
  operands: Shape[];
}

const f32 = "float32" as const;
const addBias: ElementwiseProgram = { ops: [{ prim: "add", attrs: {}, dtype: f32, operands: [{ from: "in", index: 0 }, { from: "in", index: 1 }] }] };
const addRelu: ElementwiseProgram = { ops: [...addBias.ops, { prim: "relu", attrs: {}, dtype: f32, operands: [{ from: "op", index: 0 }] }] };
const reluMask: ElementwiseProgram = {
  ops: [
    { prim: "compare", attrs: { kind: "gt" }, dtype: f32, operands: [{ from: "in", index: 1 }, { from: "const", value: 0 }] },
    { prim: "mul", attrs: {}, dtype: f32, operands: [{ from: "op", index: 0 }, { from: "in", index: 0 }] },
  ],
};

/** The MLP step's pairs (784-256-256-10, batch 128), then an inference-style bias+relu. */
export const EPILOGUE_CASES: EpilogueCase[] = [
  { name: "mlp fc1 x@W1^T + b1", m: 128, n: 256, k: 784, transA: false, transB: true, program: addBias, operands: [[256]] },
  { name: "mlp fc2 h@W2^T + b2", m: 128, n: 256, k: 256, transA: false, transB: true, program: addBias, operands: [[256]] },
  { name: "mlp dh2 = dY@W3 * (h2>0)", m: 128, n: 256, k: 10, transA: false, transB: false, program: reluMask, operands: [[128, 256]] },
  { name: "mlp dh1 = dh2@W2 * (h1>0)", m: 128, n: 256, k: 256, transA: false, transB: false, program: reluMask, operands: [[128, 256]] },
  { name: "relu(x@W^T + b) 128x1024x1024", m: 128, n: 1024, k: 1024, transA: false, transB: true, program: addRelu, operands: [[1024]] },
  { name: "relu(x@W^T + b) 16x64x64", m: 16, n: 64, k: 64, transA: false, transB: true, program: addRelu, operands: [[64]] },
];

/** One fused convolution: input and weight shapes (stride 1, padding 1) and the program over its output and a per-channel operand. */
export interface ConvEpilogueCase {
  name: string;
  x: Shape;
  w: Shape;
  program: ElementwiseProgram;
}

/** The `cnn` workload's two convolutions with their bias-add (batch 64). */
export const CONV_EPILOGUE_CASES: ConvEpilogueCase[] = [
  { name: "cnn conv1 + bias [64,8,28,28]", x: [64, 1, 28, 28], w: [8, 1, 3, 3], program: addBias },
  { name: "cnn conv2 + bias [64,16,14,14]", x: [64, 8, 14, 14], w: [16, 8, 3, 3], program: addBias },
];

/** Median ms per call of the fused kernel and of the separate ones for one case. */
export interface EpilogueTiming {
  name: string;
  fusedMs: number;
  separateMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Median CPU ms per call of `fused` and `separate`, sampled interleaved `rounds` times, each sample a batch of calls of ~5 ms. */
function interleaved(name: string, fused: () => void, separate: () => void, rounds: number): EpilogueTiming {
  let calls = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) separate();
    if (performance.now() - t0 > 5 || calls > 1 << 16) break;
    calls *= 2;
  }
  // CPU time of the process, not wall time: on a shared machine waiting for a core is not the
  // kernel's cost (with one thread this is the calling thread's time; with workers, all of theirs too).
  const sample = (run: () => void) => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) run();
    const dt = process.cpuUsage(t0);
    return (dt.user + dt.system) / 1000 / calls;
  };
  const a: number[] = [], b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    a.push(sample(fused));
    b.push(sample(separate));
  }
  return { name, fusedMs: median(a), separateMs: median(b) };
}

/** Fills `v` with smooth values in [-1, 1]. */
function fillValues(v: Value): void {
  for (let i = 0; i < v.data.length; i++) v.data[i] = Math.sin(i * 0.37 + v.data.length);
}

/** Times a convolution case: {@link compileConvEpilogue} against conv2d then the program. */
export function timeConvEpilogueCase(c: ConvEpilogueCase, rounds: number): EpilogueTiming {
  const attrs = { stride: [1, 1], padding: [1, 1], dilation: [1, 1] };
  const g = convGeometry(c.x, c.w, attrs);
  const outShape = [g.B, g.K, g.OH, g.OW];
  const bias: Shape = [g.K, 1, 1];
  const vals = [allocValue(f32, c.x), allocValue(f32, c.w), allocValue(f32, bias)];
  const out = allocValue(f32, outShape);
  try {
    vals.forEach(fillValues);
    const fused = compileConvEpilogue(c.program, outShape, f32, [bias]);
    const separate = compileProgram(c.program, 2);
    const ins = [out.data, vals[2].data], shapes = [outShape, bias];
    return interleaved(
      c.name,
      () => fused(vals, out, attrs),
      () => {
        ops.conv2d.kernel(vals.slice(0, 2), out, attrs);
        separate(out.data, outShape, ins, shapes);
      },
      rounds,
    );
  } finally {
    for (const v of [...vals, out]) releaseValue(v);
  }
}

/** Times `c`: `rounds` interleaved samples of each variant, each sample a batch of calls of ~5 ms. */
export function timeEpilogueCase(c: EpilogueCase, rounds: number, dtype: DType = f32): EpilogueTiming {
  const vals = [
    allocValue(dtype, c.transA ? [c.k, c.m] : [c.m, c.k]),
    allocValue(dtype, c.transB ? [c.n, c.k] : [c.k, c.n]),
    ...c.operands.map((s) => allocValue(dtype, s)),
  ];
  const out = allocValue(dtype, [c.m, c.n]);
  const tmp = allocValue(dtype, [c.m, c.n]);
  try {
    [...vals, out].forEach(fillValues);
    const fused = compileGemmEpilogue(c.program, [c.m, c.n], dtype, c.operands);
    const separate = compileProgram(c.program, 1 + c.operands.length);
    const sepInputs = [tmp.data, ...vals.slice(2).map((v) => v.data)];
    const sepShapes = [[c.m, c.n], ...c.operands];
    const gemm = matmulKernel(dtype);
    const runFused = () => fused(vals, out, c.transA, c.transB);
    const runSeparate = () => {
      gemm(c.m, c.n, c.k, vals[0].data as Float32Array, 0, c.transA, vals[1].data as Float32Array, 0, c.transB, tmp.data as Float32Array, 0);
      separate(out.data, [c.m, c.n], sepInputs, sepShapes);
    };
    return interleaved(c.name, runFused, runSeparate, rounds);
  } finally {
    for (const v of [...vals, out, tmp]) releaseValue(v);
  }
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 41);
  if (getBackend() === "wasm") await warmUpThreads();
  console.log(`gemm epilogue vs separate kernels, ${getBackend()} backend, ${getThreads()} thread(s), median CPU ms of ${rounds} interleaved samples`);
  const timings = [...EPILOGUE_CASES.map((c) => () => timeEpilogueCase(c, rounds)), ...CONV_EPILOGUE_CASES.map((c) => () => timeConvEpilogueCase(c, rounds))];
  for (const time of timings) {
    const t = time();
    console.log(`${t.name.padEnd(36)} fused ${t.fusedMs.toFixed(4)} ms  separate ${t.separateMs.toFixed(4)} ms  ratio ${(t.fusedMs / t.separateMs).toFixed(3)}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
