import { afterAll, bench, describe } from "vitest";
import { formatGemmGflops, measureGemmGflops, naiveGemmF32 } from "../src/bench/gemm-gflops.js";
import { gemm, gemmReference } from "../src/kernels/gemm.js";
import { setThreads, shutdownThreads, wasmAvailable } from "../src/kernels/backend.js";
import { gemmWasm } from "../src/kernels/wasm/gemm-wasm.js";

// The MLP benchmark's first layer: a 128-sample batch of 784 pixels times a 784x256 weight.
// Forward is A @ B; backward runs dW = X^T @ G (transA) and dX = G @ W^T (transB).
const m = 128, k = 784, n = 256;

function random(size: number, seed: number): Float32Array {
  const x = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2147483648 - 1;
  }
  return x;
}

const a = random(m * k, 1); // [m,k], or [k,m] read with transA
const b = random(k * n, 2); // [k,n], or [n,k] read with transB
const c = new Float32Array(m * n);

describe(`f32 ${m}x${k} @ ${k}x${n}`, () => {
  bench("gemm", () => gemm(m, n, k, a, 0, false, b, 0, false, c, 0));
  bench("gemm transA (A stored [784,128])", () => gemm(m, n, k, a, 0, true, b, 0, false, c, 0));
  bench("gemm transB (B stored [256,784])", () => gemm(m, n, k, a, 0, false, b, 0, true, c, 0));
  bench("gemmReference", () => gemmReference(m, n, k, a, 0, false, b, 0, false, c, 0), { iterations: 10 });
  bench("naive i-j-p loop", () => naiveGemmF32(m, n, k, a, b, c), { iterations: 10 });
});

// The WebAssembly kernel on one thread and on two (the caller plus one worker, started lazily by
// the first 2-thread call). setThreads only checks and stores a number, so setting it in each call is free.
describe.skipIf(!wasmAvailable())(`wasm f32 ${m}x${k} @ ${k}x${n}`, () => {
  for (const threads of [1, 2]) {
    const t = `${threads} thread${threads > 1 ? "s" : ""}`;
    bench(`gemmWasm ${t}`, () => {
      setThreads(threads);
      gemmWasm(m, n, k, a, 0, false, b, 0, false, c, 0);
    });
    bench(`gemmWasm transA ${t}`, () => {
      setThreads(threads);
      gemmWasm(m, n, k, a, 0, true, b, 0, false, c, 0);
    });
    bench(`gemmWasm transB ${t}`, () => {
      setThreads(threads);
      gemmWasm(m, n, k, a, 0, false, b, 0, true, c, 0);
    });
  }
});

// Vitest reports ops/s; print GFLOP/s too, from our own median-of-samples timing (~0.5 s per
// case). A file-level hook, because vitest bench does not run afterAll hooks inside describe.
afterAll(async () => {
  console.log(`\n${formatGemmGflops(measureGemmGflops())}\n`);
  await shutdownThreads();
});
