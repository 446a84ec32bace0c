import { allocator, writeSafetensors, type SafeTensor } from "@dualgrad/core";
import { detectAnomaly } from "@dualgrad/eager";
import type { Command } from "commander";
import { Option } from "commander";
import { accuracy } from "../datasets/dataset.js";
import { resolveDataset, syntheticRows } from "../datasets/index.js";
import { batchStream, type Batch } from "../datasets/synthetic.js";
import { UsageError } from "../errors.js";
import { checkMemory } from "../memory-budget.js";
import { WORKLOAD_IDS, parameterShapes, type ModelSpec } from "../models.js";
import { checkOutputs } from "../output-paths.js";
import { ProgressBar, color, note, newTable } from "../output.js";
import { positiveInt, positiveNumber, seedValue } from "../parse.js";
import { formatBytes } from "../report/format.js";
import { makeEpochs, makeTrainer, type Frontend } from "../runners/index.js";
import { specFromFlags, type ModelFlags } from "../spec-options.js";

interface TrainFlags extends ModelFlags {
  frontend: "eager" | "graph" | "both";
  dataset: string;
  target?: string;
  epochs: number;
  seed: number;
  samples?: number;
  save?: string;
  force?: boolean;
  json?: boolean;
  detectAnomaly?: boolean;
}

/** What one frontend's training run produced. */
export interface TrainSummary {
  frontend: Frontend;
  epochs: number;
  steps: number;
  /** True when Ctrl-C stopped the run early. */
  interrupted: boolean;
  finalLoss: number;
  /** Test-set accuracy (classification) or null. */
  accuracy: number | null;
  /** Loss on the held-out split, when there is one. */
  testLoss: number | null;
  seconds: number;
  stepsPerSec: number;
  peakTensorBytes: number;
  losses: number[];
}

/** Saves parameters with PyTorch's names and layout (F32), atomically: the old file or a complete new one. */
export function writeWeights(path: string, spec: ModelSpec, params: Map<string, Float64Array>): void {
  const tensors = new Map<string, SafeTensor>();
  for (const { name, shape } of parameterShapes(spec)) {
    tensors.set(name, { dtype: "F32", shape, data: Float32Array.from(params.get(name)!) });
  }
  writeSafetensors(path, tensors, { format: "pt", model: spec.id });
}

/** Hooks of a training run: where the last good weights go, anomaly detection, interruption. */
export interface TrainHooks {
  /** Receives the parameters that produced the latest finite loss. */
  onGood?: (params: Map<string, Float64Array>) => void;
  /** When the loss goes non-finite, re-run that step on the eager frontend under detectAnomaly to name the op. */
  detectAnomaly?: boolean;
  /** Checked before every step; true stops training early (Ctrl-C). */
  shouldStop?: () => boolean;
}

/** Re-runs one step from `params` on the eager frontend with anomaly detection; returns its message, or null. */
function locateAnomaly(spec: ModelSpec, params: Map<string, Float64Array>, batch: Batch, seed: number): string | null {
  // The batch is still the loader's (it frees it when the loop advances), so replaying on it reads the same rows.
  const eager = makeTrainer("eager", spec, { seed });
  try {
    eager.setParameters(params);
    detectAnomaly(() => eager.step(batch));
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    eager.dispose();
  }
}

/** Trains `spec` on one frontend. Stops with an error naming the step if the loss becomes NaN or infinite. */
export async function trainOne(spec: ModelSpec, frontend: Frontend, flags: TrainFlags, data: ReturnType<typeof resolveDataset>, hooks: TrainHooks = {}): Promise<TrainSummary> {
  // The frontend's own input pipeline, built before the baseline: the training set is input, not
  // training memory (on eager it lives in tensors, on graph in host arrays).
  const pipeline = makeEpochs(frontend, data.train, spec, flags.seed);
  const base = allocator.stats().liveBytes;
  allocator.resetCounters();
  const trainer = makeTrainer(frontend, spec, { seed: flags.seed });
  const rows = data.train.xShape[0];
  const perEpoch = Math.ceil(rows / spec.batch);
  const bar = new ProgressBar(`${frontend.padEnd(5)}`, flags.epochs * perEpoch);
  const losses: number[] = [];
  const track = Boolean(hooks.onGood || hooks.detectAnomaly);
  let steps = 0;
  let interrupted = false;
  const start = performance.now();
  let lastYield = start;
  // Variable-length workloads train on their seeded stream of batches, each at its own length
  // (docs/WORKLOADS.md); the dataset then sets the number of steps and the test set.
  const varlen = spec.recurrent?.minLen !== undefined && flags.dataset === "synthetic" ? batchStream(spec, flags.seed) : null;
  try {
    for (let epoch = 0; epoch < flags.epochs && !interrupted; epoch++) {
      let sum = 0;
      let count = 0;
      for (const item of pipeline.epoch(epoch)) {
        // Let signal handlers (Ctrl-C) run: the steps themselves are synchronous.
        if (performance.now() - lastYield > 50) {
          await new Promise((r) => setImmediate(r));
          lastYield = performance.now();
        }
        if (hooks.shouldStop?.()) {
          interrupted = true;
          break;
        }
        const batch = varlen ? varlen() : item;
        const before = track ? trainer.parameters() : null;
        const loss = trainer.step(batch);
        steps++;
        if (!Number.isFinite(loss)) {
          const where = hooks.detectAnomaly && before ? locateAnomaly(spec, before, batch, flags.seed) : null;
          throw new UsageError(
            `train: the loss became ${loss} at step ${steps} (epoch ${epoch + 1}) on the ${frontend} frontend` +
              (where ? `; ${where}` : hooks.detectAnomaly ? "" : "; run with --detect-anomaly to find the op") +
              `; lower --lr or check the data for NaN/Inf${flags.save ? `; ${flags.save} holds the last good weights` : ""}`,
          );
        }
        if (hooks.onGood && before) hooks.onGood(before);
        sum += loss * batch.xShape[0];
        count += batch.xShape[0];
        const secs = (performance.now() - start) / 1000;
        bar.update(steps, `${(steps / secs).toFixed(0)} steps/s loss ${loss.toPrecision(4)}`);
      }
      if (count > 0) losses.push(sum / count);
    }
    if (hooks.onGood && !interrupted) hooks.onGood(trainer.parameters());
    bar.done();
    const seconds = (performance.now() - start) / 1000;
    let acc: number | null = null;
    let testLoss: number | null = null;
    if (data.test) {
      testLoss = trainer.loss({ ...data.test });
      if (spec.loss === "ce") acc = accuracy(trainer.predict({ ...data.test }), data.test.y as Int32Array, spec.layers[spec.layers.length - 1]);
    }
    return {
      frontend,
      epochs: flags.epochs,
      steps,
      interrupted,
      finalLoss: losses[losses.length - 1] ?? NaN,
      accuracy: acc,
      testLoss,
      seconds,
      stepsPerSec: steps / seconds,
      peakTensorBytes: allocator.stats().peakBytes - base,
      losses,
    };
  } finally {
    bar.done();
    trainer.dispose();
    pipeline.dispose();
  }
}

/** `dualgrad train`. */
export function registerTrain(program: Command): void {
  program
    .command("train")
    .description("train a model on one or both frontends and compare loss, accuracy, time and memory")
    .addOption(new Option("--model <id>", `reference workload (${WORKLOAD_IDS.join(", ")})`))
    .option("--layers <list>", "custom model layer widths, e.g. 784,128,10")
    .addOption(new Option("--activation <name>", "hidden activation").choices(["relu", "tanh", "sigmoid"]))
    .addOption(new Option("--loss <name>", "loss: mean squared error or softmax cross-entropy").choices(["mse", "ce"]))
    .addOption(new Option("--optimizer <name>", "optimizer").choices(["sgd", "momentum", "adam"]))
    .option("--lr <x>", "learning rate", positiveNumber)
    .addOption(new Option("--frontend <name>", "frontend(s)").choices(["eager", "graph", "both"]).default("both"))
    .option("--dataset <name>", "synthetic, mnist or csv:PATH", "synthetic")
    .option("--target <column>", "target column for csv:PATH")
    .option("--epochs <n>", "epochs", positiveInt, 5)
    .option("--batch-size <n>", "batch size", positiveInt)
    .option("--samples <n>", "rows of synthetic data", positiveInt)
    .option("--seed <n>", "seed for data, shuffling and initial parameters", seedValue, 0)
    .option("--save <file>", "save the trained weights as safetensors (PyTorch names and layout)")
    .option("--force", "overwrite an existing --save file")
    .option("--json", "print the summary as JSON on stdout")
    .option("--detect-anomaly", "when the loss becomes NaN/Inf, name the op that produced it (replayed on the eager frontend)")
    .action(async (flags: TrainFlags) => {
      const spec = specFromFlags(flags, flags.dataset === "mnist" ? "mlp" : "mlp-small");
      // Before any data is read or a step runs: an unusable --save path fails in a second.
      const savePath = flags.save ? checkOutputs([{ flag: "--save", path: flags.save }], flags.force === true)[0] : null;
      checkMemory(spec, flags.dataset === "synthetic" ? syntheticRows(spec, flags.samples) : (flags.samples ?? 0));
      const data = resolveDataset(spec, flags.dataset, { target: flags.target, seed: flags.seed, samples: flags.samples });
      const frontends: Frontend[] = flags.frontend === "both" ? ["eager", "graph"] : [flags.frontend];
      const summaries: TrainSummary[] = [];
      // Ctrl-C stops at the next step boundary and still saves; a second Ctrl-C exits at once.
      let stop = false;
      const onInterrupt = () => {
        if (stop) process.exit(130);
        stop = true;
        note("interrupted: stopping after this step (Ctrl-C again to quit now)");
      };
      process.on("SIGINT", onInterrupt);
      try {
        for (const f of frontends) {
          if (stop) break;
          // Weights are saved from the first frontend: the parameters behind the last finite loss.
          let good: Map<string, Float64Array> | null = null;
          const onGood = savePath && f === frontends[0] ? (p: Map<string, Float64Array>) => void (good = p) : undefined;
          try {
            summaries.push(await trainOne(spec, f, flags, data, { onGood, detectAnomaly: flags.detectAnomaly, shouldStop: () => stop }));
          } finally {
            if (savePath && good) writeWeights(savePath, spec, good);
          }
        }
      } finally {
        process.off("SIGINT", onInterrupt);
      }
      if (stop) {
        note(`interrupted${savePath ? `; saved the last good weights to ${flags.save}` : ""}`);
        process.exitCode = 130;
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ model: spec.id, dataset: flags.dataset, summaries }, null, 2)}\n`);
        return;
      }
      const table = newTable(["", ...summaries.map((s) => s.frontend)]);
      const row = (label: string, f: (s: TrainSummary) => string) => table.push([label, ...summaries.map(f)]);
      row("final train loss", (s) => s.finalLoss.toPrecision(5));
      if (summaries.some((s) => s.testLoss !== null)) row("test loss", (s) => (s.testLoss === null ? "-" : s.testLoss.toPrecision(5)));
      if (spec.loss === "ce") row("test accuracy", (s) => (s.accuracy === null ? "-" : `${(s.accuracy * 100).toFixed(1)}%`));
      row("time", (s) => `${s.seconds.toFixed(2)} s`);
      row("steps/s", (s) => s.stepsPerSec.toFixed(0));
      row("peak tensor memory", (s) => formatBytes(s.peakTensorBytes));
      process.stdout.write(`${color.cyan(spec.id)} on ${flags.dataset}, ${flags.epochs} epochs, batch ${spec.batch}\n${table.toString()}\n`);
      if (savePath) note(`saved weights to ${flags.save}`);
    });
}
