import {
  allocator, inferMeta, isElementwisePrim, profiler, shapesLabel,
  type Attrs, type DType, type ElementwiseKernel, type ElementwiseOp, type ElementwiseOperand, type Emitter, type Meta, type Prim, type Value,
} from "@dualgrad/core";

/**
 * Tracing one of core's rules (a VJP rule, an optimizer update) into an elementwise program
 * instead of running it op by op, so eager can run the whole rule as one kernel compiled by core
 * (compileProgram: the compiler of the graph's fused kernels). The rule stays core's; only its
 * emitter changes. Each op keeps its dtype, so the compiled kernel rounds where the unfused ops
 * would store, and gives their bits.
 */

/** A value while tracing: an operand of the program (a slot of the caller's values, an op's result, a literal) with its meta. */
export interface Traced extends Meta {
  readonly operand: ElementwiseOperand | { readonly from: "slot"; readonly index: number };
}

/** Thrown while tracing to give up on a rule (an op that is not elementwise, a non-float constant). */
export class NotFusable extends Error {}

/** The caller's value number `index` (of meta `m`) as a traced program input. */
export function slotValue(m: Meta, index: number): Traced {
  return { shape: m.shape, dtype: m.dtype, operand: { from: "slot", index } };
}

/**
 * An emitter that records elementwise emits into a program instead of running them. `slots`
 * lists, per program input, which caller value it reads, in first-use order.
 */
export class ProgramTracer implements Emitter<Traced> {
  readonly ops: ElementwiseOp[] = [];
  readonly slots: number[] = [];

  emit<P extends Prim>(prim: P, inputs: readonly Traced[], attrs: Attrs[P]): Traced {
    if (!isElementwisePrim(prim)) throw new NotFusable();
    const meta = inferMeta(prim, inputs, attrs);
    const operands = inputs.map((t): ElementwiseOperand => {
      if (t.operand.from !== "slot") return t.operand;
      let at = this.slots.indexOf(t.operand.index);
      if (at < 0) at = this.slots.push(t.operand.index) - 1;
      return { from: "in", index: at };
    });
    this.ops.push({ prim, attrs, operands, dtype: meta.dtype } as ElementwiseOp);
    return { ...meta, operand: { from: "op", index: this.ops.length - 1 } };
  }

  meta(t: Traced): Meta {
    return t;
  }

  constant(value: number, dtype: DType): Traced {
    // The literal a rank-0 tensor of that dtype would hold; only float dtypes are inlined as the graph does.
    if (dtype !== "float32" && dtype !== "float64") throw new NotFusable();
    return { shape: [], dtype, operand: { from: "const", value: dtype === "float32" ? Math.fround(value) : value } };
  }

  /** True when `t` is the result of the last op emitted (what a compiled program outputs). */
  isLast(t: Traced): boolean {
    return t.operand.from === "op" && t.operand.index === this.ops.length - 1;
  }
}

/**
 * Runs one compiled program as a kernel launch: `kernel` over `inputs` into `out` (which may be
 * one of the inputs: elementwise, each element is read before its slot is written), timed as
 * `name` when profiling, with `allocated` bytes of new memory, and counted in core's launches.
 */
export function launchProgram(kernel: ElementwiseKernel, name: string, out: Value, inputs: readonly Value[], allocated: number): void {
  const p = profiler;
  const t0 = p === null ? 0 : p.now();
  kernel(out.data, out.shape, inputs.map((v) => v.data), inputs.map((v) => v.shape));
  p?.kernel(name, t0, shapesLabel(inputs), allocated);
  allocator.countLaunch();
}
