import { describe, expect, it } from "vitest";
import { PhiloxGenerator, gradcheck, isFloat, ops } from "@dualgrad/core";
import { apply, memory, nn, noGrad, tensor, tidy } from "../src/index.js";
import { caseName, opCases } from "../../core/test/op-cases.js";

/** Every op through eager's tape, against central differences in float64. */
describe("eager gradients of every op agree with gradcheck (float64)", () => {
  opCases().forEach((k, idx) => {
    const differentiable = k.inputs.map((s) => s.kind !== "int32" && s.kind !== "mask");
    const outDtype = ops[k.prim].infer(k.inputs.map((s) => ({ shape: s.shape, dtype: s.kind === "int32" ? "int32" : "float64" })), k.attrs as never).dtype;
    if (!differentiable.some(Boolean) || !isFloat(outDtype) || k.prim === "compare") return;
    it(caseName(k, "float64"), () => {
      const before = memory().liveBytes;
      const gen = new PhiloxGenerator(idx + 77);
      const raw = k.inputs.map((s) => {
        const n = s.shape.reduce((a, b) => a * b, 1);
        const v = new Float64Array(n);
        gen.fillUniform(v, ...(s.range ?? [-1, 1]));
        if (s.kind === "int32") return v.map(Math.floor);
        if (s.kind === "mask") return v.map((x) => (x > 0 ? 1 : 0));
        return s.awayFromZero ? v.map((x) => (Math.abs(x) < 0.2 ? x + Math.sign(x || 1) * 0.3 : x)) : v;
      });
      const make = (vals: Float64Array[], grad: boolean) =>
        k.inputs.map((s, i) =>
          tensor(vals[i], { shape: s.shape, dtype: s.kind === "int32" ? "int32" : "float64", requiresGrad: grad && differentiable[i] }),
        );
      const outSize = ops[k.prim].infer(k.inputs.map((s) => ({ shape: s.shape, dtype: s.kind === "int32" ? "int32" : "float64" })), k.attrs as never).shape.reduce((a, b) => a * b, 1);
      const r = new Float64Array(outSize);
      new PhiloxGenerator(idx).fillUniform(r, -1, 1);
      const inputs = make(raw, true);
      tidy(() => {
        const out = apply(k.prim, inputs, k.attrs as never);
        out.mul(tensor(r, { shape: out.shape, dtype: "float64" })).sum().backward();
      });
      const f = (xs: Float64Array[]) =>
        noGrad(() =>
          tidy(() => {
            let j = 0;
            const vals = raw.map((v, i) => (differentiable[i] ? xs[j++] : v));
            const out = apply(k.prim, make(vals, false), k.attrs as never);
            return out.mul(tensor(r, { shape: out.shape, dtype: "float64" })).sum().item();
          }),
        );
      const analytic = inputs.filter((_, i) => differentiable[i]).map((t) => (t.grad ? Float64Array.from(t.grad.data) : new Float64Array(t.size)));
      const report = gradcheck(f, raw.filter((_, i) => differentiable[i]), analytic);
      expect(report.ok, JSON.stringify(report.worst)).toBe(true);
      inputs.forEach((t) => t.dispose());
      expect(memory().liveBytes).toBe(before);
    });
  });
});

describe("composite models agree with gradcheck (float64)", () => {
  for (const [name, build, loss] of [
    ["mlp tanh + MSE", () => new nn.Sequential(new nn.Linear(3, 5, { dtype: "float64" }), new nn.Tanh(), new nn.Linear(5, 2, { dtype: "float64" })), "mse"],
    ["mlp relu/sigmoid + cross-entropy", () => new nn.Sequential(new nn.Linear(3, 6, { dtype: "float64" }), new nn.ReLU(), new nn.Linear(6, 6, { dtype: "float64" }), new nn.Sigmoid(), new nn.Linear(6, 4, { dtype: "float64" })), "ce"],
  ] as const) {
    it(name, () => {
      const model = build();
      const gen = new PhiloxGenerator(3);
      const x = tensor(gen.uniform(4 * 3, -1, 1, "float64"), { shape: [4, 3], dtype: "float64" });
      const y = loss === "ce" ? tensor([0, 3, 1, 2], { dtype: "int32" }) : tensor(gen.uniform(8, -1, 1, "float64"), { shape: [4, 2], dtype: "float64" });
      const lossOf = () => (loss === "ce" ? nn.crossEntropy(model.forward(x), y) : nn.mseLoss(model.forward(x), y));
      tidy(() => lossOf().backward());
      const params = model.parameters();
      const f = (xs: Float64Array[]) =>
        noGrad(() => {
          params.forEach((p, i) => p.data.set(xs[i]));
          return tidy(() => lossOf().item());
        });
      const start = params.map((p) => Float64Array.from(p.data));
      const report = gradcheck(f, start, params.map((p) => p.grad!.data));
      params.forEach((p, i) => p.data.set(start[i]));
      expect(report.ok, JSON.stringify(report.worst)).toBe(true);
      model.dispose();
      x.dispose();
      y.dispose();
    });
  }
});

