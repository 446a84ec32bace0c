import { allocator } from "./memory.js";

/**
 * Warns once when live tensor buffers grow at every training step for a long run of steps, the
 * signature of tensors created per step and never disposed. The optimizers call
 * {@link noteStep} from `step()`; a hand-written loop can call it once per iteration.
 */

/** Consecutive growing steps before the warning (a real leak grows every step; noise does not). */
export const LEAK_WARNING_STEPS = 50;

let last = -1;
let growing = 0;
let firstOfRun = 0;
let warned = false;

/** Samples the live buffer count at the end of a step; emits the warning the first time it has grown {@link LEAK_WARNING_STEPS} steps in a row. */
export function noteStep(where = "step"): void {
  const now = allocator.stats().liveBuffers;
  if (last >= 0 && now > last) {
    if (growing === 0) firstOfRun = last;
    growing++;
  } else {
    growing = 0;
  }
  last = now;
  if (growing < LEAK_WARNING_STEPS || warned) return;
  warned = true;
  const message =
    `dualgrad: live tensor buffers grew at each of the last ${growing} calls of ${where} (${firstOfRun} -> ${now}). ` +
    `Tensors that are never disposed are only freed when the garbage collector finds their handles, which it may ` +
    `not do soon; wrap the step in tidy(), use \`using\`, or dispose() them. Run with DUALGRAD_TRACK_ALLOCATIONS=1 ` +
    `and print allocator.liveAllocations() (memory.liveAllocations() in @dualgrad/eager) to see where they were created.`;
  if (typeof process !== "undefined" && typeof process.emitWarning === "function") process.emitWarning(message, { code: "DUALGRAD_LEAK" });
  else console.warn(message);
}

/** Forgets the samples and re-arms the warning (tests, or a new training run). */
export function resetLeakWatch(): void {
  last = -1;
  growing = 0;
  warned = false;
}
