import { allocator } from "./memory.js";

/**
 * Warns once when live tensor buffers grow at every training step for a long run of steps, the
 * signature of tensors created per step and never disposed. The optimizers call
 * {@link noteStep} from `step()`; a hand-written loop can call it once per iteration.
 */

/**
 * Consecutive growing steps before the warning by default. A real leak grows every step; a
 * short script written without `dispose` (its garbage waits for the collector) should not be
 * told off, so the default waits long enough to matter.
 */
export const LEAK_WARNING_STEPS = 1000;

let threshold = LEAK_WARNING_STEPS;
let last = -1;
let growing = 0;
let firstOfRun = 0;
let warned = false;

/** Samples the live buffer count at the end of a step; emits the warning the first time it has grown at that many steps in a row ({@link LEAK_WARNING_STEPS} by default). */
export function noteStep(where = "step"): void {
  const now = allocator.stats().liveBuffers;
  if (last >= 0 && now > last) {
    if (growing === 0) firstOfRun = last;
    growing++;
  } else {
    growing = 0;
  }
  last = now;
  if (growing < threshold || warned) return;
  warned = true;
  const message =
    `dualgrad: live tensor buffers grew at each of the last ${growing} calls of ${where} (${firstOfRun} -> ${now}). ` +
    `Tensors that are never disposed are only freed when the garbage collector finds their handles, which it may ` +
    `not do soon; wrap the step in tidy(), use \`using\`, or dispose() them. Run with DUALGRAD_TRACK_ALLOCATIONS=1 ` +
    `and print allocator.liveAllocations() (memory.liveAllocations() in @dualgrad/eager) to see where they were created.`;
  if (typeof process !== "undefined" && typeof process.emitWarning === "function") process.emitWarning(message, { code: "DUALGRAD_LEAK" });
  else console.warn(message);
}

/** Forgets the samples and re-arms the warning, to fire after `steps` growing steps in a row (tests, or a new training run). */
export function resetLeakWatch(steps = LEAK_WARNING_STEPS): void {
  threshold = steps;
  last = -1;
  growing = 0;
  warned = false;
}
