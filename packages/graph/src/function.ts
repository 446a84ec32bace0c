import { DualgradError, formatShape } from "@dualgrad/core";
import { GraphBuilder } from "./builder.js";
import { compile, type CompiledGraph } from "./compile.js";
import { HostTensor, isTensorData, type TensorData } from "./host-tensor.js";
import { mapSubgraphs, type Graph } from "./ir.js";
import { elementwiseFusion } from "./passes/fusion.js";
import { gemmEpilogueFusion } from "./passes/gemm-epilogue.js";
import { scheduleUpdates } from "./passes/schedule.js";
import { optimize, type PassName } from "./passes/pipeline.js";
import { SymbolicTensor, currentTrace, withTrace } from "./symbolic.js";
import { valueKey } from "./value-key.js";
import { Variable } from "./variable.js";

/** Every pass that can be switched off: the optimisation passes, fusion, gemm epilogues (part of fusion), and in-place memory reuse. */
export type StageSwitch = PassName | "fuse" | "epilogue" | "inplace";

/** Options of {@link fn} / `graph.function`. */
export interface FunctionOptions {
  /** Name used in warnings and errors. */
  name?: string;
  /** Passes to switch off (all are on by default). */
  disable?: readonly StageSwitch[];
  /** Retrace for new input signatures (default true); when false, a new signature is an error. */
  retrace?: boolean;
  /** Warn (once) when the function has been traced this many times (default 5, like TensorFlow). */
  warnAfterTraces?: number;
  /** Run reference kernels (for conformance tests). */
  reference?: boolean;
}

/** A traced function at each stage of the pipeline, for display and tests. */
export interface Lowered {
  traced: Graph;
  optimized: Graph;
  fused: Graph;
  compiled: CompiledGraph;
}

type TraceOut = SymbolicTensor | Variable | number | readonly (SymbolicTensor | Variable | number)[];

/**
 * One argument's contribution to the cache key: dtype and shape for a tensor, the name for a
 * variable, and for a static argument its exact value key (see value-key.ts), so that `NaN`,
 * `Infinity` and `null`, or two different functions, never share a trace.
 */
function signaturePart(a: unknown): string {
  if (isTensorData(a)) return `${a.dtype}${formatShape(a.shape)}`;
  if (a instanceof Variable) return `var:${a.name}`;
  try {
    return `static:${valueKey(a)}`;
  } catch (err) {
    throw new DualgradError(`graph.function: a static argument cannot be a cache key: ${(err as Error).message}`);
  }
}

/** Traces `f` on symbolic inputs shaped like `args`; static (non-tensor) args are passed through. */
export function traceGraph(f: (...args: never[]) => TraceOut, args: readonly unknown[]): { graph: Graph; variables: Map<string, Variable>; single: boolean } {
  const b = new GraphBuilder();
  const symArgs = args.map((a, k) => (isTensorData(a) ? new SymbolicTensor(b, b.input(`arg${k}`, a.shape, a.dtype)) : a));
  const out = withTrace(b, () => (f as (...a: unknown[]) => TraceOut)(...symArgs));
  const single = !Array.isArray(out);
  const list = (single ? [out] : out) as (SymbolicTensor | Variable | number)[];
  for (const o of list) {
    const id = o instanceof SymbolicTensor ? o.id : o instanceof Variable ? b.variable(o) : typeof o === "number" ? b.constant(o, "float32") : -1;
    if (id < 0) throw new DualgradError("graph.function: the function must return symbolic tensors (or an array of them)");
    b.graph.outputs.push(id);
  }
  return { graph: b.graph, variables: b.variables, single };
}

/** The shape and dtype of one traced input (what `trace` needs instead of data). */
export interface InputSpec {
  shape: readonly number[];
  dtype?: "float32" | "float64" | "int32";
}

/**
 * `trace(f, inputSpecs)`: runs `f` on symbolic inputs of the given shapes and dtypes and returns
 * the recorded graph (like `jax.make_jaxpr`), without compiling it. Shape errors surface here.
 */
export function trace(f: (...args: never[]) => TraceOut, inputSpecs: readonly InputSpec[]): Graph {
  const args = inputSpecs.map((s) => {
    const dtype = s.dtype ?? "float32";
    return { shape: [...s.shape], dtype, data: new (dtype === "int32" ? Int32Array : dtype === "float64" ? Float64Array : Float32Array)(0) };
  });
  return traceGraph(f, args).graph;
}

/** Runs the pass pipeline on a traced graph, honouring the switches. */
export function lowerGraph(traced: Graph, variables: ReadonlyMap<string, Variable>, options: FunctionOptions = {}): Lowered {
  const disable = options.disable ?? [];
  const passes = disable.filter((d): d is PassName => d !== "fuse" && d !== "epilogue" && d !== "inplace");
  // Every pass also runs inside control-flow bodies (innermost first).
  const deep = (pass: (g: Graph) => Graph) => {
    const run = (g: Graph): Graph => pass(mapSubgraphs(g, run));
    return run;
  };
  const optimized = deep((g) => optimize(g, { disable: passes }))(traced);
  // Gemm epilogues absorb matmuls into the fused chains, so they run after (and only with) fusion.
  const fusion = disable.includes("epilogue") ? elementwiseFusion : (g: Graph) => gemmEpilogueFusion(elementwiseFusion(g));
  const fused = scheduleUpdates(disable.includes("fuse") ? optimized : deep(fusion)(optimized));
  const compiled = compile(fused, variables, { reference: options.reference, inPlace: !disable.includes("inplace") });
  return { traced, optimized, fused, compiled };
}

/** A compiled, cached function: call it with tensors; it traces once per input signature. */
export interface GraphFunction<R> {
  (...args: unknown[]): R;
  /** How many times the function has been traced. */
  readonly traceCount: number;
  /** The stages of the trace for these arguments (traced on demand, cached like a call). */
  lower(...args: unknown[]): Lowered;
  /** Releases every compiled graph's arena. */
  dispose(): void;
}

/**
 * A call made while another function is being traced: `f` runs directly on the outer trace (its
 * ops become part of the outer graph, as a `jit` inside a `jit` or a `tf.function` called from
 * another is inlined), concrete tensor arguments becoming constants of that graph (variables are
read as variables). No trace of
 * its own is made or cached, and the result is symbolic.
 */
function inlineCall(outer: GraphBuilder, f: (...args: never[]) => TraceOut, args: readonly unknown[]): TraceOut {
  // A variable stays a variable (read live in the outer graph); other concrete tensors are data.
  const symArgs = args.map((a) => (isTensorData(a) && !(a instanceof Variable) ? new SymbolicTensor(outer, outer.constantArray(a.data, a.shape, a.dtype)) : a));
  return withTrace(outer, () => (f as (...a: unknown[]) => TraceOut)(...symArgs));
}

/**
 * `graph.function(f)` — the `tf.function` / `jax.jit` analogue. The first call with a given
 * input signature (shapes, dtypes, static argument values) traces `f` into a graph, optimises,
 * fuses, plans and compiles it; later calls with that signature only run the compiled plan.
 * Variables `f` reads persist between calls; `assign`s inside `f` update them. Called while
 * another function is being traced (one `fn` calling another), `f` is inlined into that trace
 * and returns symbolic tensors.
 */
export function fn<R = HostTensor | HostTensor[]>(f: (...args: never[]) => TraceOut, options: FunctionOptions = {}): GraphFunction<R> {
  const name = options.name ?? (f.name || "function");
  const cache = new Map<string, { lowered: Lowered; single: boolean }>();
  let traces = 0;
  let warned = false;
  const entryFor = (args: unknown[]) => {
    const key = args.map(signaturePart).join(", ");
    let entry = cache.get(key);
    if (entry) return entry;
    if (options.retrace === false && cache.size > 0) {
      throw new DualgradError(
        `${name}: called with signature (${key}) but it was traced for (${[...cache.keys()].join(") or (")}) and retracing is off`,
      );
    }
    const { graph, variables, single } = traceGraph(f, args);
    traces++;
    const threshold = options.warnAfterTraces ?? 5;
    if (traces >= threshold && !warned) {
      warned = true;
      console.warn(
        `${name}: ${traces} traces so far, one per new input signature (latest: ${key}). Tracing is expensive; ` +
          `call it with fixed shapes, pass changing Python-like values as tensors rather than static arguments, or set retrace: false to make this an error.`,
      );
    }
    entry = { lowered: lowerGraph(graph, variables, options), single };
    cache.set(key, entry);
    return entry;
  };
  const call = (...args: unknown[]): R => {
    const outer = args.find((a): a is SymbolicTensor => a instanceof SymbolicTensor)?.builder ?? currentTrace();
    if (outer) return inlineCall(outer, f, args) as R;
    const { lowered, single } = entryFor(args);
    const outs = lowered.compiled.run(args.filter(isTensorData) as TensorData[]);
    return (single ? outs[0] : outs) as R;
  };
  Object.defineProperty(call, "traceCount", { get: () => traces });
  return Object.assign(call, {
    lower: (...args: unknown[]) => entryFor(args).lowered,
    dispose: () => {
      for (const e of cache.values()) e.lowered.compiled.dispose();
      cache.clear();
    },
  }) as unknown as GraphFunction<R>;
}

/** Alias of {@link fn}, under JAX's name. */
export const jit = fn;
