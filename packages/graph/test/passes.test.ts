import { afterAll, describe, expect, it } from "vitest";
import {
  allocator, execute, releaseValue, valueFrom, type Attrs, type DType, type Prim, type Shape, type Value,
} from "@dualgrad/core";
import { GraphBuilder } from "../src/builder.js";
import { cloneGraph, printGraph, type Graph } from "../src/ir.js";
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
  const before = cloneGraph(g);
  const after = pass(g);
  expect(g).toEqual(before);
  return after;
}

/** `printGraph(pass(g))`, checking purity on the way. */
const after = (pass: (g: Graph) => Graph, g: Graph) => printGraph(apply(pass, g));

const f32 = "float32";

const variables: Variable[] = [];
afterAll(() => {
  for (const v of variables) v.dispose();
});

// ------------------------------------------------------------------------------------------------
// A tiny reference interpreter: one core `execute` per node, every temporary released.
// ------------------------------------------------------------------------------------------------

/** A seeded generator (mulberry32), so test data and random programs are reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
  expect(canon(b)).toEqual(canon(a));
  // Every element that is not a zero must match bitwise: check via Object.is on the exact values.
  b.forEach((r, i) => r.data.forEach((x, k) => {
    if (x !== 0) expect(Object.is(x, a[i].data[k])).toBe(true);
  }));
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    expect(after(deadCodeElimination, g)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    expect(after(deadCodeElimination, g)).toMatchInlineSnapshot();
  });

  it("keeps a variable node that is only assigned", () => {
    const w = new Variable([2], f32, { name: "dce_only_assigned" });
    variables.push(w);
    const b = new GraphBuilder();
    const x = b.input("x", [2], f32);
    b.assign(w, b.emit("neg", [x], {}));
    expect(after(deadCodeElimination, b.graph)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    expect(after(commonSubexpressionElimination, g)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    const out = apply(commonSubexpressionElimination, g);
    expect(printGraph(out)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    expect(after(commonSubexpressionElimination, g)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    expect(after(constantFolding, g)).toMatchInlineSnapshot();
  });

  it("stores exact float32 results and leaves the memory tracker where it was", () => {
    const g = build((b) => [b.emit("div", [b.constant(1, f32), b.constant(3, f32)], {}), b.emit("sqrt", [b.constant(2, "float64")], {})]);
    const before = allocator.stats();
    const out = apply(constantFolding, g);
    const stats = allocator.stats();
    expect(stats.liveBytes).toBe(before.liveBytes);
    expect(stats.liveBuffers).toBe(before.liveBuffers);
    expect(out.nodes.map((n) => n.value)).toEqual([[Math.fround(1 / 3)], [Math.SQRT2]]);
    expect(printGraph(out)).toMatchInlineSnapshot();
  });

  it("skips results above maxElements and ops reading non-constants", () => {
    const g = build((b) => {
      const x = b.input("x", [2], f32);
      const big = b.emit("broadcast_to", [b.constant(1, f32)], { shape: [8, 8] });
      const small = b.emit("broadcast_to", [b.constant(1, f32)], { shape: [2] });
      return [big, b.emit("add", [x, small], {})];
    });
    expect(printGraph(g)).toMatchInlineSnapshot();
    expect(after((h) => constantFolding(h, { maxElements: 16 }), g)).toMatchInlineSnapshot();
    expect(after(constantFolding, g)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    const out = apply(constantFolding, g);
    expect(printGraph(out)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    expect(after(algebraicSimplification, g)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    expect(after(algebraicSimplification, g)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    const out = apply(algebraicSimplification, g);
    expect(printGraph(out)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    expect(after(algebraicSimplification, g)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    const out = apply(algebraicSimplification, g);
    expect(printGraph(out)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    expect(after(algebraicSimplification, g)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    const out = apply(matmulTransposeFlags, g);
    expect(printGraph(out)).toMatchInlineSnapshot();
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    const out = apply(matmulTransposeFlags, g);
    expect(printGraph(out)).toMatchInlineSnapshot();
    expectBitwiseEqual(interpret(g), interpret(out));
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
    expect(printGraph(g)).toMatchInlineSnapshot();
    const out = apply((h) => optimize(h), g);
    expect(printGraph(out)).toMatchInlineSnapshot();
    expectBitwiseEqual(interpret(g), interpret(out));
    // A fixed point: once more changes nothing.
    expect(printGraph(optimize(out))).toBe(printGraph(out));
  });

  it("can switch passes off one at a time", () => {
    const g = mixed();
    expect(printGraph(optimize(g, { disable: ["cse"] }))).toMatchInlineSnapshot();
    expect(printGraph(optimize(g, { disable: ["dce"] }))).toMatchInlineSnapshot();
  });

  it("names and describes every pass", () => {
    expect(Object.keys(PASSES).sort()).toEqual([...PASS_ORDER].sort());
    for (const p of PASS_ORDER) expect(describePass(p).length).toBeGreaterThan(10);
  });
});

// ------------------------------------------------------------------------------------------------
// Numeric preservation on random programs
// ------------------------------------------------------------------------------------------------

/** A random program over two inputs, rich in what the passes rewrite. */
function randomProgram(seed: number): Graph {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const b = new GraphBuilder();
  const pool: number[] = [b.input("x", [2, 3], f32), b.input("y", [3, 2], f32), b.input("z", [2, 1, 3], f32)];
  const shape = (id: number): Shape => b.meta(id).shape;
  const steps: (() => number)[] = [
    () => b.emit(pick(["neg", "tanh", "abs", "sigmoid", "exp"] as const), [pick(pool)], {}),
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
      const [m, n] = shape(x);
      // x @ x^T and x^T @ x, with the transpose explicit or as a flag.
      const xt = b.emit("transpose", [x], { perm: [1, 0] });
      return pick([
        () => b.emit("matmul", [x, xt], { transA: false, transB: false }),
        () => b.emit("matmul", [xt, x], { transA: false, transB: false }),
        () => b.emit("matmul", [xt, xt], { transA: true, transB: false }),
        () => b.emit("matmul", [x, x], { transA: false, transB: true }),
      ])() + 0 * (m + n);
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
      return n.op === "fused" || n.op === "input" || n.op === "variable" || n.op === "constant"
        ? n.id
        : b.emit(n.op, n.inputs, n.attrs as unknown as Attrs[Prim]);
    },
  ];
  for (let i = 0; i < 14; i++) pool.push(pick(steps)());
  b.graph.outputs.push(pool[pool.length - 1], pick(pool.slice(3)), pick(pool.slice(3)));
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
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) {
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

  it("the optimised random programs are smaller or equal", () => {
    const total = (gs: Graph[]) => gs.reduce((a, g) => a + g.nodes.length, 0);
    const gs = [1, 2, 3, 4, 5, 6].map(randomProgram);
    expect(total(gs.map((g) => optimize(g)))).toBeLessThan(total(gs));
  });
});
