import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSafetensors, type SafeTensor } from "@dualgrad/core";
import { syntheticBatch } from "../datasets/synthetic.js";
import { hiddenActivation, parameterShapes, type ModelSpec } from "../models.js";
import type { PeerResult } from "../report/types.js";
import { makeTrainer } from "../runners/index.js";
import type { MeasureOptions } from "../runners/timing.js";
import type { TorchPeerName } from "./names.js";
import { summarize } from "./shared.js";
import { pythonPath, TORCH_SCRIPT } from "./torch-env.js";

/** What scripts/torch_peer.py reads (its one argument, as JSON). */
export interface TorchJob {
  spec: { layers: number[]; hiddenActivations: (string | null)[]; loss: ModelSpec["loss"]; lr: number };
  mode: "eager" | "jit";
  threads: number;
  seed: number;
  steps: number;
  warmup: number;
  minSeconds: number;
  maxSteps: number;
  /** Safetensors file with `x`, `y` and `param.<PyTorch name>` tensors. */
  data: string;
}

/** What the script prints: every step's time (ms) and loss (null where not finite), and what ran. */
interface TorchOutput {
  times: number[];
  losses: (number | null)[];
  torch: string;
  python: string;
  threads: number;
  blasInfo: string | null;
  blasLibrary: string | null;
  mkldnn: boolean;
  mkl: boolean;
  peakRssBytes: number;
}

/**
 * The exact batch and initial parameters our frontends train from (same recipe, same seed, the
 * eager frontend's draws), so PyTorch's losses are comparable step for step with ours.
 */
function writeInputs(path: string, spec: ModelSpec, seed: number): void {
  const batch = syntheticBatch(spec, spec.batch, seed);
  const tensors = new Map<string, SafeTensor>();
  tensors.set("x", { dtype: "F32", shape: batch.xShape, data: Float32Array.from(batch.x) });
  tensors.set("y", spec.loss === "ce" ? { dtype: "I32", shape: batch.yShape, data: Int32Array.from(batch.y) } : { dtype: "F32", shape: batch.yShape, data: Float32Array.from(batch.y) });
  const trainer = makeTrainer("eager", spec, { seed });
  const params = trainer.parameters();
  trainer.dispose();
  for (const { name, shape } of parameterShapes(spec)) {
    tensors.set(`param.${name}`, { dtype: "F32", shape, data: Float32Array.from(params.get(name)!) });
  }
  writeSafetensors(path, tensors);
}

/**
 * Times one model in PyTorch: the system Python runs scripts/torch_peer.py in a fresh process
 * (eager, or the model `torch.jit.trace`d; 1 or 2 intra-op threads), which reports every step;
 * the statistics are computed here with the same code as for every other run.
 */
export function measureTorch(peer: TorchPeerName, spec: ModelSpec, options: MeasureOptions, versions: Record<string, string>): PeerResult {
  const [, mode, threadTag] = peer.split("-") as [string, "eager" | "jit", string];
  const dir = mkdtempSync(join(tmpdir(), "dualgrad-torch-"));
  try {
    const data = join(dir, "inputs.safetensors");
    writeInputs(data, spec, options.seed);
    const L = spec.layers.length - 1;
    const job: TorchJob = {
      spec: { layers: spec.layers, hiddenActivations: Array.from({ length: L }, (_, i) => hiddenActivation(spec, i)), loss: spec.loss, lr: spec.lr },
      mode,
      threads: Number.parseInt(threadTag, 10),
      seed: options.seed,
      steps: options.steps,
      warmup: options.warmup,
      minSeconds: options.minSeconds,
      maxSteps: options.maxSteps ?? 1_000_000,
      data,
    };
    const run = spawnSync(pythonPath(), [TORCH_SCRIPT, JSON.stringify(job)], { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 });
    if (run.status !== 0) {
      const why = run.error ? run.error.message : `exit ${run.status}: ${(run.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}`;
      throw new Error(`torch_peer.py failed on ${spec.id}: ${why}`);
    }
    const out = JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as TorchOutput;
    const losses = out.losses.map((v) => (v === null ? NaN : v));
    const blas = out.blasLibrary ? `${out.blasLibrary} (BLAS_INFO=${out.blasInfo ?? "?"})` : `BLAS_INFO=${out.blasInfo ?? "?"}`;
    const how = mode === "jit" ? "torch.jit.trace(nn.Sequential)" : "nn.Sequential";
    const result = summarize(peer, spec, options, { times: out.times, losses }, {
      packages: { ...versions, torch: out.torch, python: out.python },
      backend: "cpu",
      detail: `${how} + optim.SGD, ${out.threads} thread(s), BLAS ${blas}, oneDNN ${out.mkldnn ? "on" : "off"}, MKL ${out.mkl ? "on" : "off"}`,
    });
    // The memory figures are Python's, not those of this Node process.
    result.memory = { peakRssBytes: out.peakRssBytes };
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
