import { afterAll, describe, expect, it } from "vitest";
import { allocator, getBackend, getThreads, profiler, setBackend, setProfiler, setThreads, wasmAvailable, warmUpThreads, type Backend, type DType } from "@dualgrad/core";
import {
  HostTensor, Variable, fn, fromJSON, gemmEpilogueCount, gemmEpilogueFusion, printGraph, tensor, toJSON, trace, type StageSwitch, type SymbolicTensor,
} from "../src/index.js";
import { cnnStep, reluMlpStep } from "./train-steps.js";

/** A 3-layer relu MLP (products big enough to share with a worker thread), as the reference `mlp` workload's step. */
const mlpStep = (dtype: DType, disable: StageSwitch[]) => reluMlpStep([100, 160, 70, 5], dtype, disable, true);

/** A small `cnn`: 12x12 images, 4 then 6 channels. */
const smallCnnStep = (dtype: DType, disable: StageSwitch[]) => cnnStep(12, 4, 6, dtype, disable, true);

/** A batch of `shape` inputs and labels in 0..4. */
const batchOf = (dtype: DType, shape: number[]) => {
  const values = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 1.3));
  const x = tensor(dtype === "float64" ? new Float64Array(values) : new Float32Array(values), shape);
  const y = tensor(Int32Array.from({ length: shape[0] }, (_, i) => (i * 7) % 5), [shape[0]]);
  return { x, y };
};
const batch = (dtype: DType) => batchOf(dtype, [96, 100]);
const MODELS = [
  { name: "mlp", make: mlpStep, batch },
  { name: "cnn", make: smallCnnStep, batch: (dtype: DType) => batchOf(dtype, [10, 1, 12, 12]) },
];

const bits = (v: Variable | HostTensor) => Array.from(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));

describe("gemm epilogues in the graph", () => {
  const saved = { backend: getBackend(), threads: getThreads() };
  afterAll(() => {
    setBackend(saved.backend);
    setThreads(saved.threads);
  });

  it("fuse the forward bias-add and the backward relu masks into their matmuls, named by chain in the plan", () => {
    const { step, dispose } = mlpStep("float32", []);
    const { x, y } = batch("float32");
    const lowered = step.lower(x, y);
    const plan = lowered.compiled.printPlan();
    // Three forward layers (bias-add; relu stays apart: its input is also the backward mask's) and
    // two hidden-layer gradients dh = (dY @ W) * (h > 0).
    expect(plan.match(/= matmul\+epilogue\(add\) /g)).toHaveLength(3);
    expect(plan.match(/= matmul\+epilogue\(compare→mul\) /g)).toHaveLength(2);
    expect(gemmEpilogueCount(lowered.fused)).toBe(5);
    expect(printGraph(lowered.fused)).toMatch(/= fused\[matmul\[transA=false,transB=true\]\+add\] /);
    // The optimizer's updates stay planned into their variables.
    expect(plan).toMatch(/\(into variable mlp\.0\.weight\)/);
    dispose();
  });

  it("fuse each convolution's bias-add into its product (and the classifier's into its matmul)", () => {
    const { step, dispose } = smallCnnStep("float32", []);
    const { x, y } = MODELS[1].batch("float32");
    const lowered = step.lower(x, y);
    const plan = lowered.compiled.printPlan();
    expect(plan.match(/= conv2d\+epilogue\(add\) /g)).toHaveLength(2);
    expect(plan.match(/= matmul\+epilogue\(add\) /g)).toHaveLength(1);
    expect(fromJSON(toJSON(lowered.fused))).toEqual(lowered.fused);
    dispose();
  });

  it("profiles a fused step by its chain", () => {
    const { step, dispose } = mlpStep("float32", []);
    const { x, y } = batch("float32");
    step(x, y);
    const names: string[] = [];
    const saved = profiler;
    setProfiler({ now: () => 0, kernel: (name: string) => void names.push(name) } as never);
    try {
      step(x, y);
    } finally {
      setProfiler(saved);
    }
    expect(names).toContain("matmul+epilogue(add)");
    expect(names).toContain("matmul+epilogue(compare→mul)");
    dispose();
  });

  it("fuses an inference layer's whole bias→relu chain, and JSON round-trips it", () => {
    const w = new Variable([6, 4], "float32", { name: "infw", init: Array.from({ length: 24 }, (_, i) => Math.sin(i)) });
    const b = new Variable([6], "float32", { name: "infb", init: Array.from({ length: 6 }, (_, i) => i / 10 - 0.2) });
    const f = fn((x: SymbolicTensor) => x.matmul(w, { transB: true }).add(b).relu());
    const x = tensor(Float32Array.from({ length: 20 }, (_, i) => Math.cos(i)), [5, 4]);
    const lowered = f.lower(x);
    expect(lowered.compiled.printPlan()).toMatch(/run {3}d = matmul\+epilogue\(add→relu\) a b c$/m);
    expect(gemmEpilogueFusion(fromJSON(toJSON(lowered.fused)))).toEqual(lowered.fused);
    const unfused = fn((x2: SymbolicTensor) => x2.matmul(w, { transB: true }).add(b).relu(), { disable: ["epilogue"] });
    expect(bits(f(x) as HostTensor)).toEqual(bits(unfused(x) as HostTensor));
    // On the reference kernels, the epilogue step runs the reference matmul, then the program.
    const layer = (x2: SymbolicTensor) => x2.matmul(w, { transB: true }).add(b).relu();
    const ref = fn(layer, { reference: true });
    const refUnfused = fn(layer, { reference: true, disable: ["epilogue"] });
    expect(ref.lower(x).compiled.printPlan()).toMatch(/matmul\+epilogue\(add→relu\)/);
    expect(bits(ref(x) as HostTensor)).toEqual(bits(refUnfused(x) as HostTensor));
    // The wasm gemm sums in float32, the reference in float64: here the reference kernel really ran.
    if (getBackend() === "wasm") expect(bits(ref(x) as HostTensor)).not.toEqual(bits(f(x) as HostTensor));
    ref.dispose();
    refUnfused.dispose();
    // A malformed gemm attribute is a clear error, not a silent wrong read.
    const text = toJSON(lowered.fused).replace('"producer":{"op":"matmul","attrs":{"transA":false,"transB":true}}', '"producer":{"op":"matmul","attrs":{"transA":false,"transB":false}}');
    expect(text).not.toBe(toJSON(lowered.fused));
    expect(() => fromJSON(text)).toThrow(/node 3 \(fused\).*its matmul's inputs do not fit/);
    f.dispose();
    unfused.dispose();
    w.dispose();
    b.dispose();
  });

  it("leaves a product alone when something else reads it, or it is batched", () => {
    const g = trace((a: SymbolicTensor, w: SymbolicTensor) => {
      const p = a.matmul(w);
      return [p.relu(), p];
    }, [{ shape: [4, 3] }, { shape: [3, 5] }]);
    expect(gemmEpilogueCount(gemmEpilogueFusion(g))).toBe(0);
    const batched = trace((a: SymbolicTensor, w: SymbolicTensor) => a.matmul(w).relu(), [{ shape: [2, 4, 3] }, { shape: [2, 3, 5] }]);
    expect(gemmEpilogueCount(gemmEpilogueFusion(batched))).toBe(0);
  });

  const backends: Backend[] = wasmAvailable() ? ["wasm", "js"] : ["js"];
  for (const backend of backends) {
    for (const threads of backend === "wasm" ? [1, 2] : [1]) {
      for (const [dtype, model] of (["float32", "float64"] as const).flatMap((d) => MODELS.map((m) => [d, m] as const))) {
        it(`${model.name} training steps are bitwise those without epilogues (${backend}, ${threads} thread(s), ${dtype}); nothing is allocated per step`, async () => {
          setBackend(backend);
          setThreads(threads);
          if (backend === "wasm" && threads > 1) await warmUpThreads();
          const fused = model.make(dtype, []);
          const plain = model.make(dtype, ["epilogue"]);
          const { x, y } = model.batch(dtype);
          fused.step(x, y);
          plain.step(x, y);
          const before = allocator.stats();
          for (let s = 0; s < 3; s++) expect(bits(fused.step(x, y) as HostTensor)).toEqual(bits(plain.step(x, y) as HostTensor));
          fused.params.forEach((p, i) => expect(bits(p), p.name).toEqual(bits(plain.params[i])));
          const after = allocator.stats();
          expect(after.allocations - before.allocations).toBe(0);
          fused.dispose();
          plain.dispose();
        });
      }
    }
  }
});
