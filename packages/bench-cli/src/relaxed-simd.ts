/**
 * Relaxed SIMD for the CLI's processes. The wasm matmul multiply-adds with one fused
 * `f32x4.relaxed_madd` where the engine validates it (core's gemm-wasm), about 1.4x the peak of a
 * separate mul and add on an FMA core (docs/PERFORMANCE.md). Node 20's V8 has relaxed SIMD behind
 * `--experimental-wasm-relaxed-simd`, a V8 flag that Node refuses in NODE_OPTIONS; newer Nodes
 * have it on by default. So the CLI arranges it itself:
 *
 * - its own process (run as `dualgrad ...`): the flag is set with `v8.setFlagsFromString` before
 *   the first matmul builds its kernel (V8 reads wasm feature flags when it validates a module,
 *   and no wasm module is compiled before the command's options are parsed) — no re-exec;
 * - every Node measurement process it starts (bench's per-frontend workers and peer workers,
 *   ./runners/worker-process.ts): the flag also goes on the command line, V8's documented way,
 *   when probing this Node shows it is both needed and accepted (a Node that rejects an unknown
 *   flag gets none). Other CLI children (`serve` under bench-serve) set it themselves as above.
 *
 * Peers run with the same engine as our frontends: jax-js also emits `relaxed_madd` when the
 * engine has it, and TF.js's wasm backend ships precompiled SIMD binaries that the flag does not
 * change; one engine for all is the fair comparison.
 *
 * `--no-relaxed-simd` or `DUALGRAD_RELAXED_SIMD=0` turns it off (also for the workers, through
 * the environment), so the two paths can be compared; reports say which ran (core's `matmulPath`).
 */
import { spawnSync } from "node:child_process";
import { setFlagsFromString } from "node:v8";
import { relaxedSimdProbe } from "@dualgrad/core";
import { UsageError } from "./errors.js";

/** The V8 flag that turns relaxed SIMD on (Node 20). */
export const RELAXED_SIMD_FLAG = "--experimental-wasm-relaxed-simd";
/** The V8 flag that turns it off (for a Node that has it on by default). */
export const NO_RELAXED_SIMD_FLAG = "--no-experimental-wasm-relaxed-simd";
/** The environment variable: `0` turns relaxed SIMD off, `1` (or unset) leaves it on where the engine can. */
export const RELAXED_SIMD_ENV = "DUALGRAD_RELAXED_SIMD";

/** Core's module holding one `f32x4.relaxed_madd`: valid only where relaxed SIMD is on. Building it validates nothing. */
const PROBE = relaxedSimdProbe();

/** Whether this process's engine has relaxed SIMD now (validates the probe module; no caching). */
export function engineHasRelaxedSimd(): boolean {
  const wasm = (globalThis as { WebAssembly?: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
  try {
    return wasm !== undefined && wasm.validate(PROBE);
  } catch {
    return false;
  }
}

/**
 * Whether relaxed SIMD is wanted: off when `cliOff` (`--no-relaxed-simd`) or the environment
 * variable is `0`, on when it is `1` or unset.
 *
 * @throws UsageError for any other value of the variable.
 */
export function relaxedSimdWanted(env: NodeJS.ProcessEnv = process.env, cliOff = false): boolean {
  const v = env[RELAXED_SIMD_ENV]?.trim();
  if (v !== undefined && v !== "" && v !== "0" && v !== "1") {
    throw new UsageError(`${RELAXED_SIMD_ENV} must be 0 or 1, got '${v}'`);
  }
  return !cliOff && v !== "0";
}

/**
 * Makes this process's engine match `wanted` by setting the V8 flag, if it does not already.
 * Call before the first matmul (see the module comment). Returns whether the engine now has
 * relaxed SIMD (it may not: an engine without the feature, or without the flag).
 */
export function applyRelaxedSimd(wanted: boolean): boolean {
  if (engineHasRelaxedSimd() !== wanted) setFlagsFromString(wanted ? RELAXED_SIMD_FLAG : NO_RELAXED_SIMD_FLAG);
  return engineHasRelaxedSimd();
}

/**
 * What a probe of a fresh Node process found: whether it has relaxed SIMD with no flag, and with
 * a given flag (undefined when that Node rejected the flag).
 */
export type EngineProbe = (flag: string | null) => boolean | undefined;

/**
 * The V8 flags a child Node process needs so that its relaxed SIMD matches `wanted`: none when
 * it already does by default, the on (or off) flag when that Node accepts it and it makes the
 * difference, none when nothing can (the child's report then says what it ran).
 */
export function engineArgs(wanted: boolean, probe: EngineProbe): string[] {
  if (probe(null) === wanted) return [];
  const flag = wanted ? RELAXED_SIMD_FLAG : NO_RELAXED_SIMD_FLAG;
  return probe(flag) === wanted ? [flag] : [];
}

/** Probes `process.execPath` (a fresh process each: flags are process-wide). */
const probeNode: EngineProbe = (flag) => {
  const src = `process.exit(WebAssembly.validate(new Uint8Array(${JSON.stringify(Array.from(PROBE))})) ? 0 : 3)`;
  const r = spawnSync(process.execPath, [...(flag ? [flag] : []), "-e", src], { stdio: "ignore", timeout: 10_000 });
  return r.status === 0 ? true : r.status === 3 ? false : undefined;
};

const argsCache = new Map<boolean, string[]>();

/**
 * The flags to start a Node measurement process with (before its script), for relaxed SIMD as
 * {@link relaxedSimdWanted} says from this process's environment. Probed once per process (two
 * short `node -e` runs at most, ~0.1 s), then cached.
 */
export function childEngineArgs(): string[] {
  const wanted = relaxedSimdWanted();
  let args = argsCache.get(wanted);
  if (!args) argsCache.set(wanted, (args = engineArgs(wanted, probeNode)));
  return args;
}
