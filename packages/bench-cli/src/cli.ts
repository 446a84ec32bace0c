#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import { DualgradError, setBackend, setThreads, type Backend } from "@dualgrad/core";
import { registerBench } from "./commands/bench.js";
import { registerBenchServe } from "./commands/bench-serve.js";
import { registerPeerWorker } from "./commands/peer-worker.js";
import { registerCheckRef } from "./commands/check-ref.js";
import { registerCompare } from "./commands/compare.js";
import { registerExport } from "./commands/export.js";
import { registerGraph } from "./commands/graph.js";
import { registerProfile } from "./commands/profile.js";
import { registerReport } from "./commands/report.js";
import { registerServe } from "./commands/serve.js";
import { registerTrain } from "./commands/train.js";
import { UsageError, oneLine } from "./errors.js";
import { VERSION } from "./machine.js";
import { threadCount } from "./parse.js";
import { RELAXED_SIMD_ENV, applyRelaxedSimd, relaxedSimdWanted } from "./relaxed-simd.js";

/** How {@link buildProgram} may configure the process it runs in. */
export interface ProgramOptions {
  /**
   * Set V8's relaxed-SIMD flag in this process to match `--no-relaxed-simd` /
   * DUALGRAD_RELAXED_SIMD (see ./relaxed-simd.ts). Only when the CLI is the program being run:
   * a process that merely imports it (a test runner) keeps its engine as it was started.
   */
  engineFlags?: boolean;
}

/**
 * `dualgrad`: the workbench's front door. Exit codes: 0 success, 1 a check failed (check-ref
 * out of tolerance), 2 bad usage or bad input (message on stderr, no stack unless --debug).
 */
export function buildProgram(options: ProgramOptions = {}): Command {
  const program = new Command("dualgrad")
    .description("train the same models on an eager (PyTorch-style) and a graph (tf.function/jit-style) frontend and compare speed, memory and gradients")
    .version(VERSION)
    .option("--debug", "print stack traces for errors")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  registerTrain(program);
  registerBench(program);
  registerPeerWorker(program);
  registerCompare(program);
  registerCheckRef(program);
  registerGraph(program);
  registerProfile(program);
  registerReport(program);
  registerExport(program);
  registerServe(program);
  registerBenchServe(program);
  for (const c of program.commands) {
    c.exitOverride().configureOutput({ outputError: () => {} }).showSuggestionAfterError(true);
    // Kernel backend and threads, for this process and (through the environment) its bench workers.
    c.addOption(new Option("--backend <name>", "kernel backend (default: wasm where available; env DUALGRAD_BACKEND)").choices(["js", "wasm"]));
    c.option("--threads <n>", "threads for big float32 matmuls, at most the machine's cores (env DUALGRAD_THREADS)", threadCount);
    c.option("--no-relaxed-simd", `matmul without relaxed SIMD's fused multiply-add, to compare (env ${RELAXED_SIMD_ENV}=0)`);
    c.hook("preAction", (cmd) => {
      const o = cmd.opts<{ backend?: Backend; threads?: number; relaxedSimd?: boolean }>();
      // First: the engine flag must be set before setBackend builds the matmul kernel.
      if (o.relaxedSimd === false) process.env[RELAXED_SIMD_ENV] = "0"; // the workers inherit it
      const wanted = relaxedSimdWanted(process.env);
      if (options.engineFlags) applyRelaxedSimd(wanted);
      if (o.backend) {
        setBackend(o.backend);
        process.env.DUALGRAD_BACKEND = o.backend;
      }
      if (o.threads) {
        setThreads(o.threads);
        process.env.DUALGRAD_THREADS = String(o.threads);
      }
    });
  }
  return program;
}

const COMMANDS = "train, bench, compare, check-ref, graph, report, export, serve, bench-serve, profile";

/** Runs the CLI on `argv` (user arguments only) and returns the exit code; see {@link ProgramOptions}. */
export async function main(argv: string[], options: ProgramOptions = {}): Promise<number> {
  const debug = argv.includes("--debug");
  const program = buildProgram(options);
  try {
    if (argv.length === 0) {
      process.stdout.write(program.helpInformation());
      return 0;
    }
    await program.parseAsync(argv, { from: "user" });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      let msg = err.message.replace(/^error: /, "");
      if (err.code === "commander.unknownCommand") msg += ` (valid commands: ${COMMANDS})`;
      process.stderr.write(`dualgrad: ${oneLine(msg)}\n`);
      return 2;
    }
    const known = err instanceof UsageError || err instanceof DualgradError;
    // One bounded line whatever the message holds (see oneLine); the stack stays for --debug.
    process.stderr.write(`dualgrad: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    else if (!known) process.stderr.write("(run with --debug for the stack trace)\n");
    return known ? 2 : 1;
  }
}

/** True when this file is the program being run (directly or through the bin symlink), not imported. */
function invokedDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}


if (invokedDirectly()) {
  main(process.argv.slice(2), { engineFlags: true }).then((code) => {
    process.exitCode = code;
  });
}
