import { ProfileRecorder, allocator, setProfiler, type ProfileSpan } from "@dualgrad/core";
import { syntheticBatch } from "../datasets/synthetic.js";
import type { ModelSpec } from "../models.js";
import { eagerTrainer } from "../runners/eager-trainer.js";
import { graphTrainer } from "../runners/graph-trainer.js";
import type { Frontend } from "../runners/trainer.js";
import { summarize, type FrontendProfile } from "./summary.js";

/** A frontend's profile and the raw spans behind it (for the trace). */
export interface ProfiledRun {
  profile: FrontendProfile;
  spans: ProfileSpan[];
}

/**
 * Trains `spec` on `frontend` for `warmup` steps unprofiled (compilation, pool growth, JIT), then
 * `steps` steps with a recorder installed, each step one `step` span; counts the allocator's
 * launches per step alongside, so the table can be checked against the allocator.
 */
export function profileFrontend(spec: ModelSpec, frontend: Frontend, warmup: number, steps: number): ProfiledRun {
  const trainer = frontend === "eager" ? eagerTrainer(spec, { seed: 0 }) : graphTrainer(spec, { seed: 0 });
  const batch = syntheticBatch(spec, spec.batch, 0);
  const recorder = new ProfileRecorder();
  const launchesPerStep: number[] = [];
  const kernelSpansPerStep: number[] = [];
  try {
    for (let i = 0; i < warmup; i++) trainer.step(batch);
    const previous = setProfiler(recorder);
    try {
      for (let i = 0; i < steps; i++) {
        const launches = allocator.stats().kernelLaunches;
        const spans = recorder.spans.length;
        const t0 = recorder.now();
        trainer.step(batch);
        recorder.span(`step ${i}`, "step", t0);
        launchesPerStep.push(allocator.stats().kernelLaunches - launches);
        kernelSpansPerStep.push(recorder.spans.slice(spans).filter((s) => s.cat === "kernel").length);
      }
    } finally {
      setProfiler(previous);
    }
  } finally {
    trainer.dispose();
  }
  return { profile: summarize(frontend, recorder.spans, steps, launchesPerStep, kernelSpansPerStep), spans: recorder.spans };
}
