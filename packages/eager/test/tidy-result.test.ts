import { describe, expect, it } from "vitest";
import { memory, nn, tensor, tidy, type Tensor } from "../src/index.js";

/**
 * `tidy` keeps every tensor reachable from its result, whatever holds it: arrays, plain objects,
 * Maps, Sets, class instances, at any depth and through cycles. Anything else it made is freed.
 */
describe("tidy keeps what its result reaches", () => {
  /** Runs `make` in a tidy with one temporary; checks the temporary went and `kept` survived. */
  function keeps<R>(make: (kept: () => Tensor) => R, kept: (r: R) => Tensor[]): void {
    const before = memory().liveBytes;
    const r = tidy(() => {
      tensor([0, 0, 0]); // a temporary, freed by the tidy
      return make(() => tensor([1, 2]));
    });
    const ts = kept(r);
    for (const t of ts) expect(Array.from(t.data)).toEqual([1, 2]);
    expect(memory().liveBytes).toBe(before + 8 * ts.length);
    for (const t of ts) t.dispose();
  }

  it("in a Map, as a value and as a key", () => {
    keeps((mk) => new Map<unknown, unknown>([["a", mk()], [mk(), "b"]]), (m) => [...m].flat().filter((x): x is Tensor => typeof x === "object"));
  });

  it("in a Set", () => {
    keeps((mk) => new Set([mk()]), (s) => [...s]);
  });

  it("in a class instance's own fields", () => {
    class Pair {
      constructor(readonly first: Tensor, readonly label: string) {}
    }
    keeps((mk) => new Pair(mk(), "x"), (p) => [p.first]);
  });

  it("nested 50 levels deep (the old walk stopped at 8)", () => {
    type Deep = { next?: Deep; t?: Tensor }[];
    keeps(
      (mk) => {
        const root: Deep = [{}];
        let at = root;
        for (let i = 0; i < 50; i++) at = at[0].next = [{}];
        at[0].t = mk();
        return root;
      },
      (root) => {
        let at = root;
        while (at[0].next) at = at[0].next;
        return [at[0].t!];
      },
    );
  });

  it("through a cycle", () => {
    keeps(
      (mk) => {
        const a: { self?: unknown; t: Tensor } = { t: mk() };
        a.self = a;
        return a;
      },
      (a) => [a.t],
    );
  });

  it("a module's state dict (a Map) returned from tidy", () => {
    const before = memory().liveBytes;
    const model = new nn.Linear(2, 2);
    const copies = tidy(() => new Map([...model.stateDict()].map(([k, v]) => [k, v.mul(1)])));
    expect([...copies.keys()]).toEqual(["weight", "bias"]);
    for (const t of copies.values()) expect(t.isDisposed).toBe(false);
    for (const t of copies.values()) t.dispose();
    model.dispose();
    expect(memory().liveBytes).toBe(before);
  });

  it("typed arrays in the result are skipped, not walked element by element", () => {
    keeps((mk) => ({ t: mk(), big: new Float32Array(1 << 20) }), (r) => [r.t]);
  });

  it("a WeakMap, WeakSet, WeakRef or nested Promise is an error, and the scope is still freed", () => {
    const before = memory().liveBytes;
    const opaque: [string, (t: Tensor) => unknown][] = [
      ["a WeakMap", (t) => new WeakMap([[t, 1]])],
      ["a WeakSet", (t) => new WeakSet([t])],
      ["a WeakRef", (t) => new WeakRef(t)],
      ["a Promise", (t) => [Promise.resolve(t)]],
    ];
    for (const [what, wrap] of opaque) {
      expect(() => tidy(() => ({ inner: wrap(tensor([1])) }))).toThrow(`tidy: the result holds ${what}, whose contents cannot be enumerated`);
      expect(memory().liveBytes).toBe(before);
    }
    expect(() => tidy(() => Promise.resolve(1))).toThrow("tidy: fn must be synchronous (it returned a Promise)");
  });
});
