import { syntheticBatch } from "../datasets/synthetic.js";
import type { ModelSpec } from "../models.js";
import type { AgreementResult } from "../report/types.js";
import { makeTrainer } from "./index.js";

/**
 * max |ours - ref| over a tensor (NaN wins), and that relative to the reference's largest
 * magnitude: the error measure every comparison in the workbench reports.
 */
export function tensorDifference(ours: ArrayLike<number>, ref: ArrayLike<number>): { maxAbs: number; maxRel: number } {
  let maxAbs = 0;
  let mag = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i] - ref[i]);
    maxAbs = d > maxAbs || d !== d ? d : maxAbs;
    mag = Math.max(mag, Math.abs(ref[i]));
  }
  return { maxAbs, maxRel: maxAbs / (mag || 1) };
}

/** The worst {@link tensorDifference} over every parameter two maps share. */
export function differences(a: Map<string, ArrayLike<number>>, b: Map<string, ArrayLike<number>>): { maxAbs: number; maxRel: number } {
  let maxAbs = 0;
  let maxRel = 0;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y) continue;
    const d = tensorDifference(x, y);
    maxAbs = Math.max(maxAbs, d.maxAbs);
    maxRel = Math.max(maxRel, d.maxRel);
  }
  return { maxAbs, maxRel };
}

/** Eager vs graph gradients for one model (same seed, same batch), with every pass on and with fusion off. */
export function agreement(spec: ModelSpec, seed: number): AgreementResult {
  const batch = syntheticBatch(spec, spec.batch, seed);
  const eager = makeTrainer("eager", spec, { seed });
  const graph = makeTrainer("graph", spec, { seed });
  const unfused = makeTrainer("graph", spec, { seed, disable: ["fuse"] });
  try {
    const ge = eager.gradients(batch);
    const all = differences(graph.gradients(batch), ge);
    const plain = differences(unfused.gradients(batch), ge);
    return { model: spec.id, maxAbs: all.maxAbs, maxRel: all.maxRel, unfusedMaxAbs: plain.maxAbs };
  } finally {
    eager.dispose();
    graph.dispose();
    unfused.dispose();
  }
}
