import { afterEach, describe, expect, it } from "vitest";
import { mulberry32 } from "../../core/test/helpers.js";
import {
  allocator, execute, releaseValue, valueFrom, type Attrs, type DType, type Prim, type Shape, type Value,
} from "@dualgrad/core";
import { GraphBuilder } from "../src/builder.js";
import { cloneGraph, isPrimNode, printGraph, type Graph } from "../src/ir.js";
import { Variable } from "../src/variable.js";
import { constantFolding } from "../src/passes/constant-folding.js";
import { commonSubexpressionElimination } from "../src/passes/cse.js";
import { deadCodeElimination } from "../src/passes/dce.js";
import { describePass, optimize, PASSES, PASS_ORDER, type PassName } from "../src/passes/pipeline.js";
import { algebraicSimplification } from "../src/passes/simplify.js";
import { matmulTransposeFlags } from "../src/passes/transpose-flags.js";

// ------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------

/** Builds a graph by hand; `fn` returns the output ids. */
function build(fn: (b: GraphBuilder) => number[]): Graph {
  const b = new GraphBuilder();
  b.graph.outputs.push(...fn(b));
  return b.graph;
}

/** Runs a pass and checks that it left its argument untouched (passes are pure). */
function apply(pass: (g: Graph) => Graph, g: Graph): Graph {
  // structuredClone rather than cloneGraph: cloneGraph goes through JSON, which turns a -0 or
  // NaN constant into 0 or null, and the check must see every bit.
  const before = structuredClone(g);
  const json = JSON.stringify(cloneGraph(g));
  const after = pass(g);
  expect(g).toEqual(before);
  expect(JSON.stringify(g)).toBe(json);
  return after;
}

/** `printGraph(pass(g))`, checking purity on the way. */
const after = (pass: (g: Graph) => Graph, g: Graph) => printGraph(apply(pass, g));

const f32 = "float32";

// Released after each test, so the shared leak check sees every test end where it started.
const variables: Variable[] = [];
afterEach(() => {
  for (const v of variables.splice(0)) v.dispose();
});

// ------------------------------------------------------------------------------------------------
// A tiny reference interpreter: one core `execute` per node, every temporary released.
// ------------------------------------------------------------------------------------------------

const rng = mulberry32;

/** Data for an input or variable: values in ±[0.25, 1.25), never 0, fixed by the seed and the name. */
function seededData(name: string, size: number, seed: number): number[] {
  let h = seed;
  for (const c of name) h = (Math.imul(h, 31) + c.charCodeAt(0)) | 0;
  const r = rng(h);
  return Array.from({ length: size }, () => (r() < 0.5 ? -1 : 1) * (0.25 + r()));
}

interface Result {
  dtype: DType;
  shape: number[];
  data: number[];
  bytes: number[];
}

/** Evaluates `g`'s outputs and update values on seeded inputs and variables. */
function interpret(g: Graph, seed = 1): Result[] {
  const values: Value[] = [];
  try {
    for (const n of g.nodes) {
      const size = n.shape.reduce((a, d) => a * d, 1);
      if (n.op === "input" || n.op === "variable") values.push(valueFrom(n.dtype, n.shape, seededData(n.name!, size, seed)));
      else if (n.op === "constant") values.push(valueFrom(n.dtype, n.shape, n.value!));
      else if (n.op === "fused") throw new Error("the reference interpreter does not run fused nodes");
      else values.push(execute(n.op as Prim, n.inputs.map((i) => values[i]), n.attrs as unknown as Attrs[Prim]));
    }
    return [...g.outputs, ...g.updates.map((u) => u.value)].map((id) => {
      const v = values[id];
      const bytes = new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
      return { dtype: v.dtype, shape: [...v.shape], data: Array.from(v.data), bytes: Array.from(bytes) };
    });
  } finally {
    for (const v of values) releaseValue(v);
  }
}

/** Same results bit for bit. */
function expectBitwiseEqual(a: Result[], b: Result[]): void {
  expect(b.map((r) => [r.dtype, r.shape])).toEqual(a.map((r) => [r.dtype, r.shape]));
  b.forEach((r, i) => expect(r.bytes).toEqual(a[i].bytes));
}

/** Same results bit for bit, except that a zero may change sign (simplify's documented `x + 0` caveat). */
function expectBitwiseUpToZeroSign(a: Result[], b: Result[]): void {
  const canon = (rs: Result[]) => rs.map((r) => ({ ...r, bytes: [], data: r.data.map((x) => (x === 0 ? 0 : x)) }));
  expect(canon(b)).toEqual(canon(a)); // toEqual compares numbers exactly (Object.is)
}

// ------------------------------------------------------------------------------------------------
// DCE
// ------------------------------------------------------------------------------------------------

describe("deadCodeElimination", () => {
  it("removes nodes no output reads, keeps unused inputs", () => {
    const g = build((b) => {
      const x = b.input("x", [2, 3], f32);
      b.input("unused", [4], f32);
      const e = b.emit("exp", [x], {});
      b.emit("neg", [e], {}); // dead
      b.emit("tanh", [b.emit("log", [x], {})], {}); // dead chain
      return [b.emit("relu", [e], {})];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,3] b:f32[4] .
        let c:f32[2,3] = exp a
            d:f32[2,3] = neg c
            e:f32[2,3] = log a
            f:f32[2,3] = tanh e
            g:f32[2,3] = relu c
        in (g) }"
    `);
    expect(after(deadCodeElimination, g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,3] b:f32[4] .
        let c:f32[2,3] = exp a
            d:f32[2,3] = relu c
        in (d) }"
    `);
  });

  it("keeps update values and assigned variables, and a value an output reads", () => {
    const w = new Variable([3], f32, { name: "dce_w" });
    variables.push(w);
    const b = new GraphBuilder();
    const x = b.input("x", [3], f32);
    const wid = b.variable(w);
    const s = b.emit("add", [x, wid], {});
    b.emit("mul", [s, s], {}); // dead
    b.graph.outputs.push(s);
    b.assign(w, b.emit("neg", [x], {}));
    const g = b.graph;
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[3] ; b:f32[3](dce_w) .
        let c:f32[3] = add a b
            d:f32[3] = mul c c
            e:f32[3] = neg a
        in (c) ; dce_w := e }"
    `);
    expect(after(deadCodeElimination, g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[3] ; b:f32[3](dce_w) .
        let c:f32[3] = add a b
            d:f32[3] = neg a
        in (c) ; dce_w := d }"
    `);
  });

  it("keeps a variable node that is only assigned", () => {
    const w = new Variable([2], f32, { name: "dce_only_assigned" });
    variables.push(w);
    const b = new GraphBuilder();
    const x = b.input("x", [2], f32);
    b.assign(w, b.emit("neg", [x], {}));
    expect(after(deadCodeElimination, b.graph)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2] ; c:f32[2](dce_only_assigned) .
        let b:f32[2] = neg a
        in () ; dce_only_assigned := b }"
    `);
  });
});

// ------------------------------------------------------------------------------------------------
// CSE
// ------------------------------------------------------------------------------------------------

describe("commonSubexpressionElimination", () => {
  it("merges equal ops on equal inputs, transitively", () => {
    const g = build((b) => {
      const x = b.input("x", [2, 2], f32);
      const e1 = b.emit("exp", [x], {});
      const e2 = b.emit("exp", [x], {});
      const s1 = b.emit("add", [e1, x], {});
      const s2 = b.emit("add", [e2, x], {}); // same as s1 once e2 is e1
      return [b.emit("mul", [s1, s2], {}), s2];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,2] .
        let b:f32[2,2] = exp a
            c:f32[2,2] = exp a
            d:f32[2,2] = add b a
            e:f32[2,2] = add c a
            f:f32[2,2] = mul d e
        in (f, e) }"
    `);
    expect(after(commonSubexpressionElimination, g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,2] .
        let b:f32[2,2] = exp a
            c:f32[2,2] = add b a
            d:f32[2,2] = mul c c
        in (d, c) }"
    `);
  });

  it("merges equal constants but not -0 and 0, nor different dtypes or shapes", () => {
    const g = build((b) => {
      const x = b.input("x", [2], f32);
      const c1 = b.constant(2, f32);
      const c2 = b.constant(2, f32);
      const z = b.constant(0, f32);
      const nz = b.constant(-0, f32);
      const v1 = b.constantArray([2, 2], [2], f32);
      const d = b.constant(2, "float64");
      const a = b.emit("add", [b.emit("mul", [x, c1], {}), b.emit("mul", [x, c2], {})], {});
      const m = b.emit("add", [b.emit("add", [a, z], {}), b.emit("add", [a, nz], {})], {});
      return [m, b.emit("mul", [x, v1], {}), b.emit("cast", [d], { dtype: f32 })];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2] .
        let b:f32[] = 2
            c:f32[] = 2
            d:f32[] = 0
            e:f32[] = 0
            f:f32[2] = [2,2]
            g:f64[] = 2
            h:f32[2] = mul a b
            i:f32[2] = mul a c
            j:f32[2] = add h i
            k:f32[2] = add j d
            l:f32[2] = add j e
            m:f32[2] = add k l
            n:f32[2] = mul a f
            o:f32[] = cast[dtype=float32] g
        in (m, n, o) }"
    `);
    const out = apply(commonSubexpressionElimination, g);
    expect(printGraph(out)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2] .
        let b:f32[] = 2
            c:f32[] = 0
            d:f32[] = 0
            e:f32[2] = [2,2]
            f:f64[] = 2
            g:f32[2] = mul a b
            h:f32[2] = add g g
            i:f32[2] = add h c
            j:f32[2] = add h d
            k:f32[2] = add i j
            l:f32[2] = mul a e
            m:f32[] = cast[dtype=float32] f
        in (k, l, m) }"
    `);
    expect(out.nodes.filter((n) => n.op === "constant").map((n) => Object.is(n.value![0], -0))).toContain(true);
  });

  it("never merges inputs, and distinguishes attributes", () => {
    const g = build((b) => {
      const x = b.input("x", [2, 3, 4], f32);
      const y = b.input("y", [2, 3, 4], f32);
      const t1 = b.emit("transpose", [x], { perm: [0, 2, 1] });
      const t2 = b.emit("transpose", [x], { perm: [1, 0, 2] });
      const s1 = b.emit("sum", [x], { axes: [1], keepdims: false });
      const s2 = b.emit("sum", [x], { keepdims: false, axes: [1] } as Attrs["sum"]); // same attrs, other key order
      return [b.emit("neg", [x], {}), b.emit("neg", [y], {}), t1, t2, s1, s2];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,3,4] b:f32[2,3,4] .
        let c:f32[2,4,3] = transpose[perm=(0,2,1)] a
            d:f32[3,2,4] = transpose[perm=(1,0,2)] a
            e:f32[2,4] = sum[axes=(1),keepdims=false] a
            f:f32[2,4] = sum[keepdims=false,axes=(1)] a
            g:f32[2,3,4] = neg a
            h:f32[2,3,4] = neg b
        in (g, h, c, d, e, f) }"
    `);
    expect(after(commonSubexpressionElimination, g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,3,4] b:f32[2,3,4] .
        let c:f32[2,4,3] = transpose[perm=(0,2,1)] a
            d:f32[3,2,4] = transpose[perm=(1,0,2)] a
            e:f32[2,4] = sum[axes=(1),keepdims=false] a
            f:f32[2,3,4] = neg a
            g:f32[2,3,4] = neg b
        in (f, g, c, d, e, e) }"
    `);
  });
});

// ------------------------------------------------------------------------------------------------
// Constant folding
// ------------------------------------------------------------------------------------------------

describe("constantFolding", () => {
  it("folds chains of constant ops and drops the operands", () => {
    const g = build((b) => {
      const x = b.input("x", [3], f32);
      const two = b.constant(2, f32);
      const three = b.constant(3, f32);
      const six = b.emit("mul", [two, three], {});
      const v = b.emit("add", [b.constantArray([1, 2, 3], [3], f32), six], {});
      return [b.emit("mul", [x, v], {}), b.emit("neg", [six], {})];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[3] .
        let b:f32[] = 2
            c:f32[] = 3
            d:f32[] = mul b c
            e:f32[3] = [1,2,3]
            f:f32[3] = add e d
            g:f32[3] = mul a f
            h:f32[] = neg d
        in (g, h) }"
    `);
    expect(after(constantFolding, g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[3] .
        let b:f32[3] = [7,8,9]
            c:f32[3] = mul a b
            d:f32[] = -6
        in (c, d) }"
    `);
  });

  it("stores exact float32 results and leaves the memory tracker where it was", () => {
    const g = build((b) => [b.emit("div", [b.constant(1, f32), b.constant(3, f32)], {}), b.emit("sqrt", [b.constant(2, "float64")], {})]);
    const before = allocator.stats();
    const out = apply(constantFolding, g);
    const stats = allocator.stats();
    expect(stats.liveBytes).toBe(before.liveBytes);
    expect(stats.liveBuffers).toBe(before.liveBuffers);
    expect(out.nodes.map((n) => n.value)).toEqual([[Math.fround(1 / 3)], [Math.SQRT2]]);
    expect(printGraph(out)).toMatchInlineSnapshot(`
      "{ lambda  .
        let a:f32[] = 0.3333333432674408
            b:f64[] = 1.4142135623730951
        in (a, b) }"
    `);
  });

  it("skips results above maxElements and ops reading non-constants", () => {
    const g = build((b) => {
      const x = b.input("x", [2], f32);
      const big = b.emit("broadcast_to", [b.constant(1, f32)], { shape: [8, 8] });
      const small = b.emit("broadcast_to", [b.constant(1, f32)], { shape: [2] });
      return [big, b.emit("add", [x, small], {})];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2] .
        let b:f32[] = 1
            c:f32[8,8] = broadcast_to[shape=(8,8)] b
            d:f32[] = 1
            e:f32[2] = broadcast_to[shape=(2)] d
            f:f32[2] = add a e
        in (c, f) }"
    `);
    expect(after((h) => constantFolding(h, { maxElements: 16 }), g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2] .
        let b:f32[] = 1
            c:f32[8,8] = broadcast_to[shape=(8,8)] b
            d:f32[2] = [1,1]
            e:f32[2] = add a d
        in (c, e) }"
    `);
    expect(after(constantFolding, g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2] .
        let b:f32[8,8] = [1,1,1,…]
            c:f32[2] = [1,1]
            d:f32[2] = add a c
        in (b, d) }"
    `);
  });

  it("leaves a node whose kernel throws for run time, releasing the temporaries", () => {
    const g = build((b) => [b.emit("one_hot", [b.constantArray([0, 7], [2], "int32")], { depth: 3, dtype: f32 })]);
    const before = allocator.stats();
    expect(after(constantFolding, g)).toBe(printGraph(g));
    expect(allocator.stats().liveBytes).toBe(before.liveBytes);
  });

  it("folds facts known from shapes alone: empty results, argmax over a length-1 axis", () => {
    const g = build((b) => {
      const x = b.input("x", [3, 1], f32);
      const e = b.input("e", [0, 2], f32);
      return [
        b.emit("argmax", [x], { axis: 1, keepdims: false }),
        b.emit("argmax", [x], { axis: 0, keepdims: false }), // not known
        b.emit("exp", [e], {}),
      ];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[3,1] b:f32[0,2] .
        let c:i32[3] = argmax[axis=1,keepdims=false] a
            d:i32[1] = argmax[axis=0,keepdims=false] a
            e:f32[0,2] = exp b
        in (c, d, e) }"
    `);
    const out = apply(constantFolding, g);
    expect(printGraph(out)).toMatchInlineSnapshot(`
      "{ lambda a:f32[3,1] b:f32[0,2] .
        let c:i32[3] = [0,0,0]
            d:i32[1] = argmax[axis=0,keepdims=false] a
            e:f32[0,2] = []
        in (c, d, e) }"
    `);
    expectBitwiseEqual(interpret(g), interpret(out));
  });
});

// ------------------------------------------------------------------------------------------------
// Algebraic simplification
// ------------------------------------------------------------------------------------------------

describe("algebraicSimplification", () => {
  it("removes x*1, 1*x, x+0, 0+x, x-0, x/1 with splat constants", () => {
    const g = build((b) => {
      const x = b.input("x", [2, 3], f32);
      const one = b.constant(1, f32);
      const zero = b.constant(0, f32);
      const ones = b.constantArray([1, 1, 1], [3], f32); // splat, broadcast to x's shape
      const a = b.emit("mul", [x, one], {});
      const c = b.emit("mul", [one, a], {});
      const d = b.emit("add", [c, zero], {});
      const e = b.emit("add", [zero, d], {});
      const f = b.emit("sub", [e, zero], {});
      const h = b.emit("div", [f, ones], {});
      return [b.emit("exp", [h], {})];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,3] .
        let b:f32[] = 1
            c:f32[] = 0
            d:f32[3] = [1,1,1]
            e:f32[2,3] = mul a b
            f:f32[2,3] = mul b e
            g:f32[2,3] = add f c
            h:f32[2,3] = add c g
            i:f32[2,3] = sub h c
            j:f32[2,3] = div i d
            k:f32[2,3] = exp j
        in (k) }"
    `);
    expect(after(algebraicSimplification, g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,3] .
        let b:f32[2,3] = exp a
        in (b) }"
    `);
  });

  it("keeps identities that broadcast x, non-splat constants, 0-x and 1/x", () => {
    const g = build((b) => {
      const x = b.input("x", [3], f32);
      const ones = b.constantArray([1, 1, 1, 1, 1, 1], [2, 3], f32);
      const mixed = b.constantArray([1, 2, 1], [3], f32);
      const zero = b.constant(0, f32);
      const one = b.constant(1, f32);
      return [
        b.emit("mul", [x, ones], {}), // result [2,3] != x's [3]
        b.emit("mul", [x, mixed], {}),
        b.emit("sub", [zero, x], {}),
        b.emit("div", [one, x], {}),
      ];
    });
    expect(after(algebraicSimplification, g)).toBe(printGraph(g));
  });

  it("neg(neg x) -> x, pow(x, 1) -> x, even through longer chains", () => {
    const g = build((b) => {
      const x = b.input("x", [4], f32);
      const n1 = b.emit("neg", [x], {});
      const n2 = b.emit("neg", [n1], {});
      const n3 = b.emit("neg", [n2], {});
      const n4 = b.emit("neg", [n3], {});
      const p = b.emit("pow", [n4], { exponent: 1 });
      return [b.emit("pow", [p], { exponent: 2 }), n3];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[4] .
        let b:f32[4] = neg a
            c:f32[4] = neg b
            d:f32[4] = neg c
            e:f32[4] = neg d
            f:f32[4] = pow[exponent=1] e
            g:f32[4] = pow[exponent=2] f
        in (g, d) }"
    `);
    expect(after(algebraicSimplification, g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[4] .
        let b:f32[4] = neg a
            c:f32[4] = pow[exponent=2] a
        in (c, b) }"
    `);
  });

  it("composes transposes, removes identity ones", () => {
    const g = build((b) => {
      const x = b.input("x", [2, 3, 4], f32);
      const t1 = b.emit("transpose", [x], { perm: [1, 2, 0] }); // [3,4,2]
      const t2 = b.emit("transpose", [t1], { perm: [0, 2, 1] }); // [3,2,4]
      const back = b.emit("transpose", [b.emit("transpose", [x], { perm: [2, 0, 1] })], { perm: [1, 2, 0] });
      const id = b.emit("transpose", [x], { perm: [0, 1, 2] });
      return [t2, b.emit("add", [back, id], {})];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,3,4] .
        let b:f32[3,4,2] = transpose[perm=(1,2,0)] a
            c:f32[3,2,4] = transpose[perm=(0,2,1)] b
            d:f32[4,2,3] = transpose[perm=(2,0,1)] a
            e:f32[2,3,4] = transpose[perm=(1,2,0)] d
            f:f32[2,3,4] = transpose[perm=(0,1,2)] a
            g:f32[2,3,4] = add e f
        in (c, g) }"
    `);
    const out = apply(algebraicSimplification, g);
    expect(printGraph(out)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,3,4] .
        let b:f32[3,2,4] = transpose[perm=(1,0,2)] a
            c:f32[2,3,4] = add a a
        in (b, c) }"
    `);
    expectBitwiseEqual(interpret(g), interpret(out));
  });

  it("collapses reshape chains and removes no-op reshape, broadcast_to and cast", () => {
    const g = build((b) => {
      const x = b.input("x", [2, 6], f32);
      const r1 = b.emit("reshape", [x], { shape: [3, 4] });
      const r2 = b.emit("reshape", [r1], { shape: [12, -1] });
      const r3 = b.emit("reshape", [r2], { shape: [4, 3] });
      const same = b.emit("reshape", [x], { shape: [2, -1] });
      const bc = b.emit("broadcast_to", [same], { shape: [2, 6] });
      const cs = b.emit("cast", [bc], { dtype: f32 });
      const up = b.emit("cast", [x], { dtype: "float64" }); // real cast stays
      return [r3, cs, up, b.emit("reshape", [r1], { shape: [2, 6] })];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,6] .
        let b:f32[3,4] = reshape[shape=(3,4)] a
            c:f32[12,1] = reshape[shape=(12,-1)] b
            d:f32[4,3] = reshape[shape=(4,3)] c
            e:f32[2,6] = reshape[shape=(2,-1)] a
            f:f32[2,6] = broadcast_to[shape=(2,6)] e
            g:f32[2,6] = cast[dtype=float32] f
            h:f64[2,6] = cast[dtype=float64] a
            i:f32[2,6] = reshape[shape=(2,6)] b
        in (d, g, h, i) }"
    `);
    expect(after(algebraicSimplification, g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2,6] .
        let b:f32[4,3] = reshape[shape=(4,3)] a
            c:f64[2,6] = cast[dtype=float64] a
        in (b, a, c, a) }"
    `);
  });

  it("turns sum/mean over length-1 axes into reshapes (keepdims-aware)", () => {
    const g = build((b) => {
      const x = b.input("x", [3, 1, 4, 1], f32);
      return [
        b.emit("sum", [x], { axes: [1, 3], keepdims: false }), // -> reshape [3,4]
        b.emit("sum", [x], { axes: [-1], keepdims: true }), // -> x itself
        b.emit("mean", [x], { axes: [1], keepdims: false }), // -> reshape [3,4,1]
        b.emit("sum", [x], { axes: [0, 1], keepdims: false }), // axis 0 has length 3: stays
        b.emit("sum", [b.input("s", [1, 1], f32)], { axes: null, keepdims: false }), // -> reshape []
      ];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[3,1,4,1] f:f32[1,1] .
        let b:f32[3,4] = sum[axes=(1,3),keepdims=false] a
            c:f32[3,1,4,1] = sum[axes=(-1),keepdims=true] a
            d:f32[3,4,1] = mean[axes=(1),keepdims=false] a
            e:f32[4,1] = sum[axes=(0,1),keepdims=false] a
            g:f32[] = sum[axes=None,keepdims=false] f
        in (b, c, d, e, g) }"
    `);
    const out = apply(algebraicSimplification, g);
    expect(printGraph(out)).toMatchInlineSnapshot(`
      "{ lambda a:f32[3,1,4,1] e:f32[1,1] .
        let b:f32[3,4] = reshape[shape=(3,4)] a
            c:f32[3,4,1] = reshape[shape=(3,4,1)] a
            d:f32[4,1] = sum[axes=(0,1),keepdims=false] a
            f:f32[] = reshape[shape=()] e
        in (b, a, c, d, f) }"
    `);
    expectBitwiseEqual(interpret(g), interpret(out));
  });

  it("keeps outputs and updates pointing at the right values, also at inputs and variables", () => {
    const w = new Variable([2], f32, { name: "simplify_w" });
    variables.push(w);
    const b = new GraphBuilder();
    const x = b.input("x", [2], f32);
    const wid = b.variable(w);
    const n1 = b.emit("neg", [x], {});
    const n2 = b.emit("neg", [n1], {});
    const wm = b.emit("mul", [wid, b.constant(1, f32)], {});
    b.graph.outputs.push(n2, n1, wm);
    b.assign(w, b.emit("add", [n2, b.constant(0, f32)], {}));
    const g = b.graph;
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2] ; b:f32[2](simplify_w) .
        let c:f32[2] = neg a
            d:f32[2] = neg c
            e:f32[] = 1
            f:f32[2] = mul b e
            g:f32[] = 0
            h:f32[2] = add d g
        in (d, c, f) ; simplify_w := h }"
    `);
    expect(after(algebraicSimplification, g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[2] ; b:f32[2](simplify_w) .
        let c:f32[2] = neg a
        in (a, c, b) ; simplify_w := a }"
    `);
  });
});

// ------------------------------------------------------------------------------------------------
// Transpose flags
// ------------------------------------------------------------------------------------------------

describe("matmulTransposeFlags", () => {
  it("folds last-two-axes transposes into transA/transB and drops them", () => {
    const g = build((b) => {
      const a = b.input("a", [3, 2], f32);
      const w = b.input("w", [4, 3], f32);
      const at = b.emit("transpose", [a], { perm: [1, 0] }); // [2,3]
      const wt = b.emit("transpose", [w], { perm: [1, 0] }); // [3,4]
      const m1 = b.emit("matmul", [at, wt], { transA: false, transB: false }); // [2,4]
      const m2 = b.emit("matmul", [a, wt], { transA: true, transB: false }); // flag flips back to false
      return [m1, m2];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[3,2] b:f32[4,3] .
        let c:f32[2,3] = transpose[perm=(1,0)] a
            d:f32[3,4] = transpose[perm=(1,0)] b
            e:f32[2,4] = matmul[transA=false,transB=false] c d
            f:f32[2,4] = matmul[transA=true,transB=false] a d
        in (e, f) }"
    `);
    const out = apply(matmulTransposeFlags, g);
    expect(printGraph(out)).toMatchInlineSnapshot(`
      "{ lambda a:f32[3,2] b:f32[4,3] .
        let c:f32[2,4] = matmul[transA=true,transB=true] a b
            d:f32[2,4] = matmul[transA=true,transB=true] a b
        in (c, d) }"
    `);
    expectBitwiseEqual(interpret(g), interpret(out));
  });

  it("handles batches, ignores other perms, keeps a transpose that is read elsewhere", () => {
    const g = build((b) => {
      const a = b.input("a", [5, 2, 3], f32);
      const c = b.input("c", [5, 2, 4], f32);
      const at = b.emit("transpose", [a], { perm: [0, 2, 1] }); // [5,3,2]: last two swapped
      const m1 = b.emit("matmul", [at, c], { transA: false, transB: false }); // [5,3,4]
      const p = b.emit("transpose", [c], { perm: [1, 0, 2] }); // [2,5,4]: batch axis moved, not foldable
      const m2 = b.emit("matmul", [b.input("q", [2, 3, 5], f32), p], { transA: false, transB: false });
      return [m1, m2, b.emit("neg", [at], {})];
    });
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[5,2,3] b:f32[5,2,4] f:f32[2,3,5] .
        let c:f32[5,3,2] = transpose[perm=(0,2,1)] a
            d:f32[5,3,4] = matmul[transA=false,transB=false] c b
            e:f32[2,5,4] = transpose[perm=(1,0,2)] b
            g:f32[2,3,4] = matmul[transA=false,transB=false] f e
            h:f32[5,3,2] = neg c
        in (d, g, h) }"
    `);
    const out = apply(matmulTransposeFlags, g);
    expect(printGraph(out)).toMatchInlineSnapshot(`
      "{ lambda a:f32[5,2,3] b:f32[5,2,4] f:f32[2,3,5] .
        let c:f32[5,3,2] = transpose[perm=(0,2,1)] a
            d:f32[5,3,4] = matmul[transA=true,transB=false] a b
            e:f32[2,5,4] = transpose[perm=(1,0,2)] b
            g:f32[2,3,4] = matmul[transA=false,transB=false] f e
            h:f32[5,3,2] = neg c
        in (d, g, h) }"
    `);
    expectBitwiseEqual(interpret(g), interpret(out));
  });

  it("leaves float32 matrix-vector products alone (their summation order follows the layout), folds float64 ones", () => {
    const mv = (dtype: typeof f32 | "float64") =>
      build((b) => {
        const g = b.input("g", [5, 5], dtype);
        const e = b.input("e", [5, 1], dtype);
        const gt = b.emit("transpose", [g], { perm: [1, 0] });
        const row = b.emit("matmul", [b.emit("transpose", [e], { perm: [1, 0] }), g], { transA: false, transB: false }); // [1,5]
        return [b.emit("matmul", [gt, e], { transA: false, transB: false }), row]; // [5,1]
      });
    const g32 = mv(f32);
    expect(printGraph(apply(matmulTransposeFlags, g32))).toBe(printGraph(g32));
    expect(printGraph(apply(matmulTransposeFlags, mv("float64")))).toMatchInlineSnapshot(`
      "{ lambda a:f64[5,5] b:f64[5,1] .
        let c:f64[1,5] = matmul[transA=true,transB=false] b a
            d:f64[5,1] = matmul[transA=true,transB=false] a b
        in (d, c) }"
    `);
  });
});

// ------------------------------------------------------------------------------------------------
// Pipeline
// ------------------------------------------------------------------------------------------------

/** A program with something for every pass. */
function mixed(): Graph {
  return build((b) => {
    const x = b.input("x", [4, 3], f32);
    const w = b.input("w", [2, 3], f32);
    b.input("unused", [1], f32);
    const half = b.emit("div", [b.constant(1, f32), b.constant(2, f32)], {}); // constfold
    const wt = b.emit("transpose", [w], { perm: [1, 0] });
    const h = b.emit("matmul", [x, wt], { transA: false, transB: false }); // transposeFlags
    const h1 = b.emit("mul", [h, b.constant(1, f32)], {}); // simplify
    const a = b.emit("tanh", [h1], {});
    const a2 = b.emit("tanh", [h], {}); // cse once h1 is h
    const s = b.emit("add", [a, a2], {});
    const r = b.emit("mul", [s, half], {});
    b.emit("exp", [r], {}); // dead
    return [b.emit("neg", [b.emit("neg", [r], {})], {})];
  });
}

describe("optimize", () => {
  it("with every pass disabled returns the same printed graph", () => {
    const g = mixed();
    const out = apply((h) => optimize(h, { disable: [...PASS_ORDER] }), g);
    expect(printGraph(out)).toBe(printGraph(g));
  });

  it("runs all passes to a fixed point", () => {
    const g = mixed();
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "{ lambda a:f32[4,3] b:f32[2,3] c:f32[1] .
        let d:f32[] = 1
            e:f32[] = 2
            f:f32[] = div d e
            g:f32[3,2] = transpose[perm=(1,0)] b
            h:f32[4,2] = matmul[transA=false,transB=false] a g
            i:f32[] = 1
            j:f32[4,2] = mul h i
            k:f32[4,2] = tanh j
            l:f32[4,2] = tanh h
            m:f32[4,2] = add k l
            n:f32[4,2] = mul m f
            o:f32[4,2] = exp n
            p:f32[4,2] = neg n
            q:f32[4,2] = neg p
        in (q) }"
    `);
    const out = apply((h) => optimize(h), g);
    expect(printGraph(out)).toMatchInlineSnapshot(`
      "{ lambda a:f32[4,3] b:f32[2,3] c:f32[1] .
        let d:f32[] = 0.5
            e:f32[4,2] = matmul[transA=false,transB=true] a b
            f:f32[4,2] = tanh e
            g:f32[4,2] = add f f
            h:f32[4,2] = mul g d
        in (h) }"
    `);
    expectBitwiseEqual(interpret(g), interpret(out));
    // A fixed point: once more changes nothing.
    expect(printGraph(optimize(out))).toBe(printGraph(out));
  });

  it("can switch passes off one at a time", () => {
    const g = mixed();
    expect(printGraph(optimize(g, { disable: ["cse"] }))).toMatchInlineSnapshot(`
      "{ lambda a:f32[4,3] b:f32[2,3] c:f32[1] .
        let d:f32[] = 0.5
            e:f32[4,2] = matmul[transA=false,transB=true] a b
            f:f32[4,2] = tanh e
            g:f32[4,2] = tanh e
            h:f32[4,2] = add f g
            i:f32[4,2] = mul h d
        in (i) }"
    `);
    expect(printGraph(optimize(g, { disable: ["dce"] }))).toMatchInlineSnapshot(`
      "{ lambda a:f32[4,3] b:f32[2,3] c:f32[1] .
        let d:f32[] = 0.5
            e:f32[4,2] = matmul[transA=false,transB=true] a b
            f:f32[4,2] = tanh e
            g:f32[4,2] = add f f
            h:f32[4,2] = mul g d
            i:f32[4,2] = exp h
        in (h) }"
    `);
  });

  it("names and describes every pass", () => {
    expect(Object.keys(PASSES).sort()).toEqual([...PASS_ORDER].sort());
    for (const p of PASS_ORDER) expect(describePass(p).length).toBeGreaterThan(10);
  });
});

// ------------------------------------------------------------------------------------------------
// Numeric preservation on random programs
// ------------------------------------------------------------------------------------------------

/** A random program over three inputs, rich in what the passes rewrite. */
function randomProgram(seed: number): Graph {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const b = new GraphBuilder();
  const pool: number[] = [b.input("x", [2, 3], f32), b.input("y", [3, 2], f32), b.input("z", [2, 1, 3], f32)];
  const shape = (id: number): Shape => b.meta(id).shape;
  const steps: (() => number)[] = [
    () => b.emit(pick(["neg", "tanh", "abs", "sigmoid"] as const), [pick(pool)], {}),
    () => b.emit("pow", [pick(pool)], { exponent: pick([1, 2]) }),
    () => {
      const [op, c] = pick([["mul", 1], ["add", 0], ["sub", 0], ["div", 1], ["mul", 0.5], ["add", 0.25]] as const);
      const x = pick(pool);
      const k = r() < 0.5 ? b.constant(c, f32) : b.constantArray(new Array(shape(x).at(-1) ?? 1).fill(c), shape(x).length ? [shape(x).at(-1)!] : [], f32);
      return r() < 0.5 || op === "sub" || op === "div" ? b.emit(op, [x, k], {}) : b.emit(op, [k, x], {});
    },
    () => {
      const x = pick(pool);
      const same = pool.filter((y) => shape(y).join() === shape(x).join());
      return b.emit(pick(["add", "mul", "sub", "maximum"] as const), [x, pick(same)], {});
    },
    () => {
      const x = pick(pool);
      const rank = shape(x).length;
      const perm = Array.from({ length: rank }, (_, i) => i).sort(() => r() - 0.5);
      return b.emit("transpose", [x], { perm });
    },
    () => {
      const x = pick(pool);
      const n = shape(x).reduce((a, d) => a * d, 1);
      return b.emit("reshape", [x], { shape: pick([[n], [1, n], [n, 1], n % 2 === 0 ? [2, n / 2] : [n]]) });
    },
    () => {
      const x = pick(pool);
      const rank = shape(x).length;
      const axes = rank === 0 ? null : [...new Set([Math.floor(r() * rank), Math.floor(r() * rank)])];
      return b.emit(pick(["sum", "mean"] as const), [x], { axes, keepdims: r() < 0.5 });
    },
    () => {
      const x = pick(pool.filter((id) => shape(id).length === 2));
      // x @ x^T and x^T @ x, with the transpose explicit or as a flag.
      const xt = b.emit("transpose", [x], { perm: [1, 0] });
      return pick([
        () => b.emit("matmul", [x, xt], { transA: false, transB: false }),
        () => b.emit("matmul", [xt, x], { transA: false, transB: false }),
        () => b.emit("matmul", [xt, xt], { transA: true, transB: false }),
        () => b.emit("matmul", [x, x], { transA: false, transB: true }),
      ])();
    },
    () => {
      // A constant-only subexpression joined to a value.
      const x = pick(pool);
      const c = b.emit("exp", [b.emit("mul", [b.constant(0.3, f32), b.constant(r() * 2, f32)], {})], {});
      return b.emit("mul", [x, c], {});
    },
    () => {
      const x = pick(pool);
      return pick([
        () => b.emit("cast", [x], { dtype: f32 }),
        () => b.emit("broadcast_to", [x], { shape: [...shape(x)] }),
        () => b.emit("neg", [b.emit("neg", [x], {})], {}),
      ])();
    },
    // Repeat an earlier node exactly: CSE food.
    () => {
      const n = pick(b.graph.nodes.filter((m) => m.op !== "input" && m.op !== "variable" && m.op !== "constant"));
      if (!n) return pick(pool);
      return !isPrimNode(n)
        ? n.id
        : b.emit(n.op, n.inputs, n.attrs as unknown as Attrs[Prim]);
    },
  ];
  for (let i = 0; i < 14; i++) pool.push(pick(steps)());
  // Most values nobody reads become outputs, so most of the program is live and every pass has
  // work; the few left out give DCE something to do.
  const read = new Set(b.graph.nodes.flatMap((n) => n.inputs));
  const sinks = [...new Set(pool.slice(3))].filter((id) => !read.has(id));
  b.graph.outputs.push(...sinks.filter((_, i) => i === sinks.length - 1 || r() < 0.8));
  return b.graph;
}

describe("numeric preservation", () => {
  const passes: [string, (g: Graph) => Graph, boolean][] = [
    ["dce", deadCodeElimination, true],
    ["cse", commonSubexpressionElimination, true],
    ["constfold", constantFolding, true],
    ["transposeFlags", matmulTransposeFlags, true],
    // x + 0 -> x may flip the sign of a zero (documented); everything else is bitwise.
    ["simplify", algebraicSimplification, false],
    ["optimize", (g) => optimize(g), false],
  ];
  const seeds = Array.from({ length: 40 }, (_, i) => i + 1);
  for (const seed of seeds) {
    it(`random program ${seed}: every pass preserves the outputs`, () => {
      const g = randomProgram(seed);
      const want = interpret(g, seed);
      for (const [name, pass, bitwise] of passes) {
        const out = apply(pass, g);
        const got = interpret(out, seed);
        try {
          if (bitwise) expectBitwiseEqual(want, got);
          else expectBitwiseUpToZeroSign(want, got);
        } catch (err) {
          throw new Error(`${name} changed the results of\n${printGraph(g)}\ninto\n${printGraph(out)}\n${String(err)}`);
        }
        // Every pass's output must be a valid graph for the passes after it.
        expect(out.nodes.every((n, i) => n.id === i && n.inputs.every((j) => j < i))).toBe(true);
      }
    });
  }

  it("is not vacuous: every pass rewrites some of the random programs, none grows one", () => {
    const gs = seeds.map(randomProgram);
    for (const [name, pass] of passes) {
      const outs = gs.map((g) => pass(g));
      expect(outs.every((o, i) => o.nodes.length <= gs[i].nodes.length)).toBe(true);
      const changed = outs.filter((o, i) => printGraph(o) !== printGraph(gs[i])).length;
      expect(changed, name).toBeGreaterThan(seeds.length / 4);
    }
  });
});
