import { bench, describe } from "vitest";
import { lowerGraph } from "../src/index.js";
import { deepMlpStep, elementwiseChain, type TracedProgram } from "./deep-graphs.js";

// Compile time (every pass, planning and kernel generation: `lowerGraph`) against graph size.
// With linear passes, each 4x step in size costs about 4x; a quadratic pass would cost 16x.
// Run with `pnpm bench` (not part of `pnpm test`).

const options = { iterations: 3, warmupIterations: 1, time: 0 };

function benchLowering(label: string, make: (n: number) => TracedProgram, sizes: readonly number[]): void {
  describe(label, () => {
    for (const n of sizes) {
      const program = make(n);
      bench(`${program.graph.nodes.length} nodes`, () => lowerGraph(program.graph, program.variables).compiled.dispose(), options);
    }
  });
}

benchLowering("SGD step of a deep tanh MLP (lowerGraph)", deepMlpStep, [140, 560, 2240]);
benchLowering("elementwise chain (lowerGraph)", elementwiseChain, [2_500, 10_000, 40_000]);
