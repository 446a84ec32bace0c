import type { PeerName } from "../peers/names.js";
import type { ProfileReport } from "../profile/summary.js";
import type { StaticCosts } from "../runners/static-costs.js";

/**
 * The benchmark results document: what `dualgrad bench --json` writes and `dualgrad report`
 * reads. Field names follow the CLI issue's JSON shape; extra fields are additive.
 */

/** Where the numbers were measured. */
export interface MachineInfo {
  node: string;
  platform: string;
  arch: string;
  cpus: number;
  cpuModel: string;
  totalMemoryBytes: number;
  /** ISO timestamp of the run. */
  date: string;
  /** dualgrad version. */
  version: string;
  /** Kernel backend and thread count the measurements ran with. */
  backend?: string;
  threads?: number;
  /** Whether the engine had relaxed SIMD (`f32x4.relaxed_madd`). */
  relaxedSimd?: boolean;
  /** Which float32 matmul kernel ran (core's matmulPath): `wasm SIMD, relaxed_madd (FMA) 6x8`, `wasm SIMD, mul+add 4x8` or `TypeScript (js backend)`. */
  matmulPath?: string;
  /** The command line that produced the file. */
  command?: string;
}

/** One model on one frontend, measured in a fresh process. */
export interface BenchResult {
  model: string;
  frontend: "eager" | "graph";
  /** Steps timed (after warm-up). */
  steps: number;
  warmup: number;
  msPerStep: { median: number; p90: number; mean: number; min: number };
  stepsPerSec: number;
  memory: {
    /** Highest live tensor bytes (core's tracker) from model construction through the last step. */
    peakTensorBytes: number;
    /** Tensor bytes still live after the last step: parameters, optimizer state, anything leaked. */
    liveTensorBytes: number;
    allocationsPerStep: number;
    kernelLaunchesPerStep: number;
    /** Peak resident set size of the process (OS figure). */
    peakRssBytes: number;
    /** V8 heap in use at the end. */
    heapUsedBytes: number;
  };
  /** Loss at the first and the last timed step (training sanity). */
  loss: { first: number; last: number };
  /** Loss per step sampled over the run (for charts), optional. */
  lossCurve?: number[];
  /** The timed-step number (0-based) of each `lossCurve` entry; older files lack it. */
  lossSteps?: number[];
  /** Which float32 matmul kernel the worker process ran (core's matmulPath); older files lack it. */
  matmulPath?: string;
  /** Graph only: plan facts. */
  graph?: { nodes: number; fusedKernels: number; arenaBytes: number };
  /** What static compilation costs: traces, compile time, cold first step, cumulative time, break-even. */
  static?: StaticCosts;
  /**
   * `bench --rounds n` with n > 1: the model ran on this frontend in n fresh processes, taken in
   * turn with the other frontend; every other field is the median round's (the round whose
   * median ms/step is the median of `medianMsPerStep`, the lower middle one for even n), and
   * `medianMsPerStep` holds each round's median ms/step in the order run, for the spread.
   * Absent with one round and in older files.
   */
  rounds?: { medianMsPerStep: number[] };
}

/** One model on one peer: a `BenchResult` whose frontend is the peer name (one process: `--rounds` does not repeat peers). */
export interface PeerResult extends Omit<BenchResult, "frontend" | "memory" | "graph" | "static" | "rounds"> {
  frontend: PeerName;
  memory: {
    /** Peak resident set size of the process (OS figure), as for our frontends. */
    peakRssBytes: number;
    /** V8 heap in use at the end (JS peers; not the PyTorch peers, which run in Python). */
    heapUsedBytes?: number;
    /** The library's own tensor accounting, where it has one (TF.js: `tf.profile`, `tf.memory`). */
    peakTensorBytes?: number;
    liveTensorBytes?: number;
    /** TF.js: kernel outputs per step (each a new tensor). */
    allocationsPerStep?: number;
    kernelLaunchesPerStep?: number;
  };
  /** What ran: package versions, backend and how it was driven. */
  peer: { packages: Record<string, string>; backend: string; detail: string };
}

/** Eager vs graph gradient agreement for one model (same init, same batch). */
export interface AgreementResult {
  model: string;
  maxAbs: number;
  maxRel: number;
  /** Agreement with fusion off (bitwise expected: maxAbs 0). */
  unfusedMaxAbs?: number;
}

/** The whole document. */
export interface BenchReport {
  machine: MachineInfo;
  results: BenchResult[];
  agreement: AgreementResult[];
  /** Other libraries on the same workloads (`dualgrad bench --peers`); `frontend` is the peer name. */
  peers?: PeerResult[];
  /** `bench --sweep`: one model at several sizes (see docs/REPORT-JSON.md). */
  sweeps?: SweepResult[];
  /** Optional training runs (dualgrad train --json), for loss curves. */
  training?: { model: string; frontend: string; dataset: string; losses: number[]; accuracy?: number }[];
  /** Optional per-op profiles (`dualgrad profile --add-to`), for the HTML report's breakdown. */
  profile?: ProfileReport[];
}

/**
 * One model measured at several sizes (`bench --sweep`). The numbers themselves are ordinary
 * entries of `results` and `peers`, whose `model` is `models[i]` for size `values[i]`.
 */
export interface SweepResult {
  /** The swept model's own id (e.g. "mlp"). */
  model: string;
  /** What varies: the batch size, or the width of every hidden layer. */
  param: "batch" | "width";
  /** The sizes, ascending. */
  values: number[];
  /** The result model id at each size, same length as `values` (e.g. "mlp@batch=16"). */
  models: string[];
}
