import { DualgradError, type Meta } from "@dualgrad/core";
import type { GraphBuilder } from "../builder.js";
import { SymbolicTensor, idOf, traceOf, type SymLike } from "../symbolic.js";
import { alignCaptures, emitControl, leaves, outputMetas, rebuild, resultId, sameMeta, showMeta, traceSubgraph, type Tree } from "./subgraph.js";

/**
 * Data-dependent control flow inside traced functions, with JAX's semantics (`lax.cond`,
 * `lax.scan`, `lax.while_loop`, `lax.fori_loop`): each body is traced once into a sub-graph of a
 * single node, so the compiled program decides at run time, and never retraces.
 */

/** What a body may return for a tensor: a symbolic tensor, a variable, or a number. */
type Out = Tree<SymLike>;

const symbols = (b: GraphBuilder, ids: readonly number[]) => ids.map((id) => new SymbolicTensor(b, id));

/** Checks that results `got` have the shapes and dtypes `want`, naming both on a mismatch. */
function checkMetas(what: string, got: readonly Meta[], want: readonly Meta[], gotName: string, wantName: string): void {
  if (got.length !== want.length) throw new DualgradError(`${what}: ${gotName} returns ${got.length} tensor(s) but ${wantName} has ${want.length}`);
  got.forEach((m, k) => {
    if (!sameMeta(m, want[k])) {
      throw new DualgradError(`${what}: ${gotName} returns ${showMeta(m)} for result ${k} but ${wantName} is ${showMeta(want[k])}; they must have the same shapes and dtypes`);
    }
  });
}

/**
 * `cond(pred, trueFn, falseFn, ...operands)`: `trueFn(...operands)` when scalar `pred` is nonzero,
 * else `falseFn(...operands)`, decided when the graph runs (`jax.lax.cond`). Both branches are
 * traced and must return the same shapes and dtypes; values of the enclosing function they use
 * are captured. Differentiable: the gradient is a `cond` of the branches' VJPs. A plain number or
 * boolean `pred` just picks the branch at trace time.
 */
export function cond<R extends Out>(pred: SymLike | boolean, trueFn: (...operands: SymbolicTensor[]) => R, falseFn: (...operands: SymbolicTensor[]) => R, ...operands: SymLike[]): R extends readonly unknown[] ? SymbolicTensor[] : SymbolicTensor {
  type Ret = R extends readonly unknown[] ? SymbolicTensor[] : SymbolicTensor;
  const b = traceOf(typeof pred === "boolean" ? operands : [pred, ...operands]);
  const opIds = operands.map((x) => idOf(b, x, "float32"));
  if (typeof pred === "boolean" || typeof pred === "number") {
    const out = (pred ? trueFn : falseFn)(...symbols(b, opIds));
    return rebuild(out, leaves(out).map((x) => new SymbolicTensor(b, resultId(b, x, "cond: a branch result")))) as Ret;
  }
  const predId = idOf(b, pred, "float32");
  const pm = b.meta(predId);
  if (pm.shape.length !== 0) throw new DualgradError(`cond: pred must be a scalar tensor, got ${showMeta(pm)}`);
  const metas = opIds.map((id) => b.meta(id));
  let shapeOf: Out | undefined;
  const branch = (f: typeof trueFn, name: string) => traceSubgraph(b, metas, (sb, args) => {
    const out = f(...args);
    shapeOf ??= out;
    return leaves(out).map((x) => resultId(sb, x, `cond: the ${name} branch's result`));
  });
  const t = branch(trueFn, "true");
  const f = branch(falseFn, "false");
  checkMetas("cond", outputMetas(f.graph), outputMetas(t.graph), "the false branch", "the true branch's");
  const { graphs, captured } = alignCaptures(b, [t, f]);
  const results = emitControl(b, { op: "cond", inputs: [predId, ...opIds, ...captured], attrs: { branches: [graphs[0], graphs[1]] } }, outputMetas(t.graph));
  return rebuild(shapeOf!, symbols(b, results)) as Ret;
}

/** Options of {@link scan}. */
export interface ScanOptions {
  /** The number of steps: required without `xs`, else checked against their leading dimension. */
  length?: number;
  /** Iterate from the last slice to the first (`ys` stay aligned with `xs`). */
  reverse?: boolean;
  /**
   * How the compiler may unroll the loop (`jax.lax.scan`'s `unroll`): `true` into straight-line
   * code whatever its length, `false` (or 1) never, `k` steps per loop iteration (the left-over
   * `length mod k` steps unrolled after it). Unset: fully when `length` × the body's node count is
   * at most the compiler's budget (passes/unroll-scan.ts), else a loop. The traced graph keeps the
   * scan either way, and its gradient scan inherits the option; results are the same bits.
   */
  unroll?: boolean | number;
}

/**
 * `scan(f, init, xs, { length, reverse, unroll })` → `[carry, ys]`, as `jax.lax.scan`: `f(carry, x)`
 * returns `[newCarry, y]` for each slice `x` of `xs` along axis 0; the carry must keep its shapes
 * and dtypes; `ys` stacks the `y`s along a new axis 0. Carry, `xs` and `y` may each be a tensor
 * or an array of tensors (`xs` null with `length` to loop without inputs; `y` null for no `ys`).
 * `f` is traced once. Differentiable in reverse mode: the forward pass keeps each step's carry,
 * the backward pass is a reverse scan over `f`'s VJP.
 */
export function scan(
  f: (carry: SymbolicTensor & SymbolicTensor[], x: SymbolicTensor & SymbolicTensor[]) => readonly [Out, Out | null | undefined],
  init: Out,
  xs: Out | null = null,
  options: ScanOptions = {},
): [SymbolicTensor & SymbolicTensor[], SymbolicTensor & SymbolicTensor[]] {
  type Any = SymbolicTensor & SymbolicTensor[];
  const initL = leaves(init);
  const xsL = xs === null ? [] : leaves(xs);
  const b = traceOf([...initL, ...xsL]);
  const initIds = initL.map((x) => idOf(b, x, "float32"));
  const xsIds = xsL.map((x) => idOf(b, x, "float32"));
  const xMetas = xsIds.map((id, k) => {
    const m = b.meta(id);
    if (m.shape.length === 0) throw new DualgradError(`scan: xs[${k}] must have a leading axis to scan over, got ${showMeta(m)}`);
    return m;
  });
  const length = options.length ?? xMetas[0]?.shape[0];
  if (length === undefined) throw new DualgradError("scan: without xs, pass { length } (the number of steps)");
  if (!Number.isInteger(length) || length < 0) throw new DualgradError(`scan: length must be a non-negative integer, got ${length}`);
  const { unroll } = options;
  if (unroll !== undefined && typeof unroll !== "boolean" && !(Number.isInteger(unroll) && unroll > 0)) {
    throw new DualgradError(`scan: unroll must be true, false or a positive integer (steps per loop iteration), got ${String(unroll)}`);
  }
  xMetas.forEach((m, k) => {
    if (m.shape[0] !== length) throw new DualgradError(`scan: xs[${k}] is ${showMeta(m)} but the scan has length ${length}; every xs must have that leading dimension`);
  });
  const carryMetas = initIds.map((id) => b.meta(id));
  let yTree: Out | null | undefined;
  let numY = 0;
  const body = traceSubgraph(b, [...carryMetas, ...xMetas.map((m) => ({ shape: m.shape.slice(1), dtype: m.dtype }))], (sb, args) => {
    const carry = rebuild(init, args.slice(0, initL.length)) as Any;
    const x = (xs === null ? undefined : rebuild(xs, args.slice(initL.length))) as Any;
    const out = f(carry, x);
    if (!Array.isArray(out) || out.length !== 2) throw new DualgradError("scan: the body must return [carry, y] (y may be null)");
    const carryOut = leaves(out[0] as Out);
    if (Array.isArray(init) !== Array.isArray(out[0]) || carryOut.length !== initL.length) {
      throw new DualgradError(`scan: the body returns a carry of ${carryOut.length} tensor(s) (${Array.isArray(out[0]) ? "array" : "single"}) but init has ${initL.length} (${Array.isArray(init) ? "array" : "single"})`);
    }
    yTree = out[1];
    const ys = yTree === null || yTree === undefined ? [] : leaves(yTree);
    numY = ys.length;
    return [...carryOut.map((c, k) => resultId(sb, c, `scan: carry[${k}]`, carryMetas[k].dtype)), ...ys.map((y, k) => resultId(sb, y, `scan: y[${k}]`))];
  });
  const outs = outputMetas(body.graph);
  checkMetas("scan", outs.slice(0, initL.length), carryMetas, "the body's new carry", "the initial carry");
  const yMetas = outs.slice(initL.length).map((m) => ({ shape: [length, ...m.shape], dtype: m.dtype }));
  const results = emitControl(b, {
    op: "scan",
    inputs: [...initIds, ...xsIds, ...body.captured],
    attrs: { body: body.graph, numCarry: initL.length, numXs: xsL.length, length, reverse: options.reverse ?? false, saveCarries: 0, ...(unroll === undefined ? {} : { unroll }) },
  }, [...carryMetas, ...yMetas]);
  const syms = symbols(b, results);
  const ys = yTree === null || yTree === undefined ? [] : rebuild(yTree, syms.slice(initL.length, initL.length + numY));
  return [rebuild(init, syms.slice(0, initL.length)) as Any, ys as Any];
}

/**
 * `whileLoop(condFn, bodyFn, init)`: `carry = bodyFn(carry)` while `condFn(carry)` (a scalar) is
 * nonzero, decided when the graph runs (`jax.lax.while_loop`). Forward only: its trip count is
 * not known before it runs, so asking for its gradient is an error (use {@link scan}).
 */
export function whileLoop<C extends Out>(condFn: (carry: SymbolicTensor & SymbolicTensor[]) => SymLike, bodyFn: (carry: SymbolicTensor & SymbolicTensor[]) => C, init: C): C extends readonly unknown[] ? SymbolicTensor[] : SymbolicTensor {
  type Any = SymbolicTensor & SymbolicTensor[];
  type Ret = C extends readonly unknown[] ? SymbolicTensor[] : SymbolicTensor;
  const initL = leaves(init);
  const b = traceOf(initL);
  const initIds = initL.map((x) => idOf(b, x, "float32"));
  const metas = initIds.map((id) => b.meta(id));
  const c = traceSubgraph(b, metas, (sb, args) => [resultId(sb, condFn(rebuild(init, args) as Any), "whileLoop: the condition")]);
  const cm = outputMetas(c.graph)[0];
  if (cm.shape.length !== 0) throw new DualgradError(`whileLoop: the condition must return a scalar, got ${showMeta(cm)}`);
  const body = traceSubgraph(b, metas, (sb, args) => {
    const out = leaves(bodyFn(rebuild(init, args) as Any));
    return out.map((x, k) => resultId(sb, x, `whileLoop: carry[${k}]`, metas[k]?.dtype));
  });
  checkMetas("whileLoop", outputMetas(body.graph), metas, "the body's new carry", "the initial carry");
  const { graphs, captured } = alignCaptures(b, [c, body]);
  const results = emitControl(b, { op: "while", inputs: [...initIds, ...captured], attrs: { cond: graphs[0], body: graphs[1], numCarry: initL.length } }, metas);
  return rebuild(init, symbols(b, results)) as Ret;
}

/**
 * `foriLoop(lo, hi, body, init)`: `carry = body(i, carry)` for i = lo … hi-1 (`jax.lax.fori_loop`).
 * With number bounds the trip count is static and it lowers to {@link scan} over the int32 indices
 * (so it is differentiable); with tensor bounds it lowers to {@link whileLoop}.
 */
export function foriLoop<C extends Out>(lo: SymLike, hi: SymLike, body: (i: SymbolicTensor, carry: SymbolicTensor & SymbolicTensor[]) => C, init: C): C extends readonly unknown[] ? SymbolicTensor[] : SymbolicTensor {
  type Any = SymbolicTensor & SymbolicTensor[];
  type Ret = C extends readonly unknown[] ? SymbolicTensor[] : SymbolicTensor;
  if (typeof lo === "number" && typeof hi === "number") {
    if (!Number.isInteger(lo) || !Number.isInteger(hi)) throw new DualgradError(`foriLoop: bounds must be integers, got ${lo} and ${hi}`);
    const b = traceOf(leaves(init));
    const n = Math.max(0, hi - lo);
    const index = new SymbolicTensor(b, b.constantArray(Array.from({ length: n }, (_, k) => lo + k), [n], "int32"));
    return scan((carry, i) => [body(i, carry), null], init, index)[0] as unknown as Ret;
  }
  const initL = leaves(init);
  const b = traceOf([lo, hi, ...initL]);
  const start = new SymbolicTensor(b, idOf(b, lo, "int32"));
  const end = new SymbolicTensor(b, idOf(b, hi, "int32"));
  const out = whileLoop(
    (c) => c[0].lt(end),
    (c) => [c[0].add(1), ...leaves(body(c[0], rebuild(init, c.slice(1)) as Any))],
    [start, ...initL],
  );
  return rebuild(init, out.slice(1)) as Ret;
}
