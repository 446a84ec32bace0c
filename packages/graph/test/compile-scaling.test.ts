import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { assignOffsets, type Lifetime } from "../src/arena-offsets.js";
import { HostTensor, fusedKernelCount, lowerGraph, tensor, trace, type SymbolicTensor } from "../src/index.js";
import { deepMlpStep } from "./deep-graphs.js";

// Compile time is measured in compile-scaling.bench.ts (`pnpm bench`); the bounds here are only
// hang guards, far above what linear passes need, so a quadratic pass shows up as a failure. They
// bound CPU time, not wall time, so a busy machine (other test files run in parallel) does not
// trip them.

/** CPU milliseconds `f` took (user + system, this process). */
function cpuMs(f: () => void): number {
  const start = process.cpuUsage();
  f();
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

describe("compiling big graphs", () => {
  it("a 10k-node training step compiles, and runs with the same bits as with fusion and in-place off", () => {
    const { graph, variables } = deepMlpStep(560);
    expect(graph.nodes.length).toBeGreaterThanOrEqual(10_000);
    const x = tensor([[0.5], [-0.25]]);
    const y = tensor([[1], [0]]);
    const initial = new Map([...variables].map(([name, v]) => [name, Float32Array.from(v.data)]));
    let fast!: ReturnType<typeof lowerGraph>;
    expect(cpuMs(() => (fast = lowerGraph(graph, variables)))).toBeLessThan(10_000);
    const lossFast = fast.compiled.run([x, y])[0].item();
    const after = new Map([...variables].map(([name, v]) => [name, Array.from(v.data)]));
    for (const [name, v] of variables) v.assign(initial.get(name)!);
    const plain = lowerGraph(graph, variables, { disable: ["fuse", "inplace"] });
    expect(plain.compiled.run([x, y])[0].item()).toBe(lossFast);
    expect(Number.isFinite(lossFast)).toBe(true);
    for (const [name, v] of variables) expect(Array.from(v.data), name).toEqual(after.get(name));
    fast.compiled.dispose();
    plain.compiled.dispose();
    for (const v of variables.values()) v.dispose();
  });

  it("a 100k-node graph of 25k fused kernels compiles (fusion used to scan the graph once per kernel)", () => {
    const blocks = 25_000;
    const graph = trace((x: SymbolicTensor) => {
      let y = x;
      for (let i = 0; i < blocks; i++) y = y.mul(1.0001).tanh().transpose();
      return y;
    }, [{ shape: [2, 3] }]);
    expect(graph.nodes.length).toBeGreaterThanOrEqual(100_000);
    let lowered!: ReturnType<typeof lowerGraph>;
    expect(cpuMs(() => (lowered = lowerGraph(graph, new Map())))).toBeLessThan(30_000);
    expect(fusedKernelCount(lowered.fused)).toBe(blocks);
    const out = lowered.compiled.run([new HostTensor([2, 3], "float32", new Float32Array([1, 2, 3, 4, 5, 6]))])[0];
    expect(out.shape).toEqual([2, 3]); // an even number of transposes
    lowered.compiled.dispose();
  });
});

/** The textbook greedy-by-size: compare with every placed buffer, sort the clashes by offset. */
function textbookOffsets(lifetimes: readonly Lifetime[]): number {
  const order = [...lifetimes].sort((a, b) => b.bytes - a.bytes || a.start - b.start);
  const placed: Lifetime[] = [];
  let size = 0;
  for (const l of order) {
    const clashes = placed.filter((p) => p.start <= l.end && l.start <= p.end).sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const c of clashes) {
      if (offset + l.bytes <= c.offset) break;
      offset = Math.max(offset, c.offset + c.bytes);
    }
    l.offset = offset;
    placed.push(l);
    size = Math.max(size, offset + l.bytes);
  }
  return size;
}

describe("arena offsets", () => {
  it("the lane search places every buffer where the textbook greedy-by-size does", () => {
    const lifetime = fc.record({ bytes: fc.integer({ min: 1, max: 8 }).map((k) => 16 * k), start: fc.nat(40), length: fc.nat(15) });
    fc.assert(
      fc.property(fc.array(lifetime, { maxLength: 60 }), (specs) => {
        const make = () => specs.map((s) => ({ bytes: s.bytes, start: s.start, end: s.start + s.length, offset: -1 }));
        const fast = make();
        const slow = make();
        expect(assignOffsets(fast)).toBe(textbookOffsets(slow));
        expect(fast.map((l) => l.offset)).toEqual(slow.map((l) => l.offset));
      }),
      { numRuns: 300 },
    );
  });
});
