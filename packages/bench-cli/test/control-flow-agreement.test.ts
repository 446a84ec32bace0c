import { afterEach, describe, expect, it } from "vitest";
import { PhiloxGenerator, type DType } from "@dualgrad/core";
import * as E from "@dualgrad/eager";
import * as G from "@dualgrad/graph";
import { useLeakCheck } from "./conformance/leak-hook.js";

/**
 * Graph control flow (`scan`, `cond`) against the eager frontend running the same program with
 * native JavaScript control flow (a for-loop over slices, an `if` on `.item()`). The op order is
 * the same, so values and gradients must be the same bits.
 */

useLeakCheck();

const made: G.GraphFunction<unknown>[] = [];
const jit = (f: Parameters<typeof G.fn>[0], disable: G.StageSwitch[] = []) => {
  const g = G.fn(f, { disable });
  made.push(g as G.GraphFunction<unknown>);
  return g;
};
afterEach(() => made.splice(0).forEach((f) => f.dispose()));

const T = 5;
const H = 3;

function data(seed: number, n: number, dtype: DType): Float32Array | Float64Array {
  const out = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
  new PhiloxGenerator(seed).fillUniform(out, -1, 1);
  return out;
}

const bits = (a: ArrayLike<number>) => Array.from(a, (x) => (Number.isNaN(x) ? "NaN" : Object.is(x, -0) ? "-0" : String(x)));

describe("scan agrees with an eager for-loop bit for bit", () => {
  for (const dtype of ["float32", "float64"] as DType[]) {
    for (const fuse of [true, false]) {
      it(`an RNN h = tanh(h W + x_t) and the loss sum(h) + sum(ys^2), ${dtype}, fusion ${fuse ? "on" : "off"}: value and gradients`, () => {
        const xs = data(1, T * H, dtype);
        const w = data(2, H * H, dtype);
        const h0 = data(3, H, dtype);
        // Eager: a native loop over slices, keeping each step's h for the loss.
        const ex = E.tensor(xs, { shape: [T, H], dtype, requiresGrad: true });
        const ew = E.tensor(w, { shape: [H, H], dtype, requiresGrad: true });
        const eh0 = E.tensor(h0, { shape: [H], dtype, requiresGrad: true });
        const eager = E.tidy(() => {
          let h = eh0;
          let squares: E.Tensor | null = null;
          for (let t = 0; t < T; t++) {
            h = h.matmul(ew).add(ex.slice([t, 0], [t + 1, H]).reshape([H])).tanh();
            const s = h.square().sum();
            squares = squares ? squares.add(s) : s;
          }
          const loss = h.sum().add(squares!);
          loss.backward();
          return { loss: loss.data.slice(), gx: ex.grad!.data.slice(), gw: ew.grad!.data.slice(), gh: eh0.grad!.data.slice() };
        });
        [ex, ew, eh0].forEach((t) => t.dispose());
        // Graph: scan, the same ops per step; ys reduced after the loop in the same order.
        const f = jit((x: G.SymbolicTensor, wt: G.SymbolicTensor, h: G.SymbolicTensor) => {
          const [hT, ys] = G.scan((c, xt) => {
            const n = c.matmul(wt).add(xt).tanh();
            return [n, n.square().sum()];
          }, h, x);
          let squares = ys.slice([0], [1]).reshape([]);
          for (let t = 1; t < T; t++) squares = squares.add(ys.slice([t], [t + 1]).reshape([]));
          const loss = hT.sum().add(squares);
          return [loss, ...G.gradients(loss, [x, wt, h])];
        }, fuse ? [] : ["fuse"]);
        const [loss, gx, gw, gh] = f(G.tensor(xs, [T, H], dtype), G.tensor(w, [H, H], dtype), G.tensor(h0, [H], dtype)) as G.HostTensor[];
        expect(bits(loss.data)).toEqual(bits(eager.loss));
        expect(bits(gx.data)).toEqual(bits(eager.gx));
        expect(bits(gw.data)).toEqual(bits(eager.gw));
        expect(bits(gh.data)).toEqual(bits(eager.gh));
      });
    }
  }
});

describe("cond agrees with an eager if bit for bit", () => {
  for (const sign of [1, -1]) {
    it(`takes the ${sign > 0 ? "true" : "false"} branch: value and gradients (float64)`, () => {
      const x = data(4, 4, "float64").map((v) => Math.abs(v) * sign);
      const y = data(5, 4, "float64");
      const ex = E.tensor(x, { shape: [4], dtype: "float64", requiresGrad: true });
      const ey = E.tensor(y, { shape: [4], dtype: "float64", requiresGrad: true });
      const eager = E.tidy(() => {
        const out = ex.sum().item() > 0 ? ex.mul(ey).tanh().sum() : ex.sub(ey).exp().mean();
        out.backward();
        return { out: out.data.slice(), gx: ex.grad!.data.slice(), gy: ey.grad!.data.slice() };
      });
      [ex, ey].forEach((t) => t.dispose());
      const f = jit((a: G.SymbolicTensor, b: G.SymbolicTensor) => {
        const out = G.cond(a.sum().gt(0), (p, q) => p.mul(q).tanh().sum(), (p, q) => p.sub(q).exp().mean(), a, b);
        return [out, ...G.gradients(out, [a, b])];
      });
      const [out, gx, gy] = f(G.tensor(x, [4], "float64"), G.tensor(y, [4], "float64")) as G.HostTensor[];
      expect(bits(out.data)).toEqual(bits(eager.out));
      expect(bits(gx.data)).toEqual(bits(eager.gx));
      expect(bits(gy.data)).toEqual(bits(eager.gy));
    });
  }
});

describe("reverse scan and foriLoop agree with eager loops bit for bit", () => {
  it("a reverse scan with a cond in its body vs a backwards for-loop with an if (float32): value and gradients", () => {
    const xs = data(6, T * H, "float32");
    const w = data(7, H, "float32");
    const ex = E.tensor(xs, { shape: [T, H], requiresGrad: true });
    const ew = E.tensor(w, { shape: [H], requiresGrad: true });
    const eager = E.tidy(() => {
      let h = ew.mul(0);
      for (let t = T - 1; t >= 0; t--) {
        const x = ex.slice([t, 0], [t + 1, H]).reshape([H]);
        h = x.sum().item() > 0 ? h.mul(ew).add(x).tanh() : h.sub(x).sigmoid();
      }
      const loss = h.square().sum();
      loss.backward();
      return { loss: loss.data.slice(), gx: ex.grad!.data.slice(), gw: ew.grad!.data.slice() };
    });
    [ex, ew].forEach((t) => t.dispose());
    const f = jit((x: G.SymbolicTensor, wt: G.SymbolicTensor) => {
      const [h] = G.scan((c, xt) => [G.cond(xt.sum().gt(0), (cc, xx) => cc.mul(wt).add(xx).tanh(), (cc, xx) => cc.sub(xx).sigmoid(), c, xt), null], wt.mul(0), x, { reverse: true });
      const loss = h.square().sum();
      return [loss, ...G.gradients(loss, [x, wt])];
    });
    const [loss, gx, gw] = f(G.tensor(xs, [T, H]), G.tensor(w, [H])) as G.HostTensor[];
    expect(bits(loss.data)).toEqual(bits(eager.loss));
    expect(bits(gx.data)).toEqual(bits(eager.gx));
    expect(bits(gw.data)).toEqual(bits(eager.gw));
  });

  it("foriLoop with number bounds vs a for-loop (float64): value and gradient", () => {
    const ex = E.tensor([0.9], { shape: [], dtype: "float64", requiresGrad: true });
    const eager = E.tidy(() => {
      let c = ex;
      for (let i = 2; i < 6; i++) c = c.mul(ex).add(i).tanh();
      c.backward();
      return { out: c.data.slice(), g: ex.grad!.data.slice() };
    });
    ex.dispose();
    const f = jit((x: G.SymbolicTensor) => {
      const c = G.foriLoop(2, 6, (i, c) => c.mul(x).add(i.to("float64")).tanh(), x);
      return [c, ...G.gradients(c, [x])];
    });
    const [out, g] = f(G.tensor(new Float64Array([0.9]), [], "float64")) as G.HostTensor[];
    expect(bits(out.data)).toEqual(bits(eager.out));
    expect(bits(g.data)).toEqual(bits(eager.g));
  });
});
