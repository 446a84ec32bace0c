import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readSafetensors, type SafetensorsFile } from "@dualgrad/core";
import { checkReference } from "../src/commands/check-ref.js";

/** check-ref on the recurrent PyTorch fixtures (format_version 2), on both frontends. */
const path = (name: string) => fileURLToPath(new URL(`../../eager/test/fixtures/torch-${name}.safetensors`, import.meta.url));

/** A shallow copy of a file with some metadata replaced (or deleted with undefined). */
function withMeta(file: SafetensorsFile, changes: Record<string, string | undefined>): SafetensorsFile {
  const metadata = { ...file.metadata };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete metadata[k];
    else metadata[k] = v;
  }
  return { ...file, metadata };
}

describe("check-ref: recurrent fixtures", () => {
  for (const name of ["rnn-mse-f64", "rnn-mse-f32", "rnn-ce-f64", "rnn-ce-f32", "lstm-mse-f64"]) {
    it(`${name}: every tensor within tolerance on eager and graph`, () => {
      const file = readSafetensors(path(name));
      for (const frontend of ["eager", "graph"] as const) {
        const rows = checkReference(file, path(name), frontend);
        expect(rows.filter((r) => !r.ok)).toEqual([]);
        const tensors = rows.map((r) => r.tensor);
        for (const t of ["output", "loss", "grad.rnn.weight_hh_l0", "grad.head.bias", "after1.rnn.bias_ih_l0", "after5.rnn.weight_ih_l0", "losses", "loss_after5"]) expect(tensors).toContain(t);
        expect(rows).toHaveLength(2 + 6 * 3 + 2);
      }
    });
  }

  it("fails a tolerance it cannot meet, and a wrong reference value", () => {
    const file = readSafetensors(path("rnn-mse-f32"));
    expect(checkReference(file, "f", "graph", 1e-12).some((r) => !r.ok)).toBe(true);
    const tensors = new Map(file.tensors);
    const out = file.tensors.get("output")!;
    const data = (out.data as Float32Array).slice();
    data[0] = 123;
    tensors.set("output", { ...out, data });
    const rows = checkReference({ ...file, tensors }, "f", "eager");
    expect(rows.find((r) => r.tensor === "output")!.ok).toBe(false);
  });

  it("refuses malformed metadata with a one-line error naming the field", () => {
    const file = readSafetensors(path("rnn-ce-f64"));
    const cases: [Record<string, string | undefined>, RegExp][] = [
      [{ format_version: "1" }, /format_version '2'/],
      [{ hidden_size: "5" }, /params\.rnn\.weight_ih_l0 must have shape \[5,3\]/],
      [{ seq_len: "x" }, /metadata seq_len must be a positive integer, got 'x'/],
      [{ nonlinearity: "gelu" }, /nonlinearity must be tanh or relu/],
      [{ num_layers: "2" }, /num_layers must be '1'/],
      [{ batch_first: undefined }, /batch_first must be 'true'/],
      [{ loss: "hinge" }, /unknown loss 'hinge'/],
      [{ model: "gru" }, /metadata model must be "cnn", "rnn" or "lstm" for format_version 2, got "gru"/],
      [{ model: "lstm" }, /params\.rnn\.weight_ih_l0 must have shape \[16,3\]/],
    ];
    for (const [change, message] of cases) {
      expect(() => checkReference(withMeta(file, change), "f.safetensors", "eager")).toThrow(message);
    }
  });
});
