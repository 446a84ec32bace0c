import { cpus, totalmem } from "node:os";
import { getBackend, getThreads, relaxedSimdAvailable } from "@dualgrad/core";
import type { MachineInfo } from "./report/types.js";

/** The package version, kept in one place for reports and --version. */
export const VERSION = "0.1.0";

/** Facts about this machine, recorded beside every benchmark. */
export function machineInfo(command?: string): MachineInfo {
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
    command,
  };
}
