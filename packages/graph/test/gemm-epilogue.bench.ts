import { bench, describe } from "vitest";
import { getBackend, getThreads, warmUpThreads, wasmAvailable } from "@dualgrad/core";
import { tensor, type HostTensor, type StageSwitch } from "../src/index.js";
import { cnnStep, reluMlpStep } from "./train-steps.js";

// Do gemm epilogues pay for a whole training step? The reference `mlp` (784-256-256-10, batch 128)
// and `cnn` (two conv stages of 8 and 16 channels on 28x28, batch 64) steps compiled with and
// without epilogues, run interleaved A, B, B, A, ... in one process so that a loaded machine
// slows both alike; prints the median wall and process-CPU ms per step of each and their ratios
// (CPU time leaves out waiting for a core; with worker threads it includes their spinning).
// Run with `npx vitest bench --run packages/graph/test/gemm-epilogue.bench.ts` (`DUALGRAD_THREADS=1` for one thread,
// `EPILOGUE_ROUNDS` to change the 200 rounds).

const ROUNDS = Number(process.env.EPILOGUE_ROUNDS ?? 200);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const MODELS = [
  { name: "mlp", make: (d: StageSwitch[]) => reluMlpStep([784, 256, 256, 10], "float32", d), x: [128, 784] },
  { name: "cnn", make: (d: StageSwitch[]) => cnnStep(28, 8, 16, "float32", d), x: [64, 1, 28, 28] },
];

describe("training steps, gemm epilogues on vs off (interleaved)", () => {
  for (const model of MODELS) {
    bench(
      `${model.name}, ${ROUNDS} rounds`,
      async () => {
        if (wasmAvailable() && getBackend() === "wasm") await warmUpThreads();
        const size = model.x.reduce((a, b) => a * b, 1);
        const x = tensor(Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.01)), model.x);
        const y = tensor(Int32Array.from({ length: model.x[0] }, (_, i) => i % 10), [model.x[0]]);
        const variants = [model.make([]), model.make(["epilogue"])];
        const wall: number[][] = [[], []];
        const cpu: number[][] = [[], []];
        for (let r = 0; r < 10; r++) for (const v of variants) (v.step(x, y) as HostTensor).item();
        for (let r = 0; r < ROUNDS; r++) {
          // Alternate which variant goes first, so neither always follows the other.
          for (const k of r % 2 === 0 ? [0, 1] : [1, 0]) {
            const c0 = process.cpuUsage();
            const t0 = performance.now();
            variants[k].step(x, y);
            wall[k].push(performance.now() - t0);
            const c = process.cpuUsage(c0);
            cpu[k].push((c.user + c.system) / 1000);
          }
        }
        const [wOn, wOff] = wall.map(median);
        const [cOn, cOff] = cpu.map(median);
        console.log(
          `${model.name} step (${getBackend()}, ${getThreads()} thread(s), medians of ${ROUNDS}): epilogues on ${wOn.toFixed(3)} ms wall / ${cOn.toFixed(3)} ms CPU, ` +
            `off ${wOff.toFixed(3)} / ${cOff.toFixed(3)}; ratio wall ${(wOn / wOff).toFixed(3)}, CPU ${(cOn / cOff).toFixed(3)}`,
        );
        variants.forEach((v) => v.dispose());
      },
      { iterations: 1, warmupIterations: 0, time: 0 },
    );
  }
});
