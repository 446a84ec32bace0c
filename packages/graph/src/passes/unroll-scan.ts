import type { Graph, GraphNode, ScanAttrs } from "../ir.js";
import { liveness } from "./dce.js";

/**
 * Scan unrolling, as XLA's while-loop unroller and JAX's `scan(..., unroll=k)` do. A compiled scan
 * runs its body as a loop of small sub-plans: every step rebinds buffers, copies its x slices in
 * and its carries and ys out, and no pass can look across steps. A short scan with a static trip
 * count is cheaper as straight-line code, where CSE, DCE, fusion and the memory planner see every
 * step (for a recurrent network's training step: the gradient of an input nobody asked for is
 * dropped, the backward scan reads the forward's per-step states directly instead of a stacked
 * copy). Unrolling only moves data (a slice per x, a concat per stacked result) and runs the
 * body's own ops in the loop's order, so the results are the same bits.
 *
 * Which scans, by their `unroll` attribute: `true` always fully; `false` (or 1) never; `k > 1`
 * partially, k steps per loop iteration, the `length mod k` left-over steps unrolled after the
 * loop; unset, fully when `length × body size ≤` {@link UNROLL_BUDGET} (body size: its nodes,
 * nested bodies included), else never, so a long sequence stays one small loop.
 */

/** Unset `unroll`: the largest `length × body nodes` a scan may have to be fully unrolled. */
export const UNROLL_BUDGET = 4096;

/** A node without its id (the list it is pushed into gives it one). */
type NewNode = GraphNode extends infer N ? (N extends GraphNode ? Omit<N, "id"> : never) : never;

/** Nodes of a sub-graph, nested bodies included, inputs excluded: what one step of it costs in nodes. */
export function bodySize(g: Graph): number {
  let n = 0;
  for (const node of g.nodes) {
    if (node.op === "input") continue;
    n++;
    if (node.op === "scan") n += node.attrs.length * bodySize(node.attrs.body);
    else if (node.op === "cond") n += Math.max(...node.attrs.branches.map(bodySize));
    else if (node.op === "while") n += bodySize(node.attrs.cond) + bodySize(node.attrs.body);
  }
  return n;
}

/** How a scan is rewritten: "full", k steps per iteration, or left alone (null). */
export function unrollFactor(a: ScanAttrs, budget = UNROLL_BUDGET): "full" | number | null {
  const u = a.unroll;
  if (a.length === 0 || u === false || u === 1) return null;
  if (u === true || (typeof u === "number" && u >= a.length)) return "full";
  if (typeof u === "number") return u;
  return a.length * bodySize(a.body) <= budget ? "full" : null;
}

/**
 * A node list under construction, with the data-movement helpers unrolling needs. `stacks`
 * remembers the per-step pieces of every stack it built, so slicing step t of one (a backward
 * scan over the forward's saved states) is the piece itself, no copy.
 */
class Nodes {
  readonly nodes: GraphNode[] = [];
  private readonly stacks = new Map<number, number[]>();

  push(n: NewNode): number {
    const id = this.nodes.length;
    this.nodes.push({ ...n, id } as GraphNode);
    return id;
  }

  /** Step `t` of value `v` along axis 0, without that axis. */
  step(v: number, t: number): number {
    const pieces = this.stacks.get(v);
    if (pieces) return pieces[t];
    const node = this.nodes[v];
    let begin = node.shape.map((_, k) => (k === 0 ? t : 0));
    let end = node.shape.map((d, k) => (k === 0 ? t + 1 : d));
    let base = v;
    // Slice the data at its source: through slices (offsets add up) and through a transpose that
    // only brings one axis to the front (the other axes keep their order, so the row-major bits of
    // the step are the same). This is how a batch-first sequence is read per step without copying
    // it to time-major first.
    for (;;) {
      const src = this.nodes[base];
      if (src.op === "slice") {
        const off = src.attrs.begin;
        begin = begin.map((b, k) => b + off[k]);
        end = end.map((e, k) => e + off[k]);
        base = src.inputs[0];
        continue;
      }
      if (src.op === "transpose") {
        const perm = src.attrs.perm;
        const rest = perm.slice(1);
        const onlyAxis0 = src.shape.every((d, k) => k === 0 || (begin[k] === 0 && end[k] === d));
        if (!onlyAxis0 || !rest.every((p, k) => k === 0 || p > rest[k - 1])) break;
        const x = this.nodes[src.inputs[0]];
        const a = perm[0];
        begin = x.shape.map((_, k) => (k === a ? begin[0] : 0));
        end = x.shape.map((d, k) => (k === a ? end[0] : d));
        base = x.id;
        continue;
      }
      break;
    }
    const { dtype } = node;
    const sliced = this.push({ op: "slice", inputs: [base], attrs: { begin, end }, shape: end.map((e, k) => e - begin[k]), dtype });
    return this.push({ op: "reshape", inputs: [sliced], attrs: { shape: node.shape.slice(1) }, shape: node.shape.slice(1), dtype });
  }

  /** `pieces` (same shape and dtype) stacked along a new axis 0. */
  stack(pieces: readonly number[]): number {
    const { shape, dtype } = this.nodes[pieces[0]];
    const rows = pieces.map((p) => this.push({ op: "reshape", inputs: [p], attrs: { shape: [1, ...shape] }, shape: [1, ...shape], dtype }));
    const id = this.push({ op: "concat", inputs: rows, attrs: { axis: 0 }, shape: [pieces.length, ...shape], dtype });
    this.stacks.set(id, [...pieces]);
    return id;
  }

  /**
   * Copies `g`'s nodes with its inputs bound to `args`; the ids of its outputs. With `step`, only
   * the nodes it marks live are copied, and its loop-invariant ones only once for every step.
   */
  inline(g: Graph, args: readonly number[], step?: StepPlan): number[] {
    const map = new Array<number>(g.nodes.length);
    g.inputs.forEach((id, k) => (map[id] = args[k]));
    for (const n of g.nodes) {
      if (n.op === "input" || (step && !step.live[n.id])) continue;
      const hoisted = step?.hoisted.get(n.id);
      if (hoisted !== undefined) {
        map[n.id] = hoisted;
        continue;
      }
      const { id: _, ...rest } = n;
      map[n.id] = this.push({ ...rest, inputs: n.inputs.map((i) => map[i]) } as NewNode);
      if (step?.invariant[n.id]) step.hoisted.set(n.id, map[n.id]);
    }
    return g.outputs.map((o) => map[o]);
  }

  /**
   * Runs scan steps `order` (step indices, in execution order) of a body straight-line from
   * `carry`; the final carry and the pieces, by step index, of each y `wanted`.
   */
  unroll(a: ScanAttrs, carry: number[], xs: readonly number[], consts: readonly number[], order: readonly number[], wanted: readonly boolean[]): { carry: number[]; ys: number[][] } {
    const nc = a.numCarry;
    const plan = stepPlan(a, wanted);
    const ys: number[][] = a.body.outputs.slice(nc).map(() => []);
    for (const t of order) {
      const out = this.inline(a.body, [...carry, ...xs.map((x) => this.step(x, t)), ...consts], plan);
      carry = out.slice(0, nc);
      out.slice(nc).forEach((y, k) => {
        if (wanted[k]) ys[k][t] = y;
      });
    }
    return { carry, ys };
  }
}

/** Which body nodes one unrolled step copies, and the loop-invariant ones already copied. */
interface StepPlan {
  /** The node feeds the carry or a wanted y (what DCE would keep of the copy). */
  live: boolean[];
  /** The node reads only captured values and constants: the same value at every step. */
  invariant: boolean[];
  /** Body node id -> the id of its one copy, for invariant nodes. */
  hoisted: Map<number, number>;
}

function stepPlan(a: ScanAttrs, wanted: readonly boolean[]): StepPlan {
  const g = a.body;
  const live = liveness(g.nodes, g.outputs.filter((_, k) => k < a.numCarry || wanted[k - a.numCarry]));
  // Captured inputs (after the carries and the x slices) are bound to the same value every step.
  const captured = new Set(g.inputs.slice(a.numCarry + a.numXs));
  const same = g.nodes.map(() => false);
  for (const n of g.nodes) same[n.id] = n.op === "input" ? captured.has(n.id) : n.inputs.every((i) => same[i]);
  return { live, invariant: g.nodes.map((n) => n.op !== "input" && same[n.id]), hoisted: new Map() };
}

/** Step indices `lo … hi-1`, in the order a scan (reverse or not) runs them. */
const steps = (lo: number, hi: number, reverse: boolean) => {
  const ts = Array.from({ length: hi - lo }, (_, k) => lo + k);
  return reverse ? ts.reverse() : ts;
};

/**
 * A scan `k` steps per iteration: the body runs the original body k times on a chunk of k slices
 * (inputs `[carry…, x chunk [k, …]…, captured…]`, outputs `[carry…, chunk of each y wanted [k, …]…]`).
 */
function chunkBody(a: ScanAttrs, k: number, wanted: readonly boolean[]): Graph {
  const nb = new Nodes();
  const nc = a.numCarry;
  const nx = a.numXs;
  const inputs = a.body.inputs.map((id, j) => {
    const m = a.body.nodes[id];
    const shape = j >= nc && j < nc + nx ? [k, ...m.shape] : m.shape;
    return nb.push({ op: "input", inputs: [], attrs: {}, shape, dtype: m.dtype, name: m.name });
  });
  const r = nb.unroll(a, inputs.slice(0, nc), inputs.slice(nc, nc + nx), inputs.slice(nc + nx), steps(0, k, a.reverse), wanted);
  return { nodes: nb.nodes, inputs, outputs: [...r.carry, ...r.ys.filter((_, j) => wanted[j]).map((p) => nb.stack(p))], updates: [] };
}

/**
 * Unrolls scan `n` (its operands already `ins`, ids in `out`) into `out`, `factor` as
 * {@link unrollFactor} says; returns the ids of its results (final carries, then stacked ys; -1
 * for the ys not `wanted`).
 */
function unrollScan(out: Nodes, n: GraphNode & { op: "scan" }, ins: readonly number[], factor: "full" | number, wanted: readonly boolean[]): number[] {
  const a = n.attrs;
  const { numCarry: nc, numXs: nx, length: L, reverse } = a;
  const xs = ins.slice(nc, nc + nx);
  const consts = ins.slice(nc + nx);
  if (factor === "full") {
    const r = out.unroll(a, ins.slice(0, nc), xs, consts, steps(0, L, reverse), wanted);
    return [...r.carry, ...r.ys.map((p, j) => (wanted[j] ? out.stack(p) : -1))];
  }
  // The loop covers q chunks of k steps, [lo, hi); the L mod k left-over steps, at the end the
  // loop runs towards, follow it unrolled.
  const k = factor;
  const q = Math.floor(L / k);
  const lo = reverse ? L % k : 0;
  const hi = lo + q * k;
  const chunked = xs.map((x) => {
    const m = out.nodes[x];
    const rest = m.shape.slice(1);
    const region = hi - lo === L ? x : out.push({ op: "slice", inputs: [x], attrs: { begin: m.shape.map((_, j) => (j === 0 ? lo : 0)), end: m.shape.map((d, j) => (j === 0 ? hi : d)) }, shape: [q * k, ...rest], dtype: m.dtype });
    return out.push({ op: "reshape", inputs: [region], attrs: { shape: [q, k, ...rest] }, shape: [q, k, ...rest], dtype: m.dtype });
  });
  const body = chunkBody(a, k, wanted);
  const loop = out.push({ op: "scan", inputs: [...ins.slice(0, nc), ...chunked, ...consts], attrs: { ...a, body, length: q, saveCarries: 0, unroll: false }, shape: [0], dtype: "float32" });
  const results = body.outputs.map((o, index) => {
    const m = body.nodes[o];
    return out.push({ op: "get", inputs: [loop], attrs: { index }, shape: index < nc ? m.shape : [q, ...m.shape], dtype: m.dtype });
  });
  const left = out.unroll(a, results.slice(0, nc), xs, consts, reverse ? steps(0, lo, true) : steps(hi, L, false), wanted);
  const chunks = results.slice(nc);
  const ys = left.ys.map((pieces, j) => {
    if (!wanted[j]) return -1;
    const m = out.nodes[chunks.shift()!];
    const rest = m.shape.slice(2);
    const flat = out.push({ op: "reshape", inputs: [m.id], attrs: { shape: [q * k, ...rest] }, shape: [q * k, ...rest], dtype: m.dtype });
    const extra = pieces.filter((p) => p !== undefined);
    if (extra.length === 0) return flat;
    const tail = out.stack(extra);
    return out.push({ op: "concat", inputs: reverse ? [tail, flat] : [flat, tail], attrs: { axis: 0 }, shape: [L, ...rest], dtype: m.dtype });
  });
  return [...left.carry, ...ys];
}

/**
 * Unrolls the scans of `g` (not those inside bodies: the pipeline runs every pass on bodies
 * first) that {@link unrollFactor} selects. Leaves the readers of a scan's results reading the
 * unrolled values; the slices and stacks nothing reads are left for DCE.
 */
export function unrollScans(g: Graph, budget = UNROLL_BUDGET): Graph {
  const factors = g.nodes.map((n) => (n.op === "scan" ? unrollFactor(n.attrs, budget) : null));
  if (factors.every((f) => f === null)) return g;
  const out = new Nodes();
  const map = new Array<number>(g.nodes.length);
  const results = new Map<number, number[]>();
  // The results each scan's readers take (a `get` per result read).
  const read = g.nodes.map(() => new Set<number>());
  for (const n of g.nodes) if (n.op === "get") read[n.inputs[0]].add(n.attrs.index);
  for (const n of g.nodes) {
    const ins = n.inputs.map((i) => map[i]);
    const f = factors[n.id];
    if (n.op === "scan" && f !== null) {
      const wanted = n.attrs.body.outputs.slice(n.attrs.numCarry).map((_, j) => read[n.id].has(n.attrs.numCarry + j));
      results.set(n.id, unrollScan(out, n, ins, f, wanted));
    }
    else if (n.op === "get" && results.has(n.inputs[0])) map[n.id] = results.get(n.inputs[0])![n.attrs.index];
    else {
      const { id: _, ...rest } = n;
      map[n.id] = out.push({ ...rest, inputs: ins } as NewNode);
    }
  }
  return {
    nodes: out.nodes,
    inputs: g.inputs.map((i) => map[i]),
    outputs: g.outputs.map((o) => map[o]),
    updates: g.updates.map((u) => ({ variable: u.variable, value: map[u.value] })),
  };
}
