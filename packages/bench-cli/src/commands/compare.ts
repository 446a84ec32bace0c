import { PhiloxGenerator } from "@dualgrad/core";
import type { Command } from "commander";
import { Option } from "commander";
import { syntheticBatch } from "../datasets/synthetic.js";
import { WORKLOAD_IDS, type ModelSpec } from "../models.js";
import { color, newTable } from "../output.js";
import { positiveInt, seedValue } from "../parse.js";
import { formatSci } from "../report/format.js";
import { makeTrainer } from "../runners/index.js";
import { checkMemory } from "../memory-budget.js";
import { specFromFlags, type ModelFlags } from "../spec-options.js";

/** One parameter's gradients from the three sources. */
export interface CompareRow {
  parameter: string;
  elements: number;
  /** Elements checked by finite differences (a seeded sample for big tensors). */
  sampled: number;
  eagerVsGraph: { maxAbs: number; maxRel: number };
  eagerVsFd: { maxAbs: number; maxRel: number };
  graphVsFd: { maxAbs: number; maxRel: number };
}

function diff(a: ArrayLike<number>, b: ArrayLike<number>, idx: readonly number[]): { maxAbs: number; maxRel: number } {
  let maxAbs = 0;
  let mag = 0;
  for (const i of idx) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(b[i]));
  }
  return { maxAbs, maxRel: maxAbs / (mag || 1) };
}

/**
 * Gradients of every parameter from eager, from graph (in `dtype`), and from central finite
 * differences of the loss in float64 at the same parameters. Finite differences cost two loss
 * evaluations per element, so tensors larger than `samples` are checked on a seeded sample.
 */
export function compareGradients(spec: ModelSpec, dtype: "float32" | "float64", seed: number, samples: number): CompareRow[] {
  const batch = syntheticBatch(spec, spec.batch, seed, dtype);
  const batch64 = syntheticBatch(spec, spec.batch, seed, "float64");
  const eager = makeTrainer("eager", spec, { seed, dtype });
  const graph = makeTrainer("graph", spec, { seed, dtype });
  const fd = makeTrainer("eager", spec, { seed, dtype: "float64" });
  try {
    const ge = eager.gradients(batch);
    const gg = graph.gradients(batch);
    const params = eager.parameters();
    // Same parameter values (and, for float32, the same float32-rounded data) in float64.
    fd.setParameters(params);
    const data64: typeof batch64 = { ...batch64, x: Float64Array.from(batch.x), y: spec.loss === "ce" ? batch.y : Float64Array.from(batch.y) };
    const gen = new PhiloxGenerator(seed + 17);
    const rows: CompareRow[] = [];
    for (const [name, p] of params) {
      const n = p.length;
      const idx = n <= samples ? [...Array(n).keys()] : Array.from(gen.randint(samples, 0, n));
      const numeric = new Float64Array(n);
      const cur = new Map([[name, Float64Array.from(p)]]);
      for (const i of idx) {
        const x = p[i];
        const eps = 1e-6 * Math.max(1, Math.abs(x));
        cur.get(name)![i] = x + eps;
        fd.setParameters(cur);
        const up = fd.loss(data64);
        cur.get(name)![i] = x - eps;
        fd.setParameters(cur);
        const down = fd.loss(data64);
        cur.get(name)![i] = x;
        numeric[i] = (up - down) / (2 * eps);
      }
      fd.setParameters(cur);
      rows.push({
        parameter: name,
        elements: n,
        sampled: idx.length,
        eagerVsGraph: diff(gg.get(name)!, ge.get(name)!, [...Array(n).keys()]),
        eagerVsFd: diff(ge.get(name)!, numeric, idx),
        graphVsFd: diff(gg.get(name)!, numeric, idx),
      });
    }
    return rows;
  } finally {
    eager.dispose();
    graph.dispose();
    fd.dispose();
  }
}

/** `dualgrad compare`: per-parameter gradient agreement between eager, graph and finite differences. */
export function registerCompare(program: Command): void {
  program
    .command("compare")
    .description("per parameter: gradients from eager, from graph, and from finite differences (float64)")
    .addOption(new Option("--model <id>", `reference workload (${WORKLOAD_IDS.join(", ")})`))
    .option("--layers <list>", "custom model layer widths, e.g. 8,16,1")
    .addOption(new Option("--activation <name>", "hidden activation").choices(["relu", "tanh", "sigmoid"]))
    .addOption(new Option("--loss <name>", "loss").choices(["mse", "ce"]))
    .addOption(new Option("--dtype <dtype>", "dtype of the eager and graph runs").choices(["float32", "float64"]).default("float64"))
    .option("--batch-size <n>", "batch size", positiveInt)
    .option("--samples <n>", "finite-difference elements per parameter at most", positiveInt, 64)
    .option("--seed <n>", "seed", seedValue, 0)
    .option("--json", "print JSON on stdout")
    .action((flags: ModelFlags & { dtype: "float32" | "float64"; samples: number; seed: number; json?: boolean }) => {
      const spec = specFromFlags(flags);
      checkMemory(spec, 0);
      const rows = compareGradients(spec, flags.dtype, flags.seed, flags.samples);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ model: spec.id, dtype: flags.dtype, rows }, null, 2)}\n`);
        return;
      }
      const table = newTable(["parameter", "elements", "eager vs graph (abs / rel)", "eager vs FD (abs / rel)", "graph vs FD (abs / rel)"]);
      const cell = (d: { maxAbs: number; maxRel: number }) => `${formatSci(d.maxAbs)} / ${formatSci(d.maxRel)}`;
      for (const r of rows) {
        table.push([r.parameter, r.sampled < r.elements ? `${r.elements} (${r.sampled} FD)` : String(r.elements), cell(r.eagerVsGraph), cell(r.eagerVsFd), cell(r.graphVsFd)]);
      }
      process.stdout.write(`${color.cyan(spec.id)} in ${flags.dtype}\n${table.toString()}\n`);
    });
}
