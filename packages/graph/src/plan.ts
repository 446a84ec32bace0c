import { bytesPerElement, isPrim, ops, sizeOf } from "@dualgrad/core";
import { valueName, type Graph } from "./ir.js";

/**
 * Memory planning by liveness: every computed value (and every input, copied in at the start of
 * a call) gets an offset in one arena. A value lives from the step that defines it to its last
 * reader; outputs and updates live to the end. Offsets are chosen best-fit from a free list
 * that coalesces neighbours, and an elementwise op may write over an input that dies at that
 * op ("in place"). The plan is data and knows its peak before anything runs.
 */

/** Where a value lives in the arena. */
export interface Slot {
  offset: number;
  bytes: number;
}

/** One step of a compiled plan. */
export type PlanStep =
  | { kind: "alloc"; value: number; offset: number; bytes: number }
  | { kind: "run"; node: number; inPlaceOf?: number }
  | { kind: "free"; value: number };

/** A memory plan over a graph. */
export interface Plan {
  steps: PlanStep[];
  /** Arena slot of each value id; null for variables and constants (they have their own buffers). */
  slots: (Slot | null)[];
  /** Arena size: the plan's peak bytes for intermediates and inputs. */
  arenaBytes: number;
  /** What the values would take without any reuse (the sum of their sizes). */
  unplannedBytes: number;
  /** How many ops write over a dying input. */
  inPlaceCount: number;
}

const ALIGN = 16;
const aligned = (bytes: number) => Math.ceil(bytes / ALIGN) * ALIGN;

/** Best-fit allocator over offsets, with coalescing of adjacent free blocks. */
class FreeList {
  private free: Slot[] = [];
  size = 0;

  alloc(bytes: number): number {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].bytes >= bytes && (best < 0 || this.free[i].bytes < this.free[best].bytes)) best = i;
    }
    if (best >= 0) {
      const blk = this.free[best];
      const offset = blk.offset;
      if (blk.bytes === bytes) this.free.splice(best, 1);
      else this.free[best] = { offset: offset + bytes, bytes: blk.bytes - bytes };
      return offset;
    }
    // Grow the arena, starting inside a free block that touches its end.
    const last = this.free[this.free.length - 1];
    if (last && last.offset + last.bytes === this.size) {
      this.free.pop();
      this.size = last.offset + bytes;
      return last.offset;
    }
    const offset = this.size;
    this.size += bytes;
    return offset;
  }

  release(slot: Slot): void {
    const i = this.free.findIndex((b) => b.offset > slot.offset);
    const at = i < 0 ? this.free.length : i;
    this.free.splice(at, 0, { ...slot });
    // Coalesce with the next, then with the previous block.
    const cur = this.free[at];
    const next = this.free[at + 1];
    if (next && cur.offset + cur.bytes === next.offset) {
      cur.bytes += next.bytes;
      this.free.splice(at + 1, 1);
    }
    const prev = this.free[at - 1];
    if (prev && prev.offset + prev.bytes === cur.offset) {
      prev.bytes += cur.bytes;
      this.free.splice(at, 1);
    }
  }
}

/** Whether `node` may write its result over its input's memory (same-index reads and writes). */
function canRunInPlace(op: string): boolean {
  return op === "fused" || op === "reshape" || (isPrim(op) && ops[op].kind === "elementwise");
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
  const inArena = (id: number) => g.nodes[id].op !== "variable" && g.nodes[id].op !== "constant";

  const slots: (Slot | null)[] = new Array(n).fill(null);
  const steps: PlanStep[] = [];
  const free = new FreeList();
  let unplannedBytes = 0;
  let inPlaceCount = 0;
  const allocate = (id: number) => {
    const bytes = bytesOf(id);
    const offset = free.alloc(bytes);
    slots[id] = { offset, bytes };
    unplannedBytes += bytes;
    steps.push({ kind: "alloc", value: id, offset, bytes });
  };
  const release = (id: number) => {
    free.release(slots[id]!);
    steps.push({ kind: "free", value: id });
  };
  // Inputs are copied in when a call starts, so they hold their slots from the beginning.
  for (const id of g.inputs) allocate(id);
  const donated = new Set<number>();
  for (const node of g.nodes) {
    if (!inArena(node.id) || node.op === "input") continue;
    // In place: an arena input of exactly this size that dies here and is not read elsewhere later.
    const donor = !inPlace || !canRunInPlace(node.op)
      ? undefined
      : node.inputs.find((i) => inArena(i) && lastUse[i] === node.id && sameLayout(i, node.id) && !donated.has(i)
          && node.inputs.filter((j) => j === i).length === 1);
    if (donor !== undefined) {
      donated.add(donor);
      slots[node.id] = slots[donor];
      unplannedBytes += bytesOf(node.id);
      inPlaceCount++;
      steps.push({ kind: "run", node: node.id, inPlaceOf: donor });
    } else {
      allocate(node.id);
      steps.push({ kind: "run", node: node.id });
    }
    for (const i of new Set(node.inputs)) {
      if (inArena(i) && lastUse[i] === node.id && !donated.has(i)) release(i);
    }
    if (lastUse[node.id] < 0) release(node.id); // computed but never read
  }
  // Inputs nobody reads are freed at the end (their slot was needed for the copy-in).
  for (const id of g.inputs) if (lastUse[id] < 0) release(id);
  return { steps, slots, arenaBytes: free.size, unplannedBytes, inPlaceCount };
}

/** The plan as text: one line per step, with offsets. */
export function printPlan(g: Graph, plan: Plan): string {
  const lines = [`plan: arena ${plan.arenaBytes} bytes (without reuse ${plan.unplannedBytes}), ${plan.inPlaceCount} in place`];
  for (const s of plan.steps) {
    if (s.kind === "alloc") lines.push(`  alloc ${valueName(s.value)} @${s.offset} +${s.bytes}`);
    else if (s.kind === "free") lines.push(`  free  ${valueName(s.value)}`);
    else {
      const node = g.nodes[s.node];
      lines.push(`  run   ${valueName(s.node)} = ${node.op} ${node.inputs.map(valueName).join(" ")}${s.inPlaceOf !== undefined ? `  (in place of ${valueName(s.inPlaceOf)})` : ""}`);
    }
  }
  return lines.join("\n");
}
