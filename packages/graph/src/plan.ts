import { bytesPerElement, isPrim, ops, sizeOf } from "@dualgrad/core";
import { assignOffsets, type Lifetime } from "./arena-offsets.js";
import { fusedKernelName, valueName, type Graph, type GraphNode } from "./ir.js";

/**
 * Memory planning by liveness: every computed value gets an offset in one arena (inputs are read
 * where the caller keeps them, and never written). A value lives from the step that defines it to its last
 * reader; outputs and updates live to the end. Since every lifetime is known before anything
 * runs, offsets are assigned greedy by size (largest first, lowest non-overlapping offset); an
 * elementwise op may write over an input that dies at that op ("in place"), and an optimizer
 * update may be computed straight into its variable. The plan is data and knows its peak.
 */

/** Where a value lives in the arena. */
export interface Slot {
  offset: number;
  bytes: number;
}

/** One step of a compiled plan. */
export type PlanStep =
  | { kind: "alloc"; value: number; offset: number; bytes: number }
  | { kind: "run"; node: number; inPlaceOf?: number; intoVariable?: string }
  | { kind: "free"; value: number };

/** A memory plan over a graph. */
export interface Plan {
  steps: PlanStep[];
  /** Arena slot of each value id; null for inputs, variables and constants (they have their own buffers). */
  slots: (Slot | null)[];
  /** Arena size: the plan's peak bytes for intermediates. */
  arenaBytes: number;
  /** What the values would take without any reuse (the sum of their sizes). */
  unplannedBytes: number;
  /** How many ops write over a dying input. */
  inPlaceCount: number;
  /** Update values computed straight into their variable's buffer (value id -> variable name). */
  intoVariable: Map<number, string>;
}

const ALIGN = 16;
const aligned = (bytes: number) => Math.ceil(bytes / ALIGN) * ALIGN;

/**
 * Whether `node` may write its result over its input's memory (same-index reads and writes). Not
 * an epilogue: its gemm stores partial sums into C before the program reads its operands, and
 * reads its own inputs throughout.
 */
function canRunInPlace(node: GraphNode): boolean {
  const op = node.op;
  return (op === "fused" && node.attrs.producer === undefined) || op === "reshape" || (isPrim(op) && ops[op].kind === "elementwise");
}

/** Plans the arena for `g`. `inPlace: false` turns off writing over dying inputs (for comparison and debugging). */
export function planMemory(g: Graph, options: { inPlace?: boolean } = {}): Plan {
  const inPlace = options.inPlace ?? true;
  const n = g.nodes.length;
  const end = n; // outputs and updates are read "after" the last node
  const lastUse = new Array<number>(n).fill(-1);
  for (const node of g.nodes) for (const i of node.inputs) lastUse[i] = Math.max(lastUse[i], node.id);
  for (const o of g.outputs) lastUse[o] = end;
  for (const u of g.updates) lastUse[u.value] = end;
  const bytesOf = (id: number) => aligned(sizeOf(g.nodes[id].shape) * bytesPerElement(g.nodes[id].dtype));
  // Writing over an input is safe only when element i of the output sits exactly where element
  // i of the input was: the same number of elements of the same size (a broadcast operand with
  // fewer elements, padded to the same aligned size, would be overwritten while still being read).
  const sameLayout = (i: number, o: number) =>
    sizeOf(g.nodes[i].shape) === sizeOf(g.nodes[o].shape) && bytesPerElement(g.nodes[i].dtype) === bytesPerElement(g.nodes[o].dtype);
  // An update computed by an elementwise kernel that nothing else reads, after the last read of
  // its variable, can write the new value straight into the variable's buffer: no arena slot and
  // no copy at the end (the optimizer's `p - lr * g` reads p[i] before writing p[i]).
  const readers = new Array<number>(n).fill(0);
  for (const node of g.nodes) for (const i of new Set(node.inputs)) readers[i]++;
  const intoVariable = new Map<number, string>();
  if (inPlace) {
    const assigned = new Map<string, number>();
    const assignments = new Map<number, number>();
    for (const u of g.updates) {
      assigned.set(u.variable, (assigned.get(u.variable) ?? 0) + 1);
      assignments.set(u.value, (assignments.get(u.value) ?? 0) + 1);
    }
    const varNode = new Map<string, number>();
    for (const x of g.nodes) if (x.op === "variable") varNode.set(x.name!, x.id);
    const isOutput = new Set(g.outputs);
    for (const u of g.updates) {
      const v = g.nodes[u.value];
      const varId = varNode.get(u.variable);
      if (
        canRunInPlace(v) && readers[u.value] === 0 && !isOutput.has(u.value) && assigned.get(u.variable) === 1 &&
        varId !== undefined && lastUse[varId] <= u.value && assignments.get(u.value) === 1
      ) {
        intoVariable.set(u.value, u.variable);
      }
    }
  }
  // Inputs are read where the caller keeps them (zero-copy, as jit reads device arrays), so they
  // take no arena space and are never written over; variables and constants have their own buffers.
  const inArena = (id: number) => g.nodes[id].op !== "input" && g.nodes[id].op !== "variable" && g.nodes[id].op !== "constant" && !intoVariable.has(id);

  // 1. In-place chains: an op may take over the slot of an input that dies at that op.
  //    Each chain (or lone value) becomes one lifetime.
  const chainOf = new Array<Lifetime | null>(n).fill(null);
  const donorOf = new Map<number, number>();
  const lifetimes: Lifetime[] = [];
  const newLifetime = (id: number, start: number) => {
    const l = { bytes: bytesOf(id), start, end: Math.max(start, lastUse[id]), offset: 0 };
    lifetimes.push(l);
    chainOf[id] = l;
  };
  const donated = new Set<number>();
  for (const node of g.nodes) {
    if (!inArena(node.id)) continue;
    // In place: an arena input of exactly this layout that dies here and is read only once by it.
    const donor = !inPlace || !canRunInPlace(node)
      ? undefined
      : node.inputs.find((i) => inArena(i) && lastUse[i] === node.id && sameLayout(i, node.id) && !donated.has(i)
          && node.inputs.filter((j) => j === i).length === 1);
    if (donor !== undefined) {
      donated.add(donor);
      donorOf.set(node.id, donor);
      const l = chainOf[donor]!;
      l.end = Math.max(l.end, lastUse[node.id], node.id);
      chainOf[node.id] = l;
    } else {
      // A control-flow node's results are written while it runs: they live from that node on.
      newLifetime(node.id, node.op === "get" ? node.inputs[0] : node.id);
    }
  }
  // 2. Offsets for all lifetimes at once.
  const arenaBytes = assignOffsets(lifetimes);
  const slots: (Slot | null)[] = chainOf.map((l) => (l ? { offset: l.offset, bytes: l.bytes } : null));
  const unplannedBytes = g.nodes.reduce((sum, x) => sum + (inArena(x.id) ? bytesOf(x.id) : 0), 0);
  // 3. The step list: alloc when a chain starts, run, free when a chain's last reader has run.
  const steps: PlanStep[] = [];
  const freed = new Set<Lifetime>();
  const freeEnded = (ids: Iterable<number>, at: number) => {
    for (const i of ids) {
      const l = chainOf[i];
      if (l && l.end <= at && !freed.has(l) && !donated.has(i)) {
        freed.add(l);
        steps.push({ kind: "free", value: i });
      }
    }
  };
  for (const node of g.nodes) {
    if (intoVariable.has(node.id)) {
      steps.push({ kind: "run", node: node.id, intoVariable: intoVariable.get(node.id) });
    } else if (inArena(node.id)) {
      const donor = donorOf.get(node.id);
      if (donor === undefined) steps.push({ kind: "alloc", value: node.id, offset: slots[node.id]!.offset, bytes: slots[node.id]!.bytes });
      steps.push(donor === undefined ? { kind: "run", node: node.id } : { kind: "run", node: node.id, inPlaceOf: donor });
    } else continue;
    freeEnded(new Set(node.inputs), node.id);
    freeEnded([node.id], node.id);
  }
  const inPlaceCount = donorOf.size;
  return { steps, slots, arenaBytes, unplannedBytes, inPlaceCount, intoVariable };
}

/** The plan as text: one line per step, with offsets. */
export function printPlan(g: Graph, plan: Plan): string {
  const lines = [`plan: arena ${plan.arenaBytes} bytes (without reuse ${plan.unplannedBytes}), ${plan.inPlaceCount} in place`];
  for (const s of plan.steps) {
    if (s.kind === "alloc") lines.push(`  alloc ${valueName(s.value)} @${s.offset} +${s.bytes}`);
    else if (s.kind === "free") lines.push(`  free  ${valueName(s.value)}`);
    else {
      const node = g.nodes[s.node];
      const where = s.inPlaceOf !== undefined ? `  (in place of ${valueName(s.inPlaceOf)})` : s.intoVariable !== undefined ? `  (into variable ${s.intoVariable})` : "";
      const name = node.op === "fused" && node.attrs.producer !== undefined ? fusedKernelName(node.attrs) : node.op;
      lines.push(`  run   ${valueName(s.node)} = ${name} ${node.inputs.map(valueName).join(" ")}${where}`);
    }
  }
  return lines.join("\n");
}
