import { totalmem } from "node:os";
import { UsageError } from "./errors.js";
import type { ModelSpec } from "./models.js";
import { formatBytes } from "./report/format.js";

/**
 * A size check before anything is allocated, so `--layers 100000,100000,1` or `--batch-size 1e9`
 * is one line naming what it would take, not "Array buffer allocation failed" minutes in (or a
 * machine swapping). The estimate is deliberately rough and on the high side: every element
 * counted as float64, parameters counted six times (values, gradients, two optimizer slots, the
 * copies kept for saving and anomaly replay), activations four times (forward values,
 * pre-activations, gradients, planner slack), data rows three times (generated, split, batch
 * buffers).
 */

/** The largest tensor the CLI builds: typed arrays and the Int32 row orders stop near 2^31 elements. */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

/** The memory one run may plan for: half the machine's RAM, leaving the rest to Node, the OS and other work. */
export function memoryBudget(): number {
  return Math.floor(totalmem() / 2);
}

/** What {@link estimateMemory} found: bytes by part, and the largest single tensor. */
export interface MemoryEstimate {
  parameterBytes: number;
  activationBytes: number;
  dataBytes: number;
  total: number;
  largest: { what: string; elements: number };
}

/** The estimate for training `spec` (its batch size included) on `rows` data rows (0: just one batch, as compare and graph use). */
export function estimateMemory(spec: ModelSpec, rows: number): MemoryEstimate {
  const L = spec.layers;
  let params = 0;
  let widths = 0;
  let largest = { what: "", elements: -1 };
  for (let i = 0; i < L.length; i++) {
    widths += L[i];
    if (spec.batch * L[i] > largest.elements) largest = { what: `the ${spec.batch}x${L[i]} activations of a batch`, elements: spec.batch * L[i] };
    if (i + 1 < L.length) {
      const w = L[i] * L[i + 1];
      params += w + L[i + 1];
      if (w > largest.elements) largest = { what: `the ${L[i + 1]}x${L[i]} weight of layer ${i}`, elements: w };
    }
  }
  const data = rows * (L[0] + L[L.length - 1]);
  if (rows * L[0] > largest.elements) largest = { what: `the ${rows}x${L[0]} data`, elements: rows * L[0] };
  const parameterBytes = 6 * 8 * params;
  const activationBytes = 4 * 8 * spec.batch * widths;
  const dataBytes = 3 * 8 * data;
  return { parameterBytes, activationBytes, dataBytes, total: parameterBytes + activationBytes + dataBytes, largest };
}

/**
 * Throws a {@link UsageError} when training `spec` on `rows` rows would not fit {@link memoryBudget}
 * or would need a tensor over {@link MAX_TENSOR_ELEMENTS}, saying what it would need.
 */
export function checkMemory(spec: ModelSpec, rows: number, budget = memoryBudget()): void {
  const e = estimateMemory(spec, rows);
  const what = `model ${spec.id} with batch size ${spec.batch}${rows > 0 ? ` on ${rows} rows` : ""}`;
  const advice = "use smaller --layers, --batch-size or --samples";
  if (e.largest.elements > MAX_TENSOR_ELEMENTS) {
    throw new UsageError(`${what} needs ${e.largest.what}, ${e.largest.elements.toExponential(2)} elements, over the ${MAX_TENSOR_ELEMENTS}-element limit of one tensor; ${advice}`);
  }
  if (e.total > budget) {
    throw new UsageError(
      `${what} needs about ${formatBytes(e.total)} (parameters ${formatBytes(e.parameterBytes)}, activations ${formatBytes(e.activationBytes)}, data ${formatBytes(e.dataBytes)}), ` +
        `over the budget of ${formatBytes(budget)} (half of this machine's memory); ${advice}`,
    );
  }
}
