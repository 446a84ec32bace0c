import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { FormatError, PhiloxGenerator, linearInitBound, readSafetensors, toDTypeArray, writeSafetensors, type SafeTensor } from "@dualgrad/core";
import { Tensor, manualSeed, memory, nn, optim, rand, randn, tensor, tidy } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "dualgrad-eager-"));

/**
 * A test whose tensors are all released at its end: `tidy` frees what it created, and
 * modules and optimizers made through `own` are disposed (parameters survive tidy by design).
 */
function tidyIt(name: string, fn: (own: <T extends { dispose(): void }>(x: T) => T) => void): void {
  it(name, () => {
    const owned: { dispose(): void }[] = [];
    try {
      tidy(() => fn((x) => (owned.push(x), x)));
    } finally {
      owned.forEach((x) => x.dispose());
    }
  });
}
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("nn.Module", () => {
  tidyIt("names parameters as PyTorch does", (own) => {
    const model = own(new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2)));
    expect(model.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ["0.weight", [4, 3]], ["0.bias", [4]], ["2.weight", [2, 4]], ["2.bias", [2]],
    ]);
    class Net extends nn.Module {
      fc1 = new nn.Linear(2, 3);
      act = new nn.Tanh();
      fc2 = new nn.Linear(3, 1, { bias: false });
      forward(x: Tensor) { return this.fc2.forward(this.act.forward(this.fc1.forward(x))); }
    }
    expect(own(new Net()).namedParameters().map(([n]) => n)).toEqual(["fc1.weight", "fc1.bias", "fc2.weight"]);
    expect(model.train().training).toBe(true);
    expect(model.eval().layers[0].training).toBe(false);
  });

  tidyIt("Linear uses PyTorch's default init law, seeded", (own) => {
    manualSeed(42);
    const a = own(new nn.Linear(64, 32));
    manualSeed(42);
    const b = own(new nn.Linear(64, 32));
    expect(Array.from(a.weight.data)).toEqual(Array.from(b.weight.data));
    const bound = linearInitBound(64);
    expect(Array.from(a.weight.data).every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(Array.from(a.bias!.data).every((v) => Math.abs(v) <= bound)).toBe(true);
    const c = own(new nn.Linear(64, 32, { generator: new PhiloxGenerator(7) }));
    expect(Array.from(c.weight.data)).not.toEqual(Array.from(a.weight.data));
  });

  tidyIt("save and load as safetensors in PyTorch's layout; loads a PyTorch state_dict", (own) => {
    const model = own(new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2)));
    const path = join(dir, "model.safetensors");
    nn.save(model, path);
    const file = readSafetensors(path);
    expect([...file.tensors.keys()].sort()).toEqual(["0.bias", "0.weight", "2.bias", "2.weight"]);
    expect(file.tensors.get("0.weight")!.shape).toEqual([4, 3]);
    const other = own(new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2)));
    nn.load(other, path);
    expect(Array.from(other.layers[2] instanceof nn.Linear ? other.layers[2].weight.data : [])).toEqual(
      Array.from((model.layers[2] as nn.Linear).weight.data),
    );
    // A file written by PyTorch (the fixture's initial parameters, renamed to a state_dict).
    const torchFile = readSafetensors(fileURLToPath(new URL("./fixtures/torch-mlp-small-f64.safetensors", import.meta.url)));
    const mlp = own(new nn.Sequential(new nn.Linear(8, 64, { dtype: "float64" }), new nn.Tanh(), new nn.Linear(64, 64, { dtype: "float64" }), new nn.Tanh(), new nn.Linear(64, 1, { dtype: "float64" })));
    const state = new Map<string, Tensor>();
    for (let i = 0; i < 3; i++) {
      for (const k of ["weight", "bias"]) {
        const t = torchFile.tensors.get(`params.${i}.${k}`)!;
        state.set(`${2 * i}.${k}`, tensor(toDTypeArray(t, "float64"), { shape: t.shape, dtype: "float64" }));
      }
    }
    const torchPath = join(dir, "torch.safetensors");
    nn.saveTensors(torchPath, state);
    nn.load(mlp, torchPath);
    expect(Array.from((mlp.layers[4] as nn.Linear).bias!.data)).toEqual(Array.from(toDTypeArray(torchFile.tensors.get("params.2.bias")!, "float64")));
  });

  tidyIt("loadStateDict errors name keys and shapes", (own) => {
    const model = own(new nn.Sequential(new nn.Linear(3, 4)));
    expect(() => model.loadStateDict({ "0.weight": tensor([[1]]) })).toThrow(/missing keys \[0.bias\]/);
    expect(() => model.loadStateDict({ "0.weight": rand([3, 4]), "0.bias": rand([4]) })).toThrow(
      "loadStateDict: size mismatch for 0.weight: copying a param with shape [3,4] from checkpoint, the shape in current model is [4,3]",
    );
    expect(() => model.loadStateDict({ "0.weight": rand([4, 3]), "0.bias": rand([4]), extra: rand([1]) })).toThrow(/unexpected keys \[extra\]/);
  });

  it("loadTensors and load free what they read when a later tensor fails, and name the file", () => {
    // The first tensor converts; the second is I64 beyond int32, so the load fails after one tensor exists.
    const path = join(dir, "bad-i64.safetensors");
    writeSafetensors(path, new Map([
      ["a", { dtype: "F32", shape: [1024], data: new Float32Array(1024) }],
      ["b", { dtype: "I64", shape: [1], data: BigInt64Array.from([2n ** 40n]) }],
    ]));
    const before = memory().liveBytes;
    for (let i = 0; i < 3; i++) {
      let err: unknown;
      try {
        nn.loadTensors(path);
      } catch (e) {
        err = e;
      }
      expect(memory().liveBytes, "live bytes after a failed loadTensors").toBe(before);
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(new RegExp(`^loadTensors: '${path.replace(/[.\\]/g, "\\$&")}': safetensors: tensor 'b': I64 value 1099511627776`));
      expect(() => nn.load(new nn.Sequential(), path)).toThrow(path);
    }
    expect(memory().liveBytes).toBe(before);
  });

  tidyIt("load names the file and bounds the key lists of a mismatched file", (own) => {
    const path = join(dir, "many.safetensors");
    const many = new Map<string, SafeTensor>();
    for (let i = 0; i < 2000; i++) many.set(`extra.${i}`, { dtype: "F32", shape: [0], data: new Float32Array(0) });
    writeSafetensors(path, many);
    const model = own(new nn.Sequential(new nn.Linear(3, 4)));
    let msg = "";
    try {
      nn.load(model, path);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain(`load: '${path}': loadStateDict: error(s) in loading state dict: missing keys [0.weight, 0.bias], unexpected keys [extra.0, extra.1,`);
    expect(msg).toContain("extra.9 and 1990 more]");
    expect(msg.length).toBeLessThan(500);
  });

  tidyIt("MSELoss and CrossEntropyLoss match hand-computed values and check their inputs", (own) => {
    const mse = new nn.MSELoss().forward(tensor([1, 2, 3]), tensor([1, 1, 1]));
    expect(mse.item()).toBeCloseTo(5 / 3, 6);
    const logits = tensor([[1, 2, 3], [1, 1, 1]], { dtype: "float64" });
    const labels = tensor([2, 0], { dtype: "int32" });
    const ce = new nn.CrossEntropyLoss().forward(logits, labels);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expect(ce.item()).toBeCloseTo(((lse - 3) + Math.log(3)) / 2, 12);
    expect(() => nn.mseLoss(tensor([1, 2]), tensor([1]))).toThrow(/mseLoss: input \[2\] and target \[1\] must have the same shape/);
    expect(() => nn.crossEntropy(logits, tensor([2, 0]))).toThrow(/labels must be int32/);
  });
});

describe("optimizers equal PyTorch's (mlp-small, float64, 3 steps)", () => {
  const file = readSafetensors(fileURLToPath(new URL("./fixtures/torch-optimizers-f64.safetensors", import.meta.url)));
  const t = (name: string) => {
    const s = file.tensors.get(name)!;
    return tensor(toDTypeArray(s, "float64"), { shape: s.shape, dtype: "float64" });
  };
  const configs: Record<string, (ps: Tensor[]) => optim.Optimizer<Record<string, number | boolean>>> = {
    sgd_momentum: (ps) => new optim.SGD(ps, { lr: 0.01, momentum: 0.9 }),
    sgd_nesterov_wd: (ps) => new optim.SGD(ps, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    sgd_dampening: (ps) => new optim.SGD(ps, { lr: 0.01, momentum: 0.5, dampening: 0.3 }),
    adam: (ps) => new optim.Adam(ps, { lr: 0.01 }),
    adam_wd: (ps) => new optim.Adam(ps, { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 }),
    adamw: (ps) => new optim.AdamW(ps, { lr: 0.01, weightDecay: 0.1 }),
  };
  for (const [name, make] of Object.entries(configs)) {
    it(name, () => {
      const before = memory().liveBytes;
      const model = new nn.Sequential(
        new nn.Linear(8, 64, { dtype: "float64" }), new nn.Tanh(), new nn.Linear(64, 64, { dtype: "float64" }), new nn.Tanh(), new nn.Linear(64, 1, { dtype: "float64" }),
      );
      const state = new Map<string, Tensor>();
      for (let i = 0; i < 3; i++) for (const k of ["weight", "bias"]) state.set(`${2 * i}.${k}`, t(`params.${i}.${k}`));
      model.loadStateDict(state);
      state.forEach((x) => x.dispose());
      const x = t("input");
      const y = t("target");
      const opt = make(model.parameters());
      for (let s = 0; s < 3; s++) {
        tidy(() => {
          opt.zeroGrad();
          nn.mseLoss(model.forward(x), y).backward();
          opt.step();
        });
      }
      for (let i = 0; i < 3; i++) {
        for (const k of ["weight", "bias"] as const) {
          const ref = t(`${name}.${i}.${k}`);
          const mine = (model.layers[2 * i] as nn.Linear)[k]!;
          let err = 0;
          let mag = 0;
          for (let j = 0; j < ref.size; j++) {
            err = Math.max(err, Math.abs(mine.data[j] - ref.data[j]));
            mag = Math.max(mag, Math.abs(ref.data[j]));
          }
          expect(err / mag, `${name} ${i}.${k}`).toBeLessThanOrEqual(1e-10);
          ref.dispose();
        }
      }
      const sd = opt.stateDict();
      expect(sd.paramGroups[0].lr).toBe(0.01);
      opt.zeroGrad();
      opt.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
      expect(memory().liveBytes).toBe(before);
    });
  }

  tidyIt("optimizer state survives a state-dict round trip", (own) => {
    const w = tensor([1, 2], { requiresGrad: true, dtype: "float64" });
    const a = own(new optim.Adam([w], { lr: 0.1 }));
    const run = (o: optim.Optimizer<Record<string, number | boolean>>, p: Tensor) =>
      tidy(() => {
        o.zeroGrad();
        p.mul(p).sum().backward();
        o.step();
      });
    run(a, w);
    const w2 = tensor(Array.from(w.data), { requiresGrad: true, dtype: "float64" });
    const b = own(new optim.Adam([w2], { lr: 0.1 }));
    b.loadStateDict(a.stateDict());
    run(a, w);
    run(b, w2);
    expect(Array.from(w2.data)).toEqual(Array.from(w.data));
    expect(() => new optim.SGD([w], { lr: -1 })).toThrow(/SGD: invalid lr -1/);
    expect(() => new optim.SGD([w], { lr: 0.1, nesterov: true })).toThrow(/Nesterov momentum requires a momentum/);
  });
});

describe("SGD with momentum in two kernels a parameter", () => {
  tidyIt("after the first step: the buffer updated in place, then the parameter; the same values as op by op; Nesterov stays op by op", (own) => {
    const start = [0.5, -1.25, 2, 0.75];
    const grads = [[0.1, -0.2, 0.3, 0.4], [0.5, 0.25, -0.125, 1], [-0.3, 0.6, 0.2, -0.1]];
    const run = (options: optim.SGDOptions) => {
      const w = tensor(start, { requiresGrad: true });
      const opt = own(new optim.SGD([w], options));
      const launches: number[] = [];
      let buffers: unknown[] = [];
      for (const g of grads) {
        w.grad?.dispose();
        w.grad = tensor(g);
        const before = memory().kernelLaunches;
        opt.step();
        launches.push(memory().kernelLaunches - before);
        buffers.push(opt.stateDict().state[0].buffers.momentumBuffer);
      }
      buffers = [...new Set(buffers)];
      return { w: Array.from(w.data), launches, distinctBuffers: buffers.length };
    };
    // PyTorch's rule by hand in float32: b = g, then b = m b + (1 - d) g; w -= lr b.
    const expected = (lr: number, m: number, d: number) => {
      const f = Math.fround;
      const w = start.map(f);
      let b: number[] = [];
      grads.forEach((g, k) => {
        b = k === 0 ? g.map(f) : b.map((v, i) => f(f(f(v * f(m)) + f(g[i] * f(1 - d)))));
        b.forEach((v, i) => (w[i] = f(w[i] - f(v * f(lr)))));
      });
      return w;
    };
    const plain = run({ lr: 0.1, momentum: 0.9, dampening: 0.25 });
    expect(plain.w).toEqual(expected(0.1, 0.9, 0.25));
    // The first step copies the gradient into a new buffer; later steps are two launches and keep that buffer.
    expect(plain.launches.slice(1)).toEqual([2, 2]);
    expect(plain.distinctBuffers).toBe(1);
    const nesterov = run({ lr: 0.1, momentum: 0.9, nesterov: true });
    expect(nesterov.launches[2]).toBeGreaterThan(2);
  });
});

describe("training", () => {
  tidyIt("linear regression recovers w=3 and b=2 within 0.05 (the seed's loop, as in PyTorch)", (own) => {
    const gen = new PhiloxGenerator(0);
    const x = rand([256, 1], { generator: gen }).mul(2).sub(1);
    const noise = randn([256, 1], { generator: gen }).mul(0.1);
    const y = x.mul(3).add(2).add(noise);
    manualSeed(0);
    const model = own(new nn.Linear(1, 1));
    const lossFn = new nn.MSELoss();
    const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
    for (let epoch = 0; epoch < 300; epoch++) {
      tidy(() => {
        opt.zeroGrad();
        const loss = lossFn.forward(model.forward(x), y);
        loss.backward();
        opt.step();
      });
    }
    expect(Math.abs(model.weight.item() - 3)).toBeLessThan(0.05);
    expect(Math.abs(model.bias!.item() - 2)).toBeLessThan(0.05);
  });
});
