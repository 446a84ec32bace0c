import {
  DualgradError, allocValue, allocator, kernelFlops, arrayConstructor, cancelReleaseOnCollect, compileConvEpilogue, compileGemmEpilogue, compileProgram, formatShape, ops, profiler, releaseOnCollect, releaseValue, shapesEqual, shapesLabel, valueFrom,
  type ProfileRecorder, type Prim, type TypedArray, type Value, type View,
} from "@dualgrad/core";
import { HostTensor, type TensorData } from "./host-tensor.js";
import { controlKernel, type ControlKernel } from "./control/kernels.js";
import { fusedKernelName, isControlNode, isPrimNode, valueName, type Graph, type PrimNode } from "./ir.js";
import { planMemory, printPlan, type Plan } from "./plan.js";
import type { Variable } from "./variable.js";

/** Options of {@link compile}. */
export interface CompileOptions {
  /** Run the reference kernels instead of the fast ones (for conformance tests). */
  reference?: boolean;
  /** Let elementwise ops write over dying inputs (default true). */
  inPlace?: boolean;
}

/**
 * A graph ready to run: its memory plan, one arena from core's allocator, constants and views
 * bound once, and a flat list of kernel closures. A call binds the inputs where the caller keeps
 * them (zero-copy: a tensor already in the WebAssembly heap is read in place by wasm kernels),
 * runs the closures in order (no per-op dispatch, no allocation), copies the outputs out and
 * writes the updates into the variables.
 */
export class CompiledGraph {
  readonly plan: Plan;
  private readonly arena: Value;
  private readonly constants: Value[] = [];
  private readonly views: View[];
  /** Variable buffers that kernels write during a call (updates planned into their variable). */
  private readonly writtenVariables: TypedArray[];
  private readonly kernels: (() => void)[] = [];
  /** Each kernel's name and input shapes as the profiler reports them (a fused kernel by its chain: `fused(mul→sub)`). */
  private readonly kernelNames: string[] = [];
  private readonly kernelShapes: string[] = [];
  /** Each kernel's useful flops (core's kernelFlops; 0 for the ops it does not count). */
  private readonly kernelFlopCounts: number[] = [];
  /** Variables the graph reads or updates: checked alive before each call, since kernels write them. */
  private readonly usedVariables: Variable[];
  /** Compiled control-flow nodes (their sub-graphs' arenas are released with this graph). */
  private readonly controls: ControlKernel[] = [];
  /** `scan d`, … : what each of {@link controls} runs, for printed plans. */
  private readonly controlNames: string[] = [];
  private disposed = false;

  constructor(readonly graph: Graph, private readonly variables: ReadonlyMap<string, Variable>, options: CompileOptions = {}) {
    this.plan = planMemory(graph, { inPlace: options.inPlace });
    // float64 elements keep every slot offset (a multiple of 16) aligned for any dtype view.
    this.arena = allocValue("float64", [Math.ceil(this.plan.arenaBytes / 8)]);
    // A bad variable throws below: give back what was allocated so far rather than leak it.
    try {
      this.views = graph.nodes.map((n): View => {
        // Bound to the caller's data at each call (see run).
        if (n.op === "input") return { shape: n.shape, dtype: n.dtype, data: new (arrayConstructor(n.dtype))(0) };
        if (n.op === "variable") {
          const v = variables.get(n.name!);
          if (!v) throw new DualgradError(`compile: the graph reads variable ${n.name}, which was not provided`);
          if (!shapesEqual(v.shape, n.shape) || v.dtype !== n.dtype) {
            throw new DualgradError(`compile: variable ${n.name} is ${v.dtype}${formatShape(v.shape)} but the graph expects ${n.dtype}${formatShape(n.shape)}`);
          }
          return v.value;
        }
        if (n.op === "constant") {
          const c = allocValue(n.dtype, n.shape);
          c.data.set(n.value!);
          this.constants.push(c);
          return c;
        }
        const target = this.plan.intoVariable.get(n.id);
        if (target !== undefined) return variables.get(target)!.value;
        const slot = this.plan.slots[n.id]!;
        const len = n.shape.reduce((a, b) => a * b, 1);
        const data = new (arrayConstructor(n.dtype))(this.arena.data.buffer as ArrayBuffer, this.arena.data.byteOffset + slot.offset, len);
        return { shape: n.shape, dtype: n.dtype, data };
      });
    } catch (err) {
      releaseValue(this.arena);
      for (const c of this.constants) releaseValue(c);
      throw err;
    }
    // A compiled graph dropped without dispose() gives its arena and constants back through
    // core's garbage-collection backstop; dispose() cancels that.
    releaseOnCollect(this, this.arena.buffer);
    for (const c of this.constants) releaseOnCollect(this, c.buffer);
    // The views of each control-flow node's results, by result index (written by its kernel).
    const results = new Map<number, View[]>();
    for (const n of graph.nodes) if (n.op === "get") (results.get(n.inputs[0]) ?? results.set(n.inputs[0], []).get(n.inputs[0])!)[n.attrs.index] = this.views[n.id];
    for (const step of this.plan.steps) {
      if (step.kind !== "run") continue;
      const node = graph.nodes[step.node];
      const out = this.views[node.id];
      const ins = node.inputs.map((i) => this.views[i]);
      if (node.op === "get") continue; // written by its control-flow node's kernel
      this.kernelNames.push(node.op === "fused" ? fusedKernelName(node.attrs) : node.op);
      this.kernelShapes.push(shapesLabel(ins));
      // An epilogue step counts its producer's product (inputs 0 and 1); the elementwise ops add none.
      const producer = node.op === "fused" ? node.attrs.producer : undefined;
      this.kernelFlopCounts.push(
        producer ? kernelFlops(producer.op, [ins[0].shape, ins[1].shape], node.shape, producer.attrs) : kernelFlops(node.op, ins.map((v) => v.shape), node.shape, node.attrs),
      );
      if (isControlNode(node)) {
        const k = controlKernel(node, ins, results.get(node.id) ?? [], (sub) => new CompiledGraph(sub, new Map(), options));
        this.controls.push(k);
        this.controlNames.push(`${node.op} ${valueName(node.id)}`);
        this.kernels.push(k.run);
      } else if (node.op === "fused" && node.attrs.producer !== undefined) {
        // A matmul or conv2d with its epilogue: core runs the program on the product as the gemm stores it.
        const p = node.attrs.producer;
        const shapes = ins.slice(2).map((v) => v.shape);
        if (options.reference) {
          // Reference kernels: the producer's, then the program over its result.
          const program = compileProgram(node.attrs, ins.length - 1);
          const produce = ops[p.op].reference as (inputs: readonly View[], out: View, attrs: unknown) => void;
          const pair = ins.slice(0, 2);
          const datas = [out.data, ...ins.slice(2).map((v) => v.data)];
          const programShapes = [out.shape, ...shapes];
          this.kernels.push(() => {
            produce(pair, out, p.attrs);
            for (let i = 2; i < ins.length; i++) datas[i - 1] = ins[i].data;
            program(out.data, out.shape, datas, programShapes);
          });
        } else if (p.op === "matmul") {
          const k = compileGemmEpilogue(node.attrs, out.shape, out.dtype, shapes);
          const { transA, transB } = p.attrs;
          this.kernels.push(() => k(ins, out, transA, transB));
        } else {
          const k = compileConvEpilogue(node.attrs, out.shape, out.dtype, shapes);
          this.kernels.push(() => k(ins, out, p.attrs));
        }
      } else if (node.op === "fused") {
        // Core picks per call between the program's wasm and JavaScript compilations.
        const k = compileProgram(node.attrs, ins.length);
        const datas = ins.map((v) => v.data);
        const shapes = ins.map((v) => v.shape);
        this.kernels.push(() => {
          // Input views are rebound per call; the others never change.
          for (let i = 0; i < ins.length; i++) datas[i] = ins[i].data;
          k(out.data, out.shape, datas, shapes);
        });
      } else if (isPrimNode(node)) {
        this.kernels.push(primKernel(node, ins, out, options.reference ?? false));
      } else {
        throw new DualgradError(`compile: the plan runs node ${node.id} (${node.op}), which computes nothing`);
      }
    }
    this.writtenVariables = [...this.plan.intoVariable.values()].map((name) => variables.get(name)!.value.data);
    const used = new Set([...graph.nodes.filter((n) => n.op === "variable").map((n) => n.name!), ...graph.updates.map((u) => u.variable)]);
    this.usedVariables = [...used].flatMap((name) => variables.get(name) ?? []);
  }

  /** @internal Binds input `k` to `data` without checks or copies (for control-flow kernels running a sub-graph). */
  bindInput(k: number, data: TypedArray): void {
    (this.views[this.graph.inputs[k]] as { data: TypedArray }).data = data;
  }

  /** @internal Runs the kernels on the bound inputs (no checks, no allocation); results stay in {@link outputView}. */
  runBound(): void {
    const kernels = this.kernels;
    for (let i = 0; i < kernels.length; i++) kernels[i]();
    allocator.countLaunch(kernels.length);
  }

  /** @internal The view holding output `k` after {@link runBound}. */
  outputView(k: number): View {
    return this.views[this.graph.outputs[k]];
  }

  /** Arena bytes: the plan's peak for intermediates, known before running. */
  get arenaBytes(): number {
    return this.plan.arenaBytes;
  }

  /** Runs the graph once on `inputs` (in the graph's input order). */
  run(inputs: readonly TensorData[]): HostTensor[] {
    if (this.disposed) throw new DualgradError("compiled graph was disposed");
    // A disposed variable's memory may already belong to another tensor: never run into it.
    for (let i = 0; i < this.usedVariables.length; i++) this.usedVariables[i].checkAlive("run");
    const g = this.graph;
    if (inputs.length !== g.inputs.length) {
      throw new DualgradError(`run: the graph takes ${g.inputs.length} inputs, got ${inputs.length}`);
    }
    // Copies of inputs that share memory with a variable this call writes (rare; released below).
    const copies: Value[] = [];
    g.inputs.forEach((id, k) => {
      const node = g.nodes[id];
      const x = inputs[k];
      if (!shapesEqual(x.shape, node.shape) || x.dtype !== node.dtype) {
        throw new DualgradError(`run: input ${k} (${node.name}) must be ${node.dtype}${formatShape(node.shape)}, got ${x.dtype}${formatShape(x.shape)}`);
      }
      (this.views[id] as { data: TypedArray }).data = this.aliasesWrittenVariable(x.data) ? copies[copies.push(valueFrom(x.dtype, x.shape, x.data)) - 1].data : x.data;
    });
    const kernels = this.kernels;
    // The one profiling branch of a compiled call (see core's profiler.ts).
    const p = profiler;
    try {
      if (p === null) for (let i = 0; i < kernels.length; i++) kernels[i]();
      else this.runProfiled(p);
    } finally {
      copies.forEach(releaseValue);
    }
    allocator.countLaunch(kernels.length);
    const outputs = g.outputs.map((id) => {
      const v = this.views[id];
      return new HostTensor(v.shape, v.dtype, v.data.slice());
    });
    for (const u of g.updates) {
      const target = this.variables.get(u.variable)!.value.data;
      // Updates planned into the variable were written there by their kernel already.
      if (this.views[u.value].data !== target) target.set(this.views[u.value].data);
    }
    return outputs;
  }

  /** Runs the kernels timing each plan step (nothing is allocated: every kernel writes into the arena or a variable). */
  private runProfiled(p: ProfileRecorder): void {
    const kernels = this.kernels;
    for (let i = 0; i < kernels.length; i++) {
      const t0 = p.now();
      kernels[i]();
      p.kernel(this.kernelNames[i], t0, this.kernelShapes[i], 0, this.kernelFlopCounts[i]);
    }
  }

  /** Whether `data` overlaps a variable buffer that a kernel writes during the call (then it must be copied first). */
  private aliasesWrittenVariable(data: TypedArray): boolean {
    for (const v of this.writtenVariables) {
      if (v.buffer === data.buffer && v.byteOffset < data.byteOffset + data.byteLength && data.byteOffset < v.byteOffset + v.byteLength) return true;
    }
    return false;
  }

  /** The plan as text. */
  printPlan(): string {
    // A control-flow node's sub-graphs have plans (and arenas) of their own, printed under it.
    const subs = this.controls.flatMap((c, k) => c.compiled.map((g, j) => `  sub-plan ${k}.${j} (${this.controlNames[k]}):\n${g.printPlan().replace(/^/gm, "    ")}`));
    return [printPlan(this.graph, this.plan), ...subs].join("\n");
  }

  /** Releases the arena and the constants (variables belong to their owner). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    cancelReleaseOnCollect(this);
    releaseValue(this.arena);
    this.constants.forEach(releaseValue);
    this.controls.forEach((c) => c.dispose());
  }
}

/** The closure running prim node `n`'s kernel (or its reference loops) from `ins` into `out`; generic so `attrs` is typed by the primitive. */
function primKernel<P extends Prim>(n: PrimNode<P>, ins: readonly View[], out: View, reference: boolean): () => void {
  const def = ops[n.op];
  const run = reference ? def.reference : def.kernel;
  const attrs = n.attrs;
  return () => run(ins, out, attrs);
}

/** Plans and compiles `graph`; `variables` supplies every variable the graph reads or assigns. */
export function compile(graph: Graph, variables: ReadonlyMap<string, Variable>, options: CompileOptions = {}): CompiledGraph {
  return new CompiledGraph(graph, variables, options);
}
