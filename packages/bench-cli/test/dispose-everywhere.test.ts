import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as eager from "@dualgrad/eager";
import * as graph from "@dualgrad/graph";

/**
 * A disposed tensor's memory is handed to the next tensor, so every place that takes a tensor
 * must refuse a disposed one with an error that names it, never read recycled memory. The
 * accessor-level cases live in packages/eager/test/dispose.test.ts and
 * packages/graph/test/dispose.test.ts; these are the places a tensor is passed *into*.
 */
describe("a disposed tensor passed into", () => {
  it("an eager op (either operand) names it", () => {
    const a = eager.tensor([1, 2, 3]);
    const b = eager.tensor([4, 5, 6]);
    b.dispose();
    expect(() => eager.add(a, b)).toThrow("add: input 1 (float32[3]) was disposed");
    expect(() => eager.matmul(b, a)).toThrow(/input 0 \(float32\[3\]\) was disposed/);
    a.dispose();
  });

  it("an eager optimizer's step names the parameter", () => {
    const w = eager.tensor([1, 2], { requiresGrad: true });
    const opt = new eager.optim.SGD([w], { lr: 0.1 });
    w.dispose();
    expect(() => opt.step()).toThrow("SGD.step: parameter 0: tensor float32[2] was disposed");
  });

  it("nn.save names the parameter", () => {
    const dir = mkdtempSync(join(tmpdir(), "dualgrad-dispose-"));
    try {
      const layer = new eager.nn.Linear(2, 3);
      layer.weight.dispose();
      expect(() => eager.nn.save(layer, join(dir, "m.safetensors"))).toThrow("save: weight: tensor float32[3,2] was disposed");
      layer.bias!.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a compiled graph function, as an eager Tensor argument", () => {
    const double = graph.fn((t: graph.SymbolicTensor) => t.mul(2));
    const x = eager.tensor([1, 2]);
    expect(Array.from((double(x) as graph.HostTensor).data)).toEqual([2, 4]);
    x.dispose();
    expect(() => double(x)).toThrow(/float32\[2\] was disposed/);
    double.dispose();
  });

  it("put() copies nothing from a disposed DeviceTensor or eager Tensor", () => {
    const d = graph.put(graph.tensor([1, 2]));
    d.dispose();
    expect(() => graph.put(d)).toThrow("data: DeviceTensor float32[2] used after dispose()");
    const e = eager.tensor([[1, 2]]);
    e.dispose();
    expect(() => graph.put(e)).toThrow(/float32\[1,2\] was disposed/);
  });

  it("a graph optimizer's minimize names the disposed Variable and frees the half-built plan", () => {
    const layer = new graph.Linear(2, 1);
    const opt = new graph.SGD({ lr: 0.1 });
    const [w, b] = layer.parameters();
    w.dispose();
    const step = graph.fn((x: graph.SymbolicTensor, y: graph.SymbolicTensor) => {
      const loss = graph.mseLoss(layer.forward(x), y);
      opt.minimize(loss, layer.parameters());
      return loss;
    });
    expect(() => step(graph.tensor([[1, 2]]), graph.tensor([[3]]))).toThrow(new RegExp(`Variable ${w.name} float32\\[1,2\\] used after dispose`));
    step.dispose();
    opt.dispose();
    b.dispose();
  });
});
