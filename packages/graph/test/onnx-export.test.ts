import { PhiloxGenerator } from "@dualgrad/core";
import { InferenceSession, Tensor as OrtTensor } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import {
  Linear, Variable, concat, gather, op, takeAlongAxis, trace, decodeOnnx, fn, graphToOnnx, layers, optimize, elementwiseFusion, sequential, tensor, toOnnx, where, type HostTensor, type SymbolicTensor,
} from "../src/index.js";

/** Runs exported bytes in ONNX Runtime (CPU) on one float32 input; returns the first output. */
async function runOrt(bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await InferenceSession.create(bytes);
  try {
    const out = await session.run({ [session.inputNames[0]]: new OrtTensor("float32", x, shape) });
    const t = out[session.outputNames[0]];
    return { data: t.data as Float32Array, dims: t.dims };
  } finally {
    await session.release();
  }
}

function randomInput(n: number, seed: number): Float32Array {
  return new PhiloxGenerator(seed).uniform(n, -2, 2);
}

/** Largest |a-b| relative to the largest |b| (the tolerance convention of check-ref). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

/** The MLP of a layer list, built from seeded Linear layers, with `act` between layers. */
function mlp(widths: number[], act: "relu" | "tanh" | "sigmoid", seed: number) {
  const gen = new PhiloxGenerator(seed);
  const ls = widths.slice(1).map((w, i) => new Linear(widths[i], w, { generator: gen }));
  const forward = (x: SymbolicTensor) =>
    ls.reduce((h, l, i) => {
      const y = l.forward(h);
      return i < ls.length - 1 ? y[act]() : y;
    }, x);
  return { forward, dispose: () => ls.forEach((l) => l.parameters().forEach((p) => p.dispose())) };
}

describe("ONNX export checked by ONNX Runtime", () => {
  for (const act of ["relu", "tanh", "sigmoid"] as const) {
    it(`an MLP with ${act} matches the compiled graph at several batch sizes (dynamic batch)`, async () => {
      const model = mlp([8, 32, 16, 3], act, 7);
      const bytes = toOnnx(model.forward, [{ shape: [4, 8] }]);
      const compiled = fn<HostTensor>(model.forward);
      for (const batch of [1, 5, 64]) {
        const x = randomInput(batch * 8, batch);
        const want = compiled(tensor(x, [batch, 8]));
        const got = await runOrt(bytes, x, [batch, 8]);
        expect(got.dims).toEqual([batch, 3]);
        expect(relativeError(got.data, want.data)).toBeLessThanOrEqual(1e-5);
      }
      compiled.dispose();
      model.dispose();
    });
  }

  it("a Keras-style sequential model exports its forward pass", async () => {
    const m = sequential([layers.dense({ units: 16, activation: "relu", inputShape: [6] }), layers.dense({ units: 2, activation: "sigmoid" })], { seed: 3 });
    const x = randomInput(10 * 6, 1);
    const want = m.predict(tensor(x, [10, 6]));
    const got = await runOrt((await import("../src/index.js")).sequentialToOnnx(m), x, [10, 6]);
    expect(relativeError(got.data, want.data)).toBeLessThanOrEqual(1e-5);
    m.dispose();
  });

  it("every other primitive maps to ONNX ops with the same results", async () => {
    const w = new Variable([5, 5], "float32", { init: randomInput(25, 9) });
    const f = (x: SymbolicTensor) => {
      const a = x.abs().add(1).sqrt().log().exp().pow(2).neg().div(3).sub(0.5); // [B,5]
      const b = a.maximum(x).minimum(x.mul(2)).add(where(x.gt(0), x, a.mul(x.le(0.5))));
      const c = b.add(x.ge(0.1)).add(x.lt(-0.2)).add(x.eq(x)).add(x.ne(a)); // compare kinds
      const d = c.matmul(w).add(c.matmul(w, { transB: true })).add(c.matmul(x.matmul(c, { transA: true }))); // Gemm, both flags
      const e = d.reshape([d.shape[0], 5, 1]).permute(0, 2, 1).matmul(w, { transB: true }).reshape([d.shape[0], 5]); // batched MatMul; reshapes keep the batch axis
      const s = e.sum({ axis: 1, keepdims: true }).add(e.mean({ axis: -1, keepdims: true })).add(e.max({ axis: 1, keepdims: true }));
      const l = e.logsumexp({ axis: 1, keepdims: true }).add(s).add(e.logSoftmax(1));
      const p = l.slice([0, 1], [l.shape[0], 4]).pad([0, 1], [0, 1]); // [B,5]
      const h = p.argmax({ axis: 1, keepdims: true }).to("float32").add(p.argmax({ axis: 1 }).oneHot(5).mul(p));
      const bc = h.reshape([h.shape[0], 1, 5]).broadcastTo([h.shape[0], 3, 5]).sum({ axis: 1 });
      // Gather (rows of a weight by per-example index), GatherElements, Concat.
      const rows = gather(w, x.argmax({ axis: 1 })); // [B,5]
      const top = takeAlongAxis(x, x.argmax({ axis: 1, keepdims: true }), 1); // [B,1]
      const joined = concat([rows.slice([0, 0], [rows.shape[0], 2]), top, x.slice([0, 0], [x.shape[0], 2])], 1); // [B,5]
      return bc.add(x.sum()).add(joined); // a full reduction, broadcast back onto the batch
    };
    const compiled = fn<HostTensor>(f);
    try {
      const bytes = toOnnx(f, [{ shape: [4, 5] }]);
      const ops = new Set(decodeOnnx(bytes).graph.node.map((n) => n.op_type));
      for (const op of ["Gemm", "MatMul", "Reshape", "Transpose", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceLogSumExp", "LogSoftmax", "Slice", "Pad", "ArgMax", "OneHot", "Expand", "Where", "Greater", "Not", "Pow", "Cast", "Gather", "GatherElements", "Concat"]) {
        expect(ops, op).toContain(op);
      }
      for (const batch of [4, 7]) {
        const x = randomInput(batch * 5, 11 + batch);
        const want = compiled(tensor(x, [batch, 5]));
        const got = await runOrt(bytes, x, [batch, 5]);
        expect(relativeError(got.data, want.data)).toBeLessThanOrEqual(1e-5);
      }
    } finally {
      compiled.dispose();
      w.dispose();
    }
  });

  it("conv2d_bias (eager's one-kernel convolution with bias) exports as one Conv with its bias input", async () => {
    const w = new Variable([3, 2, 3, 3], "float32", { init: randomInput(54, 21) });
    const b = new Variable([3], "float32", { init: randomInput(3, 22) });
    const f = (x: SymbolicTensor) => op("conv2d_bias", [x, w, b], { stride: [1, 2], padding: [1, 0], dilation: [1, 1] }).relu();
    const compiled = fn<HostTensor>(f);
    try {
      const bytes = toOnnx(f, [{ shape: [2, 2, 6, 7] }]);
      const convs = decodeOnnx(bytes).graph.node.filter((n) => n.op_type === "Conv");
      expect(convs.map((n) => n.input.length)).toEqual([3]);
      for (const batch of [2, 5]) {
        const x = randomInput(batch * 84, 30 + batch);
        const want = compiled(tensor(x, [batch, 2, 6, 7]));
        const got = await runOrt(bytes, x, [batch, 2, 6, 7]);
        expect(got.dims).toEqual([batch, 3, 6, 3]);
        expect(relativeError(got.data, want.data)).toBeLessThanOrEqual(1e-5);
      }
    } finally {
      compiled.dispose();
      w.dispose();
      b.dispose();
    }
  });

  it("writes opset 18, a symbolic batch dimension and the weights as initializers", () => {
    const model = mlp([3, 4, 2], "relu", 1);
    const m = decodeOnnx(toOnnx(model.forward, [{ shape: [2, 3] }]));
    expect(m.opset_import[0].version).toBeGreaterThanOrEqual(17);
    expect(m.graph.input[0].type.tensor_type.shape.dim[0]).toEqual({ dim_param: "batch" });
    expect(m.graph.output[0].type.tensor_type.shape.dim.map((d) => ("dim_value" in d ? d.dim_value : d.dim_param))).toEqual(["batch", 2]);
    expect(m.graph.initializer.map((t) => t.dims)).toEqual([[4, 3], [4], [2, 4], [2]]);
    model.dispose();
  });

  it("names the primitive it cannot export", () => {
    // Flattening [B,3] to [3B] merges the batch axis: not expressible with a symbolic batch.
    expect(() => toOnnx((x) => x.reshape([-1]), [{ shape: [2, 3] }])).toThrow(/primitive 'reshape'.*batch axis/);
    expect(toOnnx((x) => x.reshape([-1]), [{ shape: [2, 3] }], { dynamicBatch: false }).length).toBeGreaterThan(0);
    const fused = elementwiseFusion(optimize(trace((x: SymbolicTensor) => x.exp().add(1).mul(x).tanh(), [{ shape: [2, 3] }])));
    expect(() => graphToOnnx(fused, () => new Float32Array(0))).toThrow(/primitive 'fused'/);
  });
});

