import {
  allocValue, compileProgram, ops, releaseValue, shapesEqual,
  type Attrs, type DType, type ElementwiseKernel, type Meta, type Prim,
} from "@dualgrad/core";
import { NotFusable, ProgramTracer, launchProgram, slotValue, type Traced } from "./program-tracer.js";
import { Tensor } from "./tensor.js";

/**
 * One kernel for a VJP rule that is a chain of elementwise ops, as the graph frontend's fusion
 * pass makes of the same ops (relu's `g * (x > 0)` is compare then mul: two launches and a
 * temporary unfused, one launch fused). The rule itself stays core's: it is traced once per
 * primitive, attributes and input metas on a symbolic emitter into an elementwise program, which
 * core compiles (compileProgram, the compiler of the graph's fused kernels and of eager's SGD
 * update). Each op's result is rounded to its dtype where the unfused op would store it, so the
 * gradient has the unfused rule's bits, and the graph's with or without fusion.
 *
 * Fused: rules of one differentiable input whose every emitted op is elementwise, with at least
 * two ops, whose gradient is the last op and has the input's shape. Anything else (a reduction,
 * sumTo, several gradients, a non-float constant) runs op by op as before; so does a backward
 * that records the gradient graph (`createGraph`), whose tape needs every op.
 */

/** A rule's compiled form: the kernel and which of the node's values (inputs, out, g) feed it. */
interface FusedRule {
  readonly kernel: ElementwiseKernel;
  readonly name: string;
  /** Slot of each kernel input: 0..n-1 the node's inputs, n its output, n+1 the cotangent. */
  readonly slots: readonly number[];
  readonly input: number;
  readonly dtype: DType;
}

/** Traces `prim`'s rule at `metas` (the inputs, the output, the cotangent) into a fused rule, or null when it does not qualify. */
function trace(prim: Prim, attrs: Attrs[Prim], metas: readonly Meta[], wants: readonly boolean[]): FusedRule | null {
  const tracer = new ProgramTracer();
  const n = metas.length - 2;
  const inputs = metas.slice(0, n).map(slotValue);
  let grads: (Traced | null)[];
  try {
    grads = ops[prim].vjp(tracer, inputs, slotValue(metas[n], n), slotValue(metas[n + 1], n + 1), attrs as never, wants);
  } catch (err) {
    if (err instanceof NotFusable) return null;
    throw err;
  }
  const wanted = grads.flatMap((g, i) => (g !== null && wants[i] ? [i] : []));
  if (wanted.length !== 1 || tracer.ops.length < 2) return null;
  const input = wanted[0];
  const g = grads[input]!;
  if (!tracer.isLast(g) || !shapesEqual(g.shape, metas[input].shape) || g.dtype !== metas[input].dtype) return null;
  return {
    kernel: compileProgram({ ops: tracer.ops }, tracer.slots.length),
    name: `fused(${tracer.ops.map((o) => o.prim).join("→")})`,
    slots: tracer.slots,
    input,
    dtype: g.dtype,
  };
}

/** Traced rules by prim, attributes, wanted input and value metas; null for rules that do not fuse. */
const rules = new Map<string, FusedRule | null>();

function ruleFor(prim: Prim, attrs: Attrs[Prim], values: readonly Tensor[], wants: readonly boolean[]): FusedRule | null {
  // When every value has the wanted input's shape (the usual case), the traced program does not
  // depend on the sizes, so one entry per rank serves them all; otherwise the key names the shapes.
  const input = wants.indexOf(true);
  const shape = values[input].shape;
  let key = `${prim}|${JSON.stringify(attrs)}|${input}|${shape.length}`;
  let same = true;
  for (const t of values) {
    key += `|${t.dtype}`;
    same &&= shapesEqual(t.shape, shape);
  }
  if (!same) for (const t of values) key += `[${t.shape.join(",")}]`;
  let rule = rules.get(key);
  if (rule === undefined) rules.set(key, (rule = trace(prim, attrs, values, wants)));
  return rule;
}

/**
 * @internal The input gradients of an elementwise node in one fused kernel, or null when its
 * rule does not qualify (the caller then runs the rule op by op). `wants` as core's VJP takes it.
 *
 * With `gIsOurs` (the caller holds the only reference to the cotangent and drops it after this
 * node), a gradient of g's shape and dtype is written into g's own buffer and g is returned as
 * it, as the graph's in-place pass reuses a dead operand's buffer for a fused kernel: each
 * element is read before its slot is written, so the bits are the same, and the step neither
 * allocates nor touches a cold buffer (relu's backward over a conv activation is 1.5 MiB).
 */
export function fusedVjp(
  prim: Prim, attrs: Attrs[Prim], inputs: readonly Tensor[], out: Tensor, g: Tensor, wants: readonly boolean[], gIsOurs = false,
): (Tensor | null)[] | null {
  // Only rules with one wanted gradient can fuse: skip the others before building a cache key.
  if (ops[prim].kind !== "elementwise" || wants.reduce((n, w) => (w ? n + 1 : n), 0) !== 1) return null;
  const values = [...inputs, out, g];
  const rule = ruleFor(prim, attrs, values, wants);
  if (rule === null) return null;
  // The gradient has the input's shape (the rule may have been traced at other sizes).
  const shape = inputs[rule.input].shape;
  const inPlace = gIsOurs && g.dtype === rule.dtype && shapesEqual(g.shape, shape);
  const result = inPlace ? g._storage.value : allocValue(rule.dtype, shape);
  try {
    launchProgram(rule.kernel, rule.name, result, rule.slots.map((s) => values[s]._storage.value), inPlace ? 0 : result.data.byteLength);
  } catch (err) {
    if (!inPlace) releaseValue(result);
    throw err;
  }
  const grads: (Tensor | null)[] = inputs.map(() => null);
  grads[rule.input] = inPlace ? g : new Tensor(result);
  return grads;
}
