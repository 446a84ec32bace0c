import { afterEach, describe, expect, it, vi } from "vitest";
import { DualgradError, allocator } from "@dualgrad/core";
import {
  Adam, GradientTape, SGD, Variable, fn, gradients, layers, losses, mseLoss, read, sequential, tensor, zip,
  type HostTensor, type SymbolicTensor,
} from "../src/index.js";

afterEach(() => vi.restoreAllMocks());


/** y = 3x + 2 + a little deterministic wiggle, 64 rows. */
function lineData(): { x: HostTensor; y: HostTensor } {
  const xs = new Float32Array(64).map((_, i) => i / 32 - 1);
  return { x: tensor(xs, [64, 1]), y: tensor(xs.map((v, i) => 3 * v + 2 + 0.01 * Math.sin(i)), [64, 1]) };
}

const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(new Float32Array(a).buffer));

describe("GradientTape: the TF2 training step", () => {
  for (const [name, makeOpt] of [
    ["SGD", () => new SGD({ learningRate: 0.1 })],
    ["SGD with momentum", () => new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true })],
    ["Adam", () => new Adam({ learningRate: 0.05, beta1: 0.8, epsilon: 1e-7 })],
  ] as const) {
    it(`gives the same bits as opt.minimize (${name}), step after step`, () => {
      const { x, y } = lineData();
      const run = (useTape: boolean) => {
        const model = sequential([layers.dense({ units: 1, inputShape: [1] })], { seed: 7 });
        const opt = makeOpt();
        const lossFn = new losses.MeanSquaredError();
        const step = fn((xb: SymbolicTensor, yb: SymbolicTensor) => {
          if (!useTape) {
            const loss = mseLoss(model.forward(xb), yb);
            opt.minimize(loss, model.parameters());
            return loss;
          }
          const tape = new GradientTape();
          const pred = model.apply(xb);
          const loss = lossFn.call(yb, pred);
          const grads = tape.gradient(loss, model.trainableVariables);
          opt.applyGradients(zip(grads, model.trainableVariables));
          return loss;
        });
        const lossValues: number[] = [];
        for (let i = 0; i < 25; i++) lossValues.push((step(x, y) as HostTensor).item());
        const weights = model.getWeights().map((w) => bits(w.data));
        step.dispose();
        opt.dispose();
        model.dispose();
        return { losses: bits(lossValues), weights };
      };
      const tape = run(true);
      const minimize = run(false);
      expect(tape.losses).toEqual(minimize.losses);
      expect(tape.weights).toEqual(minimize.weights);
    });
  }

  it("the compiled tape step allocates nothing per call and fits y = 3x + 2", () => {
    const { x, y } = lineData();
    const model = sequential([layers.dense({ units: 1, inputShape: [1] })], { seed: 1 });
    const opt = new SGD({ learningRate: 0.2 });
    const lossFn = new losses.MeanSquaredError();
    const step = fn((xb: SymbolicTensor, yb: SymbolicTensor) => {
      const tape = new GradientTape();
      const loss = lossFn.call(yb, model.call(xb, { training: true }));
      opt.applyGradients(zip(tape.gradient(loss, model.trainableVariables), model.trainableVariables));
      return loss;
    });
    step(x, y);
    const before = allocator.stats();
    for (let i = 0; i < 200; i++) step(x, y);
    const after = allocator.stats();
    expect(after.allocations - before.allocations).toBe(0);
    expect(after.liveBytes).toBe(before.liveBytes);
    const [kernel, bias] = model.getWeights();
    expect(Math.abs(kernel.data[0] - 3)).toBeLessThan(0.02);
    expect(Math.abs(bias.data[0] - 2)).toBeLessThan(0.02);
    step.dispose();
    opt.dispose();
    model.dispose();
  });
});

describe("GradientTape: TF's semantics", () => {
  const v = (values: number[], name: string) => new Variable([values.length], "float32", { name, init: values });
  const values = (t: HostTensor) => Array.from(t.data);

  it("returns the structure of the sources, equal to gradients(); null for an unconnected source, zeros on request", () => {
    const w = v([1, 2], "tape.w");
    const b = v([0.5, -1], "tape.b");
    const unused = v([3], "tape.unused");
    const f = fn(() => {
      const tape = new GradientTape({ persistent: true });
      const loss = read(w).mul(w).mul(b).sum();
      const g = tape.gradient(loss, { layer: [w, b], other: unused });
      const zeros = tape.gradient(loss, [unused], { unconnectedGradients: "zero" });
      expect(g.other).toBeNull();
      expect(Object.keys(g)).toEqual(["layer", "other"]);
      const ref = gradients(loss, [w, b]);
      return [g.layer[0]!, g.layer[1]!, ref[0], ref[1], zeros[0]!];
    });
    const [gw, gb, rw, rb, z] = f() as HostTensor[];
    expect(values(gw)).toEqual(values(rw));
    expect(values(gb)).toEqual(values(rb));
    // loss = sum(w * w * b): d/dw = 2 w b, d/db = w^2
    expect(values(gw)).toEqual([1, -4]);
    expect(values(gb)).toEqual([1, 4]);
    expect(values(z)).toEqual([0]);
    f.dispose();
    for (const x of [w, b, unused]) x.dispose();
  });

  it("differentiates w.r.t. watched tensors only, and only through operations recorded while watching", () => {
    const f = fn((x: SymbolicTensor, c: SymbolicTensor) => {
      const before = x.mul(2); // built before the tape: not recorded
      const tape = new GradientTape();
      tape.watch(x);
      const y = x.mul(x).mul(c).sum().add(before.sum());
      const [gx, gc, gBefore] = tape.gradient(y, [x, c, before]);
      expect(gc).toBeNull(); // c was never watched
      expect(gBefore).toBeNull(); // computed outside the tape
      return gx!;
    });
    // d/dx sum(x*x*c) = 2 x c; the x*2 outside the tape contributes nothing.
    expect(values(f(tensor([1, 2]), tensor([3, 4])) as HostTensor)).toEqual([6, 16]);
    f.dispose();
  });

  it("stopRecording leaves its operations out; a variable read there is not differentiated through them", () => {
    const w = v([2], "tape.stop.w");
    const f = fn(() => {
      const tape = new GradientTape();
      const frozen = tape.stopRecording(() => read(w).mul(2));
      const y = frozen.mul(w).sum(); // d/dw = frozen only (2 w treated as a constant): 4
      return tape.gradient(y, w)!;
    });
    expect(values(f() as HostTensor)).toEqual([4]);
    f.dispose();
    w.dispose();
  });

  it("stop() (or leaving a `using` block) ends the recording: later operations are not differentiated", () => {
    const f = fn((x: SymbolicTensor) => {
      const tape = new GradientTape();
      tape.watch(x);
      const inside = x.mul(3).sum();
      tape.stop();
      expect(tape.gradient(inside.mul(x.sum()), x)).toBeNull();
      let scoped: GradientTape;
      let y: SymbolicTensor;
      {
        using t = new GradientTape({ persistent: true });
        t.watch(x);
        y = x.mul(5).sum();
        scoped = t;
      }
      expect(scoped.recording).toBe(false);
      expect(scoped.gradient(y.mul(2), x)).toBeNull(); // the mul(2) came after the block
      return scoped.gradient(y, x)!;
    });
    expect(values(f(tensor([1, 2])) as HostTensor)).toEqual([5, 5]);
    f.dispose();
  });

  it("nested tapes give second derivatives: d²/dx² x³ = 6x", () => {
    const f = fn((x: SymbolicTensor) => {
      const outer = new GradientTape();
      outer.watch(x);
      const inner = new GradientTape();
      inner.watch(x);
      const y = x.mul(x).mul(x).sum();
      const dy = inner.gradient(y, x)!;
      return [dy, outer.gradient(dy.sum(), x)!];
    });
    const [d1, d2] = f(tensor([1, 2])) as HostTensor[];
    expect(values(d1)).toEqual([3, 12]);
    expect(values(d2)).toEqual([6, 12]);
    f.dispose();
  });

  it("watchAccessedVariables: false watches only what watch() names", () => {
    const a = v([1], "tape.nowatch.a");
    const b = v([1], "tape.nowatch.b");
    const f = fn(() => {
      const tape = new GradientTape({ watchAccessedVariables: false });
      tape.watch(a);
      const y = read(a).mul(b).sum();
      const [ga, gb] = tape.gradient(y, [a, b]);
      expect(gb).toBeNull();
      return ga!;
    });
    expect(values(f() as HostTensor)).toEqual([1]);
    a.dispose();
    b.dispose();
  });

  it("errors: a second gradient call on a non-persistent tape, a tape outside a trace, all-null gradients, zip of unequal lengths", () => {
    expect(() => new GradientTape()).toThrow(/inside a traced function/);
    const w = v([1], "tape.err.w");
    const twice = fn(() => {
      const tape = new GradientTape();
      const y = read(w).mul(w).sum();
      tape.gradient(y, w);
      return tape.gradient(y, w)!;
    });
    expect(() => twice()).toThrow(/can only be called once on non-persistent tapes/);
    const opt = new SGD({ lr: 0.1 });
    const none = fn((x: SymbolicTensor) => {
      const tape = new GradientTape();
      const y = x.sum();
      opt.applyGradients(zip([tape.gradient(y, w)], [w]));
      return y;
    });
    expect(() => none(tensor([1]))).toThrow(DualgradError);
    expect(() => none(tensor([1]))).toThrow(/no gradients provided for any variable \(tape\.err\.w\)/);
    expect(() => zip([1, 2], [1])).toThrow(/different lengths \(2 and 1\)/);
    opt.dispose();
    w.dispose();
  });

  it("applyGradients skips a null gradient with a warning naming the variable", () => {
    const used = v([1], "tape.skip.used");
    const idle = v([5], "tape.skip.idle");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const opt = new SGD({ lr: 0.5 });
    const step = fn(() => {
      const tape = new GradientTape();
      const y = read(used).mul(used).sum(); // gradient 2 used = 2
      const vars = [used, idle];
      opt.applyGradients(zip(tape.gradient(y, vars), vars));
      return y;
    });
    step();
    expect(used.data[0]).toBe(0); // 1 - 0.5 * 2
    expect(idle.data[0]).toBe(5);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/gradients do not exist for variables \[tape\.skip\.idle\]/));
    step.dispose();
    opt.dispose();
    used.dispose();
    idle.dispose();
  });

  it("model.apply checks its input; trainableVariables lists weight then bias per layer", () => {
    const model = sequential([layers.dense({ units: 3, inputShape: [2] }), layers.dense({ units: 1 })], { seed: 0 });
    expect(model.trainableVariables.map((x) => x.shape)).toEqual([[3, 2], [3], [1, 3], [1]]);
    const f = fn((x: SymbolicTensor) => model.apply(x));
    expect(() => f(tensor([[1, 2, 3]]))).toThrow(/expects input \[batch, 2\], got \[1,3\]/);
    expect(() => model.apply(tensor([[1, 2]]) as never)).toThrow(/takes a symbolic tensor inside fn\(\)\/jit\(\); for concrete data use predict/);
    model.dispose();
  });
});

