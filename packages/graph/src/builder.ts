import { DTypeError, DualgradError, ShapeError, inferMeta, type Attrs, type DType, type Emitter, type Meta, type Prim, type Shape } from "@dualgrad/core";
import { emptyGraph, primNode, type Graph, type GraphNode } from "./ir.js";
import type { Variable } from "./variable.js";

/**
 * Records nodes into a graph. It is an `Emitter<number>` (value ids), so core's VJP rules emit
 * gradient nodes into it exactly as eager runs them on values.
 */
export class GraphBuilder implements Emitter<number> {
  readonly graph: Graph = emptyGraph();
  /** The variables read by this graph, by name. */
  readonly variables = new Map<string, Variable>();
  private readonly variableIds = new Map<string, number>();

  /**
   * @param parent The graph this one is a sub-graph of (a `scan` body, a `cond` branch): values
   * of enclosing graphs used here are captured as extra inputs (closure conversion, as JAX does).
   */
  constructor(readonly parent: GraphBuilder | null = null) {}

  /** Outer value id -> input id here, in capture order (see {@link capture}). */
  readonly captures = new Map<number, number>();

  /** Whether `other` is this builder or encloses it (its values may be captured here). */
  encloses(other: GraphBuilder): boolean {
    for (let b: GraphBuilder | null = this; b; b = b.parent) if (b === other) return true;
    return false;
  }

  /** The id here of value `id` of `owner` (this builder or an enclosing one), capturing it as an input if needed. */
  capture(owner: GraphBuilder, id: number): number {
    if (owner === this) return id;
    if (!this.parent) throw new DualgradError("a symbolic tensor from another trace was used here (a leaked tracer): return it from its function instead of storing it");
    const outer = this.parent.capture(owner, id);
    const known = this.captures.get(outer);
    if (known !== undefined) return known;
    const m = this.parent.meta(outer);
    const inner = this.input(`capture${this.captures.size}`, m.shape, m.dtype);
    this.captures.set(outer, inner);
    return inner;
  }

  /** Appends a node built by `make` for the next id (control-flow and `get` nodes, inlined sub-graphs), and returns that id. */
  append(make: (id: number) => GraphNode): number {
    return this.push(make);
  }

  /** Set once a sub-graph's body has been traced: its values must not be used any more. */
  private closed = false;

  /** Ends a sub-graph's tracing: later ops on its values are a leaked tracer, not new body nodes. */
  close(): void {
    this.closed = true;
  }

  /** Appends the node `make` builds for the next id, and returns that id. */
  private push(make: (id: number) => GraphNode): number {
    if (this.closed) {
      throw new DualgradError("a symbolic tensor from a scan/cond/whileLoop body was used after the body returned (a leaked tracer): return it from the body instead");
    }
    const id = this.graph.nodes.length;
    this.graph.nodes.push(make(id));
    return id;
  }

  /** A placeholder (graph argument). */
  input(name: string, shape: Shape, dtype: DType): number {
    const id = this.push((id) => ({ id, op: "input", inputs: [], attrs: {}, shape: [...shape], dtype, name }));
    this.graph.inputs.push(id);
    return id;
  }

  /** The node reading `v` (one per variable per graph). */
  variable(v: Variable): number {
    // A sub-graph reads a variable as a captured value of the outermost graph.
    if (this.parent) {
      let root: GraphBuilder = this.parent;
      while (root.parent) root = root.parent;
      return this.capture(root, root.variable(v));
    }
    const known = this.variableIds.get(v.name);
    if (known !== undefined) return known;
    const id = this.push((id) => ({ id, op: "variable", inputs: [], attrs: {}, shape: [...v.shape], dtype: v.dtype, name: v.name }));
    this.variableIds.set(v.name, id);
    this.variables.set(v.name, v);
    return id;
  }

  /** A rank-0 constant. */
  constant(value: number, dtype: DType): number {
    return this.constantArray([value], [], dtype);
  }

  /** A constant tensor. */
  constantArray(values: ArrayLike<number>, shape: Shape, dtype: DType): number {
    // Store the values the dtype can hold (as a Float32Array would), so a constant inlined into a
    // fused kernel is the same number the unfused kernel reads from its buffer.
    const exact = Array.from(values, (v) => (dtype === "float32" ? Math.fround(v) : dtype === "int32" ? Math.trunc(v) | 0 : v));
    return this.push((id) => ({ id, op: "constant", inputs: [], attrs: {}, shape: [...shape], dtype, value: exact }));
  }

  /** Adds a primitive node after checking its inputs by abstract evaluation. */
  emit<P extends Prim>(prim: P, inputs: readonly number[], attrs: Attrs[P]): number {
    let meta: Meta;
    try {
      meta = inferMeta(prim, inputs.map((i) => this.meta(i)), attrs);
    } catch (err) {
      if (err instanceof ShapeError) throw new ShapeError(prim, `${err.message.slice(prim.length + 2)}${callSite()}`);
      if (err instanceof DTypeError) throw new DTypeError(prim, `${err.message.slice(prim.length + 2)}${callSite()}`);
      throw err;
    }
    return this.push((id) => primNode({ id, op: prim, inputs: [...inputs], attrs: { ...attrs }, shape: [...meta.shape], dtype: meta.dtype }));
  }

  meta(id: number): Meta {
    const n = this.graph.nodes[id];
    if (!n) throw new DualgradError(`graph: no value with id ${id}`);
    return n;
  }

  /** Records `variable := value`. */
  assign(variable: Variable, value: number): void {
    if (this.parent) throw new DualgradError(`assign: variable ${variable.name} cannot be assigned inside a scan/cond/whileLoop body; return the new value and assign it outside`);
    const v = this.meta(value);
    if (v.dtype !== variable.dtype || v.shape.join() !== variable.shape.join()) {
      throw new DualgradError(`assign: value ${v.dtype}[${v.shape}] does not fit variable ${variable.name} ${variable.dtype}[${variable.shape}]`);
    }
    this.variable(variable);
    this.graph.updates.push({ variable: variable.name, value });
  }
}

/** ` (traced at file:line:col)` for the first stack frame outside this package and core's composites, so errors point at the user's code. */
export function callSite(): string {
  const stack = new Error().stack?.split("\n").slice(1) ?? [];
  const frame = stack.find((l) => !/packages[\\/](graph[\\/](src|dist)|core[\\/](src|dist)[\\/]composites)[\\/]|node:internal|node_modules/.test(l));
  const where = frame?.trim().replace(/^at\s+/, "");
  return where ? ` (traced at ${where})` : "";
}
