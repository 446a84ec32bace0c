import { cpus, totalmem } from "node:os";
import { getBackend, getThreads, matmulPath, relaxedSimdAvailable } from "@dualgrad/core";
import type { BenchResult, MachineInfo } from "./report/types.js";

/** The package version, kept in one place for reports and --version. */
export const VERSION = "0.1.0";

/**
 * Facts about this machine, recorded beside every benchmark. `matmulPath` is the kernel the
 * measurement processes ran (each bench worker reports its own, in `results`: a " / " list if they
 * differed), else this process's.
 */
export function machineInfo(command?: string, results: readonly BenchResult[] = []): MachineInfo {
  const ran = [...new Set(results.flatMap((r) => (r.matmulPath ? [r.matmulPath] : [])))];
  const cpu = cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? "unknown",
    totalMemoryBytes: totalmem(),
    date: new Date().toISOString(),
    version: VERSION,
    backend: getBackend(),
    threads: getThreads(),
    relaxedSimd: relaxedSimdAvailable(),
    matmulPath: ran.length > 0 ? ran.join(" / ") : matmulPath(),
    command,
  };
}
