import { PhiloxGenerator } from "@dualgrad/core";
import { memory, nn, optim, randn, tensor, tidy, zeros, type Tensor } from "@dualgrad/eager";
import { describe, expect, it } from "vitest";

const names = (m: nn.Module) => m.namedParameters().map(([n]) => n);

class TwoLayer extends nn.Module {
  fc1: nn.Linear;
  act = new nn.ReLU();
  fc2: nn.Linear;
  constructor(gen = new PhiloxGenerator(0)) {
    super();
    this.fc1 = new nn.Linear(3, 4, { generator: gen });
    this.fc2 = new nn.Linear(4, 2, { generator: gen });
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
  }
}

describe("nn.Module registration", () => {
  it("registers fields holding modules and parameters, in field order, with PyTorch's names", () => {
    class Net extends nn.Module {
      scale = new nn.Parameter(zeros([1]));
      body = new TwoLayer();
      notAParameter = zeros([2]); // a plain tensor, like a plain torch attribute, is not registered
      forward(x: Tensor): Tensor {
        return this.body.forward(x).mul(this.scale);
      }
    }
    const net = new Net();
    expect(names(net)).toEqual(["scale", "body.fc1.weight", "body.fc1.bias", "body.fc2.weight", "body.fc2.bias"]);
    expect(net.parameters().every((p) => p.requiresGrad && p instanceof nn.Parameter)).toBe(true);
    expect(net.namedModules().map(([n]) => n)).toEqual(["", "body", "body.fc1", "body.act", "body.fc2"]);
    net.notAParameter.dispose();
    net.dispose();
  });

  it("ModuleList registers by index, can be indexed, iterated, appended", () => {
    class Stack extends nn.Module {
      layers = new nn.ModuleList([new nn.Linear(2, 3), new nn.Linear(3, 3)]);
      forward(x: Tensor): Tensor {
        let h = x;
        for (const l of this.layers) h = l.forward(h);
        return h;
      }
    }
    const s = new Stack();
    s.layers.append(new nn.Linear(3, 1));
    expect(s.layers.length).toBe(3);
    expect(s.layers[2]).toBe(s.layers.at(-1));
    expect(names(s)).toEqual(["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias"]);
    expect(() => s.layers.at(3)).toThrow(/index 3 is out of range for a list of 3/);
    expect(tidy(() => s.forward(tensor([[1, 2]])).shape)).toEqual([1, 1]);
    s.dispose();
  });

  it("ModuleDict registers by key in insertion order, even keys that name methods", () => {
    const d = new nn.ModuleDict<nn.Module>({ forward: new nn.Linear(2, 2), b: new nn.Linear(2, 1, { bias: false }) });
    expect(names(d)).toEqual(["forward.weight", "forward.bias", "b.weight"]);
    expect(d.get("b")).toBeInstanceOf(nn.Linear);
    expect(() => d.get("c")).toThrow(/ModuleDict: no entry 'c' \(keys: forward, b\)/);
    expect(() => d.set("a.b", new nn.ReLU())).toThrow(/without '\.'/);
    d.dispose();
  });

  it("Sequential names children 0, 1, ... and indexes them", () => {
    const m = new nn.Sequential(new nn.Linear(2, 3), new nn.Tanh(), new nn.Linear(3, 1));
    expect(names(m)).toEqual(["0.weight", "0.bias", "2.weight", "2.bias"]);
    expect(m[0]).toBeInstanceOf(nn.Linear);
    m.dispose();
  });

  it.each([
    ["an Array", (a: nn.Module, b: nn.Module) => [a, b]],
    ["a Map", (a: nn.Module, b: nn.Module) => new Map([["a", a], ["b", b]])],
    ["a Set", (a: nn.Module, b: nn.Module) => new Set([a, b])],
    ["a plain object", (a: nn.Module, b: nn.Module) => ({ a, b })],
    ["an Array", (a: nn.Module, b: nn.Module) => [[a], [b]]], // nested
  ])("modules kept in %s make parameters() throw, naming the field", (kind, make) => {
    const a = new nn.Linear(1, 1);
    const b = new nn.Linear(1, 1);
    class Bad extends nn.Module {
      blocks = make(a, b);
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const bad = new Bad();
    const msg = `Bad.blocks is ${kind} holding a Module`;
    expect(() => bad.parameters()).toThrow(msg);
    expect(() => bad.parameters()).toThrow(/use nn\.ModuleList \(or nn\.ModuleDict/);
    expect(() => bad.stateDict()).toThrow(msg);
    expect(() => bad.train()).toThrow(msg);
    a.dispose();
    b.dispose();
  });

  it("parameters kept in an array are an error too; arrays of numbers or tensors are fine", () => {
    class P extends nn.Module {
      sizes = [1, 2, 3];
      long = new Array<number>(300_000).fill(0); // walked without spreading it into a call
      consts = [zeros([1])];
      ws = [new nn.Parameter(zeros([2]))];
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const p = new P();
    expect(() => p.parameters()).toThrow(/P\.ws is an Array holding an nn\.Parameter.*nn\.ParameterList \(or nn\.ParameterDict\) for parameters/);
    p.consts[0].dispose();
    p.ws[0].dispose();
  });

  it("ParameterList and ParameterDict register parameters by index and key, making plain tensors parameters", () => {
    class Mix extends nn.Module {
      ws = new nn.ParameterList([zeros([2]), new nn.Parameter(zeros([3]))]);
      scales = new nn.ParameterDict({ a: zeros([1]) });
      forward(x: Tensor): Tensor {
        return x.mul(this.scales.get("a")).add(this.ws[0]);
      }
    }
    const m = new Mix();
    m.ws.append(zeros([4]));
    m.scales.set("b", zeros([1]));
    expect(m.namedParameters().map(([n, p]) => [n, p.shape[0], p.requiresGrad])).toEqual([
      ["ws.0", 2, true], ["ws.1", 3, true], ["ws.2", 4, true], ["scales.a", 1, true], ["scales.b", 1, true],
    ]);
    expect(() => m.ws.append(3 as unknown as Tensor)).toThrow("ParameterList: entry 3 must be an nn.Parameter or a Tensor, got number");
    const t = zeros([1]);
    expect(() => new nn.ModuleList([t as unknown as nn.Module])).toThrow("ModuleList: entry 0 must be an nn.Module, got Tensor");
    expect(() => m.ws.forward(t)).toThrow(/ParameterList has no forward/);
    t.dispose();
    m.dispose();
  });

  it("prints the module tree as PyTorch's print(model) does", () => {
    class Net extends nn.Module {
      body = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU());
      head = new nn.Linear(4, 1, { bias: false });
      forward(x: Tensor): Tensor {
        return this.head.forward(this.body.forward(x));
      }
    }
    const net = new Net();
    expect(String(net)).toBe(
      [
        "Net(",
        "  (body): Sequential(",
        "    (0): Linear(in_features=3, out_features=4, bias=True)",
        "    (1): ReLU()",
        "  )",
        "  (head): Linear(in_features=4, out_features=1, bias=False)",
        ")",
      ].join("\n"),
    );
    net.dispose();
  });

  it("#private fields are invisible (documented limitation): their parameters are not found and cannot be detected", () => {
    class Hidden extends nn.Module {
      #inner = new nn.Linear(2, 2);
      forward(x: Tensor): Tensor {
        return this.#inner.forward(x);
      }
      free(): void {
        this.#inner.dispose();
      }
    }
    const h = new Hidden();
    expect(h.parameters()).toEqual([]);
    h.free();
  });

  it("a module or parameter shared under two names is listed once, under the first", () => {
    class Tied extends nn.Module {
      enc = new nn.Linear(2, 2);
      dec = this.enc;
      forward(x: Tensor): Tensor {
        return this.dec.forward(this.enc.forward(x));
      }
    }
    const t = new Tied();
    expect(names(t)).toEqual(["enc.weight", "enc.bias"]);
    t.dispose();
  });

  it("nn.Parameter takes over the tensor's memory (no copy, nothing left to free) and survives tidy", () => {
    const before = memory().liveBytes;
    const p = tidy(() => {
      const t = randn([4], { generator: new PhiloxGenerator(1) });
      const q = new nn.Parameter(t);
      expect(t.isDisposed).toBe(true);
      return q;
    });
    expect(p.requiresGrad).toBe(true);
    expect(p.isLeaf).toBe(true);
    expect(memory().liveBytes - before).toBe(16);
    p.dispose();
    expect(memory().liveBytes).toBe(before);
    const i = tensor([1, 2], { dtype: "int32" });
    expect(() => new nn.Parameter(i)).toThrow(/only floating point tensors can require gradients/);
    expect(i.isDisposed).toBe(false);
    i.dispose();
    expect(memory().liveBytes).toBe(before);
  });

  it("stateDict/loadStateDict round-trip with ModuleList names, and a custom module trains with optim.SGD", () => {
    class Net extends nn.Module {
      layers: nn.ModuleList<nn.Linear>;
      constructor(seed: number) {
        super();
        const gen = new PhiloxGenerator(seed);
        this.layers = new nn.ModuleList([new nn.Linear(2, 4, { generator: gen }), new nn.Linear(4, 1, { generator: gen })]);
      }
      forward(x: Tensor): Tensor {
        return this.layers[1].forward(this.layers[0].forward(x).tanh());
      }
    }
    const a = new Net(1);
    const b = new Net(2);
    expect([...a.stateDict().keys()]).toEqual(["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]);
    b.loadStateDict(a.stateDict());
    expect(Array.from(b.layers[1].weight.data)).toEqual(Array.from(a.layers[1].weight.data));
    const opt = new optim.SGD(a.parameters(), { lr: 0.1 });
    const x = tensor([[1, 0], [0, 1], [1, 1]]);
    const y = tensor([[1], [-1], [0]]);
    const lossAt = () => tidy(() => nn.mseLoss(a.forward(x), y).item());
    const first = lossAt();
    for (let i = 0; i < 50; i++) {
      tidy(() => {
        opt.zeroGrad();
        nn.mseLoss(a.forward(x), y).backward();
        opt.step();
      });
    }
    expect(lossAt()).toBeLessThan(first / 2);
    opt.dispose();
    for (const t of [x, y]) t.dispose();
    a.dispose();
    b.dispose();
  });
});
