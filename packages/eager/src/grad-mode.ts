/**
 * Global autograd switches, as in PyTorch: whether ops are recorded for backward
 * (`noGrad`, `enableGrad`) and whether every result is checked for NaN/Inf (`detectAnomaly`).
 */

let gradEnabled = true;
let anomalyDetection = false;

/** True when ops on tensors that require grad are recorded for backward. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

function withGradMode<R>(enabled: boolean, fn: () => R): R {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs `fn` without recording ops (like `with torch.no_grad():`); used for parameter updates and evaluation. */
export function noGrad<R>(fn: () => R): R {
  return withGradMode(false, fn);
}

/** Runs `fn` with recording on, even inside `noGrad` (like `torch.enable_grad`). */
export function enableGrad<R>(fn: () => R): R {
  return withGradMode(true, fn);
}

/** True inside {@link detectAnomaly}. */
export function isAnomalyDetectionEnabled(): boolean {
  return anomalyDetection;
}

/**
 * Runs `fn` checking every forward result and every backward gradient for NaN/Inf; the first
 * one found throws an error naming the op that produced it (like `torch.autograd.detect_anomaly`).
 */
export function detectAnomaly<R>(fn: () => R): R {
  const prev = anomalyDetection;
  anomalyDetection = true;
  try {
    return fn();
  } finally {
    anomalyDetection = prev;
  }
}
