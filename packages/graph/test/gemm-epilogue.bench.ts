import { bench, describe } from "vitest";
import { getBackend, getThreads, warmUpThreads, wasmAvailable } from "@dualgrad/core";
import { tensor, type HostTensor } from "../src/index.js";
import { cnnStep, reluMlpStep } from "./train-steps.js";

// Does the gemm epilogue pay for a whole training step? The reference `mlp` workload's step
// (784-256-256-10 relu MLP, batch 128, cross-entropy, SGD) compiled with and without epilogues,
// run interleaved A, B, A, B, ... in one process so a loaded machine slows both alike; prints the
// median ms per step of each and their ratio. Run with
// `npx vitest bench --run packages/graph/test/gemm-epilogue.bench.ts` (`DUALGRAD_THREADS=1` for one thread).

const ROUNDS = Number(process.env.EPILOGUE_ROUNDS ?? 300);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

describe("mlp training step, gemm epilogues on vs off (interleaved)", () => {
  bench(
    `${ROUNDS} rounds`,
    async () => {
      if (wasmAvailable() && getBackend() === "wasm") await warmUpThreads();
      const B = 128;
      const x = tensor(Float32Array.from({ length: B * 784 }, (_, i) => Math.sin(i * 0.01)), [B, 784]);
      const y = tensor(Int32Array.from({ length: B }, (_, i) => i % 10), [B]);
      const variants = [reluMlpStep([784, 256, 256, 10], "float32", []), reluMlpStep([784, 256, 256, 10], "float32", ["epilogue"])];
      const times: number[][] = [[], []];
      for (let r = 0; r < 20; r++) for (const v of variants) (v.step(x, y) as HostTensor).item();
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate which variant goes first, so neither always follows the other.
        for (const k of r % 2 === 0 ? [0, 1] : [1, 0]) {
          const t0 = performance.now();
          variants[k].step(x, y);
          times[k].push(performance.now() - t0);
        }
      }
      const [on, off] = times.map(median);
      console.log(`mlp step (${getBackend()}, ${getThreads()} thread(s)): epilogues on ${on.toFixed(3)} ms, off ${off.toFixed(3)} ms, ratio ${(on / off).toFixed(3)} (medians of ${ROUNDS})`);
      variants.forEach((v) => v.dispose());
    },
    { iterations: 1, warmupIterations: 0, time: 0 },
  );
});
