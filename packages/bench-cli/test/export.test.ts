import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PhiloxGenerator, writeSafetensors, type SafeTensor } from "@dualgrad/core";
import { InferenceSession, Tensor as OrtTensor } from "onnxruntime-node";
import { afterAll, describe, expect, it, vi } from "vitest";
import { WORKLOADS, main, makeTrainer, parameterShapes, type ModelSpec } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "dualgrad-export-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI in-process, capturing stderr; returns the exit code and stderr text. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
  try {
    return { code: await main(args), stderr };
  } finally {
    spy.mockRestore();
  }
}

/** Random weights for `spec`, saved as train --save writes them. */
function saveWeights(spec: ModelSpec, path: string, seed: number, shapes = parameterShapes(spec)): Map<string, Float32Array> {
  const g = new PhiloxGenerator(seed);
  const tensors = new Map<string, SafeTensor>();
  for (const { name, shape } of shapes) tensors.set(name, { dtype: "F32", shape, data: g.uniform(shape.reduce((a, b) => a * b, 1), -0.5, 0.5) });
  writeSafetensors(path, tensors, { format: "pt" });
  return new Map([...tensors].map(([n, t]) => [n, t.data as Float32Array]));
}

describe("dualgrad export --format onnx", () => {
  for (const id of ["mlp-small", "mlp", "cnn"]) {
    it(`${id}: ONNX Runtime reproduces the graph frontend's outputs with the saved weights`, async () => {
      const spec = WORKLOADS[id];
      const weights = join(dir, `${id}.safetensors`);
      const values = saveWeights(spec, weights, 5);
      const out = join(dir, `${id}.onnx`);
      const r = await cli(["export", "--model", id, "--weights", weights, "--format", "onnx", "--out", out]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`wrote .*${id}\\.onnx .*weights from`));
      const rows = 9;
      const x = new PhiloxGenerator(1).uniform(rows * spec.layers[0], 0, 1);
      const t = makeTrainer("graph", spec, { seed: 0 });
      t.setParameters(values);
      const out2 = spec.layers[spec.layers.length - 1];
      const want = t.predict({ x, xShape: [rows, spec.layers[0]], y: spec.loss === "ce" ? new Int32Array(rows) : new Float32Array(rows * out2), yShape: spec.loss === "ce" ? [rows] : [rows, out2] }).slice();
      t.dispose();
      const session = await InferenceSession.create(readFileSync(out));
      const got = (await session.run({ input: new OrtTensor("float32", x, [rows, spec.layers[0]]) })).output;
      await session.release();
      expect(got.dims).toEqual([rows, out2]);
      const scale = Math.max(...Array.from(want, Math.abs));
      (got.data as Float32Array).forEach((v, i) => expect(Math.abs(v - want[i]) / scale).toBeLessThanOrEqual(1e-5));
    });
  }

  it("names a missing or misshapen tensor and refuses to overwrite without --force", async () => {
    const spec = WORKLOADS["mlp-small"];
    const bad = join(dir, "bad.safetensors");
    saveWeights(spec, bad, 1, parameterShapes(spec).filter((p) => p.name !== "2.bias"));
    let r = await cli(["export", "--model", "mlp-small", "--weights", bad, "--out", join(dir, "x.onnx")]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/no tensor '2\.bias'/)]);
    saveWeights(spec, bad, 1, parameterShapes(spec).map((p) => (p.name === "0.weight" ? { ...p, shape: [64, 7] } : p)));
    r = await cli(["export", "--model", "mlp-small", "--weights", bad, "--out", join(dir, "x.onnx")]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/tensor '0\.weight' has shape \[64,7\], model mlp-small needs \[64,8\]/)]);
    r = await cli(["export", "--model", "mlp-small", "--out", join(dir, "seeded.onnx")]);
    expect([r.code, r.stderr]).toEqual([0, expect.stringMatching(/no --weights: the seeded initial parameters \(seed 0\)/)]);
    r = await cli(["export", "--model", "mlp-small", "--out", join(dir, "seeded.onnx")]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/already exists; pass --force/)]);
    r = await cli(["export", "--model", "mlp-small", "--format", "tflite", "--out", join(dir, "y")]);
    expect(r.code).toBe(2);
  });
});
