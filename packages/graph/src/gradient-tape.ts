import { DualgradError } from "@dualgrad/core";
import { backprop } from "./autodiff.js";
import type { GraphBuilder } from "./builder.js";
import { SymbolicTensor, currentTrace, withTrace } from "./symbolic.js";
import { leavesOf, withLeaves, type MapLeaves, type Structure } from "./structure.js";
import { Variable } from "./variable.js";

/**
 * TensorFlow 2's `tf.GradientTape` inside a traced function. The graph being traced already holds
 * every operation, so the tape records no copies: it remembers which stretch of the graph
 * (node ids, which only grow) was built while it was recording, and what was watched and when.
 * `gradient` then runs the same symbolic reverse sweep as `gradients` / `opt.minimize`, letting
 * gradients flow only through operations the tape recorded, so a step written with a tape
 * compiles to the same graph, and gives the same bits, as one written with `minimize`.
 */

/** What `gradient` differentiates with respect to: variables and symbolic tensors, in arrays and objects nested at will. */
export type Sources = Structure<Variable | SymbolicTensor>;

/** The gradients of {@link Sources}, in the same structure; `null` where the target does not depend on the source (TF's None). */
export type Gradients<S> = MapLeaves<S, SymbolicTensor | null>;

/** Options of {@link GradientTape}, as TF's constructor arguments. */
export interface GradientTapeOptions {
  /** Allow `gradient` to be called more than once (default false). */
  persistent?: boolean;
  /** Watch every variable an operation recorded by the tape reads (default true); when false, only what `watch` names. */
  watchAccessedVariables?: boolean;
}

/** Options of {@link GradientTape.gradient}. */
export interface GradientOptions {
  /** The target's cotangent, shaped like the target (TF's `output_gradients`; default ones, for a scalar target). */
  outputGradients?: SymbolicTensor;
  /** What an unconnected source gets: `"none"` (null, the default, as TF) or `"zero"` (zeros shaped like the source). */
  unconnectedGradients?: "none" | "zero";
}

/** A half-open range `[from, to)` of node ids. */
type Window = [number, number];

/**
 * Records the operations of a traced function for differentiation, as `tf.GradientTape`:
 * recording starts when the tape is constructed (inside `fn`/`jit`) and ends at the first
 * `gradient` call or `stop()` (or `using tape = new GradientTape()` leaving its block), which is
 * where TF's `with` block would end. Variables read by recorded operations are watched
 * automatically; other tensors must be `watch`ed. Nest tapes for higher derivatives: an outer
 * tape still recording records the inner tape's gradient computation.
 */
export class GradientTape {
  /** Whether `gradient` may be called more than once. */
  readonly persistent: boolean;
  /** Whether variables read by recorded operations are watched without `watch`. */
  readonly watchAccessedVariables: boolean;
  private readonly builder: GraphBuilder;
  private readonly start: number;
  private end: number | null = null;
  private readonly paused: Window[] = [];
  /** When (graph length) each explicitly watched value was watched. */
  private readonly watchedAt = new Map<number, number>();
  private used = false;

  constructor(options: GradientTapeOptions = {}) {
    const b = currentTrace();
    if (!b) throw new DualgradError("GradientTape: create it inside a traced function (fn(), jit()), where the operations it records are traced");
    this.builder = b;
    this.persistent = options.persistent ?? false;
    this.watchAccessedVariables = options.watchAccessedVariables ?? true;
    this.start = b.graph.nodes.length;
  }

  /** True until `gradient` or `stop` ends the recording. */
  get recording(): boolean {
    return this.end === null;
  }

  /** Watches tensors or variables (nested arrays and objects of them): operations recorded from now on that use them are differentiable with respect to them. */
  watch(sources: Sources): void {
    if (!this.recording) throw new DualgradError("GradientTape.watch: the tape has stopped recording");
    for (const s of leavesOf(sources, isSource, "GradientTape.watch")) {
      const id = this.idOf(s, "GradientTape.watch");
      if (!this.watchedAt.has(id)) this.watchedAt.set(id, this.builder.graph.nodes.length);
    }
  }

  /** Runs `f` without recording its operations (TF's `with tape.stop_recording()`), and returns its result. */
  stopRecording<R>(f: () => R): R {
    if (!this.recording) throw new DualgradError("GradientTape.stopRecording: the tape has stopped recording");
    const from = this.builder.graph.nodes.length;
    try {
      return f();
    } finally {
      this.paused.push([from, this.builder.graph.nodes.length]);
    }
  }

  /** Ends the recording (the end of TF's `with` block); later operations are not recorded. */
  stop(): void {
    this.end ??= this.builder.graph.nodes.length;
  }

  /** Ends the recording, so `using tape = new GradientTape()` records until its block ends. */
  [Symbol.dispose](): void {
    this.stop();
  }

  /**
   * The gradients of `target` with respect to `sources`, in the structure of `sources`: `null`
   * for a source the target does not depend on through recorded operations (TF's None). Ends
   * the recording. A non-persistent tape allows one call, as in TF.
   */
  gradient<S extends Sources>(target: SymbolicTensor, sources: S, options: GradientOptions = {}): Gradients<S> {
    if (this.used && !this.persistent) {
      throw new DualgradError("GradientTape.gradient can only be called once on non-persistent tapes (create it with { persistent: true } to call it again)");
    }
    if (!(target instanceof SymbolicTensor)) throw new DualgradError("GradientTape.gradient: the target must be a symbolic tensor computed in the traced function");
    if (target.builder !== this.builder) throw new DualgradError("GradientTape.gradient: the target comes from another trace than the tape's");
    this.used = true;
    this.stop();
    const leaves = leavesOf(sources, isSource, "GradientTape.gradient");
    const b = this.builder;
    const ids = leaves.map((s) => this.idOf(s, "GradientTape.gradient"));
    const seed = options.outputGradients?.id;
    const recorded = this.recordedNodes();
    const live = (id: number) => recorded.has(id) || this.watchedAt.has(id) || (this.watchAccessedVariables && b.graph.nodes[id].op === "variable");
    const grads = withTrace(b, () => {
      const gs = backprop(b, target.id, ids, seed, (id) => recorded.has(id));
      return gs.map((g, k) => {
        const id = ids[k];
        if (g !== undefined && live(id)) return new SymbolicTensor(b, g);
        if (options.unconnectedGradients !== "zero") return null;
        const n = b.graph.nodes[id];
        return new SymbolicTensor(b, b.emit("broadcast_to", [b.constant(0, n.dtype)], { shape: n.shape }));
      });
    });
    return withLeaves<Variable | SymbolicTensor, SymbolicTensor | null>(sources, isSource, grads) as unknown as Gradients<S>;
  }

  /** The value id of a source in the tape's graph. */
  private idOf(s: Variable | SymbolicTensor, api: string): number {
    if (s instanceof Variable) return this.builder.variable(s);
    if (s.builder !== this.builder) throw new DualgradError(`${api}: a symbolic tensor from another trace than the tape's`);
    return s.id;
  }

  /**
   * The operations the tape recorded: built while it was recording (outside `stopRecording`) and
   * reading a watched value: a watched tensor (watched before the operation was built), a
   * variable when variables are watched automatically, or the result of a recorded operation.
   */
  private recordedNodes(): Set<number> {
    const nodes = this.builder.graph.nodes;
    const recorded = new Set<number>();
    const end = this.end ?? nodes.length;
    const watches = (input: number, at: number) =>
      recorded.has(input) || (this.watchedAt.get(input) ?? Infinity) <= at || (this.watchAccessedVariables && nodes[input].op === "variable");
    for (let id = this.start; id < end; id++) {
      if (this.paused.some(([from, to]) => id >= from && id < to)) continue;
      if (nodes[id].inputs.some((i) => watches(i, id))) recorded.add(id);
    }
    return recorded;
  }
}

/** Leaf test for {@link Sources}. */
const isSource = (x: unknown): x is Variable | SymbolicTensor => x instanceof Variable || x instanceof SymbolicTensor;

/**
 * Pairs two equally long arrays, as Python's `zip(strict=True)`, for
 * `optimizer.applyGradients(zip(grads, vars))`. Unequal lengths are an error rather than a
 * silent truncation.
 */
export function zip<A, B>(a: readonly A[], b: readonly B[]): [A, B][] {
  if (a.length !== b.length) throw new DualgradError(`zip: the arrays have different lengths (${a.length} and ${b.length})`);
  return a.map((x, i) => [x, b[i]]);
}
