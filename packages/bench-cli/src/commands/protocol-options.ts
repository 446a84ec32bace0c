import type { Command } from "commander";
import { nonNegativeInt, positiveInt, positiveNumber, seedValue } from "../parse.js";

/**
 * Adds the measuring protocol's flags (docs/WORKLOADS.md: timed steps, warm-up, least time,
 * seed) to `cmd`. `bench` and the hidden workers it spawns take the same ones, so a flag parsed
 * by `bench` is passed on and parsed again the same way.
 */
export function addProtocolOptions(cmd: Command): Command {
  return cmd
    .option("--steps <n>", "timed steps at least", positiveInt, 200)
    .option("--warmup <n>", "warm-up steps", nonNegativeInt, 20)
    .option("--min-time <seconds>", "time at least this long per model and frontend", positiveNumber, 2)
    .option("--seed <n>", "seed for data and initial parameters", seedValue, 0);
}
