import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { allocator, parseSafetensors, type SafetensorsFile } from "@dualgrad/core";
import { checkReference } from "../src/commands/check-ref.js";

/**
 * check-ref on convolutional reference files (format_version 2), written by PyTorch 1.13 with
 * packages/eager/scripts/make-torch-refs.py (cnn_refs): the `cnn` workload's architecture in
 * float32; uneven kernels, strides and padding with tanh, average pooling and cross-entropy in
 * float64; sigmoid + MSE with two input channels in both dtypes.
 */

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "../../eager/test/fixtures");
const load = (name: string): SafetensorsFile => parseSafetensors(readFileSync(join(fixtures, `${name}.safetensors`)), name);

describe("check-ref reads convolutional fixtures", () => {
  for (const name of ["torch-cnn-f32", "torch-cnn-mixed-f64", "torch-cnn-mse-f64", "torch-cnn-mse-f32"]) {
    for (const frontend of ["eager", "graph"] as const) {
      it(`${name} on ${frontend}: output, loss, gradients and 1 and 5 SGD steps within tolerance`, () => {
        const before = allocator.stats().liveBytes;
        const rows = checkReference(load(name), name, frontend);
        // Output, loss, 3 x (grad, after1, after5) x (weight, bias), losses, loss_after5 for cnn;
        // every parameter of every conv/linear module is compared.
        const params = [...load(name).tensors.keys()].filter((k) => k.startsWith("params."));
        expect(rows.length).toBe(2 + 3 * params.length + 2);
        expect(rows.filter((r) => !r.ok)).toEqual([]);
        expect(allocator.stats().liveBytes).toBe(before);
      });
    }
  }

  it("a wrong gradient is out of tolerance (the check can fail)", () => {
    const file = load("torch-cnn-mixed-f64");
    const g = file.tensors.get("grad.3.weight")!;
    const data = Float64Array.from(g.data as Float64Array);
    data[5] += 1e-6;
    g.data = data;
    const rows = checkReference(file, "tampered", "eager");
    expect(rows.filter((r) => !r.ok).map((r) => r.tensor)).toEqual(["grad.3.weight"]);
  });

  const malformed: [string, (f: SafetensorsFile) => void, RegExp][] = [
    ["unknown format_version", (f) => (f.metadata.format_version = "3"), /unknown metadata format_version '3'/],
    ["model not cnn", (f) => (f.metadata.model = "gru"), /metadata model must be "cnn"/],
    ["layers not JSON", (f) => (f.metadata.layers = "[{"), /metadata layers is not JSON/],
    ["unknown module", (f) => (f.metadata.layers = JSON.stringify([{ type: "conv3d" }])), /layers\[0\] \(conv3d\): unknown module type "conv3d"/],
    ["bad stride", (f) => (f.metadata.layers = JSON.stringify(JSON.parse(f.metadata.layers).map((m: object, i: number) => (i === 0 ? { ...m, stride: [0, 1] } : m)))), /layers\[0\] \(conv2d\): stride must be \[sh, sw\] of positive integers, got \[0,1\]/],
    ["channel mismatch", (f) => (f.metadata.input_shape = "[2,3,6,6]"), /layers\[0\] \(conv2d\) expects 1 input channels, but its input has 3/],
    ["missing parameter", (f) => f.tensors.delete("params.3.bias"), /tensor params.3.bias is missing/],
    ["linear without flatten", (f) => (f.metadata.layers = JSON.stringify(JSON.parse(f.metadata.layers).filter((m: { type: string }) => m.type !== "flatten"))), /expects 12 features, but its input is \[4,3,1\] \(add a flatten\?\)/],
    ["dtype mismatch", (f) => (f.metadata.dtype = "float32"), /params.0.weight is F64, but metadata dtype is float32/],
  ];
  for (const [what, spoil, message] of malformed) {
    it(`a malformed file is a usage error naming the field: ${what}`, () => {
      const file = load("torch-cnn-mixed-f64");
      spoil(file);
      expect(() => checkReference(file, "bad.safetensors", "eager")).toThrow(message);
    });
  }
});
