import { compileProgram, shapesEqual, type composites as C, type ElementwiseKernel, type Emitter } from "@dualgrad/core";
import { subScaledInPlace } from "../ops.js";
import { NotFusable, ProgramTracer, launchProgram, slotValue, type Traced } from "../program-tracer.js";
import type { Tensor } from "../tensor.js";

/**
 * An optimizer rule over one state buffer, generic in the emitter: core's composite with its
 * hyper-parameters and step bound (SGD's momentum rule), so the same definition runs op by op,
 * traced here into a program, or recorded by the graph.
 */
export type OneBufferRule = <T>(e: Emitter<T>, param: T, grad: T, buffer: T) => C.RuleResult<T, Record<string, T | null>>;

/** Compiled buffer updates by program (ops, constants and inputs), with their profile names. */
const kernels = new Map<string, { kernel: ElementwiseKernel; name: string }>();

/**
 * Applies `rule` to `param` in two kernels: the new state buffer as one fused elementwise
 * program written into the buffer's own memory (PyTorch's `buf.mul_(m).add_(g, alpha=1-d)`,
 * also in place), then `param -= lr * buffer` (subScaledInPlace). Op by op, SGD with momentum
 * is four launches a parameter (two scalings, an add, the update); the graph's fusion pass makes
 * the same two kernels of it. Each op keeps its dtype in the program, so the bits are the op-by-op
 * ones (and the graph's).
 *
 * Applies only where that is the whole rule: its one state entry is `name`, computed by
 * elementwise ops ending in it; the update's direction is that buffer with a fixed step size and
 * no decay; parameter, gradient and buffer share shape and dtype. Returns false, having done
 * nothing, otherwise (Nesterov's direction, a first step with no buffer yet); the caller then
 * runs the rule op by op.
 */
export function fusedBufferUpdate(rule: OneBufferRule, param: Tensor, grad: Tensor, name: string, buffer: Tensor): boolean {
  if (!shapesEqual(param.shape, grad.shape) || !shapesEqual(param.shape, buffer.shape) || param.dtype !== grad.dtype || param.dtype !== buffer.dtype) return false;
  const tracer = new ProgramTracer();
  let result: C.RuleResult<Traced, Record<string, Traced | null>>;
  try {
    result = rule(tracer, slotValue(param, 0), slotValue(grad, 1), slotValue(buffer, 2));
  } catch (err) {
    if (err instanceof NotFusable) return false;
    throw err;
  }
  const entries = Object.entries(result.state);
  const next = entries.length === 1 && entries[0][0] === name ? entries[0][1] : null;
  const { decay, direction, scale } = result.update;
  if (next === null || !tracer.isLast(next) || direction !== next || decay !== 1 || !("fixed" in scale)) return false;
  if (next.dtype !== param.dtype || !shapesEqual(next.shape, param.shape)) return false;
  const key = `${tracer.slots.join(",")}|${JSON.stringify(tracer.ops)}`;
  let k = kernels.get(key);
  if (k === undefined) {
    k = { kernel: compileProgram({ ops: tracer.ops }, tracer.slots.length), name: `fused(${tracer.ops.map((o) => o.prim).join("→")})_` };
    kernels.set(key, k);
  }
  const values = [param, grad, buffer].map((t) => t._storage.value);
  launchProgram(k.kernel, k.name, values[2], tracer.slots.map((s) => values[s]), 0);
  buffer._storage.version++;
  subScaledInPlace(param, buffer, scale.fixed);
  return true;
}
