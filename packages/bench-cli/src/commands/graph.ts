import { fusedKernelCount, printGraph, toDot, toJSON, toMermaid, type Graph, type StageSwitch } from "@dualgrad/graph";
import type { Command } from "commander";
import { Option } from "commander";
import { syntheticBatch } from "../datasets/synthetic.js";
import { UsageError } from "../errors.js";
import { WORKLOAD_IDS, type ModelSpec } from "../models.js";
import { graphTrainer } from "../runners/graph-trainer.js";
import { note } from "../output.js";
import { positiveInt } from "../parse.js";
import { formatBytes } from "../report/format.js";
import { checkMemory } from "../memory-budget.js";
import { specFromFlags, type ModelFlags } from "../spec-options.js";

/** The pipeline stages `dualgrad graph` can show. */
export type Stage = "traced" | "grad" | "optimized" | "plan";

/** Switches: `--no-<name>` turns a pass off. */
const SWITCHES: { flag: string; pass: StageSwitch; what: string }[] = [
  { flag: "fuse", pass: "fuse", what: "elementwise fusion" },
  { flag: "epilogue", pass: "epilogue", what: "gemm epilogues (a matmul's elementwise consumer run in its store)" },
  { flag: "cse", pass: "cse", what: "common-subexpression elimination" },
  { flag: "constfold", pass: "constfold", what: "constant folding" },
  { flag: "simplify", pass: "simplify", what: "algebraic simplification" },
  { flag: "dce", pass: "dce", what: "dead-code elimination" },
  { flag: "transpose-flags", pass: "transposeFlags", what: "matmul transpose flags" },
  { flag: "inplace", pass: "inplace", what: "in-place memory reuse" },
  { flag: "unroll-scan", pass: "unrollScan", what: "unrolling short static scans (a recurrent step's time loop)" },
];

/** Every stage of `spec`'s training step: forward+loss trace, step with gradients and updates, optimised graph, plan. */
export function stepStages(spec: ModelSpec, disable: StageSwitch[]) {
  const trainer = graphTrainer(spec, { seed: 0, disable });
  const args = trainer.stepArgs(syntheticBatch(spec, spec.batch, 0));
  const lowered = trainer.compiledStep.lower(...args);
  return {
    traced: trainer.compiledLoss.lower(...args).traced,
    grad: lowered.traced,
    optimized: lowered.fused,
    compiled: lowered.compiled,
    dispose: () => trainer.dispose(),
  };
}

/** How many scan nodes `g` has at its top level. */
const scans = (g: Graph) => g.nodes.filter((n) => n.op === "scan").length;

function render(g: Graph, format: string, title: string): string {
  if (format === "dot") return toDot(g, { title });
  if (format === "mermaid") return toMermaid(g);
  if (format === "json") return toJSON(g);
  return printGraph(g);
}

/** `dualgrad graph`: shows the traced training step at each stage, so a user sees what each pass did. */
export function registerGraph(program: Command): void {
  const cmd = program
    .command("graph")
    .description("show a model's traced training step at a pipeline stage (traced, grad, optimized, plan)")
    .addOption(new Option("--model <id>", `reference workload (${WORKLOAD_IDS.join(", ")})`))
    .option("--layers <list>", "custom model layer widths, e.g. 8,16,1")
    .addOption(new Option("--activation <name>", "hidden activation").choices(["relu", "tanh", "sigmoid"]))
    .addOption(new Option("--loss <name>", "loss").choices(["mse", "ce"]))
    .addOption(new Option("--optimizer <name>", "optimizer").choices(["sgd", "momentum", "adam"]))
    .option("--batch-size <n>", "batch size", positiveInt)
    .addOption(new Option("--stage <stage>", "pipeline stage").choices(["traced", "grad", "optimized", "plan"]).default("optimized"))
    .addOption(new Option("--format <format>", "output format").choices(["text", "dot", "mermaid", "json"]).default("text"));
  for (const s of SWITCHES) cmd.option(`--no-${s.flag}`, `turn off ${s.what}`);
  cmd.action((flags: ModelFlags & Record<string, unknown> & { stage: Stage; format: string }) => {
    const spec = specFromFlags(flags, "linreg");
    checkMemory(spec, 0);
    const disable = SWITCHES.filter((s) => flags[s.flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())] === false).map((s) => s.pass);
    if (flags.stage === "plan" && (flags.format === "dot" || flags.format === "mermaid")) {
      throw new UsageError("--stage plan prints as text or json (it is a list of steps, not a graph)");
    }
    const stages = stepStages(spec, disable);
    try {
      let text: string;
      if (flags.stage === "plan") {
        const plan = stages.compiled.plan;
        text = flags.format === "json" ? JSON.stringify(plan, null, 2) : stages.compiled.printPlan();
      } else {
        text = render(stages[flags.stage], flags.format, `${spec.id} ${flags.stage}`);
      }
      process.stdout.write(`${text}\n`);
      const g = flags.stage === "traced" ? stages.traced : flags.stage === "grad" ? stages.grad : stages.optimized;
      note(
        `${spec.id} ${flags.stage}: ${g.nodes.length} nodes, ${fusedKernelCount(g)} fused kernels; ` +
          `compiled step: ${stages.optimized.nodes.length} nodes, arena ${formatBytes(stages.compiled.arenaBytes)} ` +
          `(${formatBytes(stages.compiled.plan.unplannedBytes)} without reuse)${disable.length ? `; off: ${disable.join(", ")}` : ""}` +
          // The compiler unrolls short scans, so the optimized stage may show none of the traced ones.
          (scans(stages.grad) ? `; scans: ${scans(stages.grad)} traced, ${scans(stages.optimized)} after unrolling` : ""),
      );
    } finally {
      stages.dispose();
    }
  });
}
