import { DualgradError, readInputText } from "@dualgrad/core";
import { PEERS } from "../peers/names.js";
import { profileProblem } from "../profile/check.js";
import type { BenchReport } from "./types.js";

/**
 * The largest report read: 64 MiB. A `bench --json` file is tens of kilobytes; the bound keeps a
 * wrong path (a log, a dataset) from being parsed whole.
 */
export const REPORT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Reads a results file written by `dualgrad bench --json` (or {@link writeReports}) back into a
 * {@link BenchReport}, for `dualgrad report` to render.
 *
 * The structure is checked as far as the renderers rely on it (`machine`; `results` entries with
 * `model`, `frontend`, `msPerStep.median` and `memory`, and numbers in `rounds.medianMsPerStep`
 * where present; `agreement` entries with `model`, `maxAbs`, `maxRel`; `sweeps` as docs/REPORT-JSON.md gives them; `training` runs with `losses`
 * when present), so a wrong file fails here
 * with a message that names it and the first field that is off, rather than as a TypeError deep
 * inside a chart. Extra fields are allowed: the format is additive.
 *
 * @throws DualgradError naming `path` when it does not exist, is a directory, a device or FIFO,
 *   is over {@link REPORT_MAX_BYTES}, cannot be read, is not JSON, or is not a dualgrad bench report.
 */
export function readReport(path: string): BenchReport {
  const text = readInputText(path, {
    maxBytes: REPORT_MAX_BYTES,
    limitName: "limit for a report",
    kind: "a JSON file",
    message: (reason) => `cannot read report '${path}': ${reason}`,
  });

  let data: unknown;
  try {
    // Strip a UTF-8 BOM: editors on some platforms add one, and JSON.parse rejects it.
    data = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (e) {
    throw new DualgradError(`cannot read report '${path}': not valid JSON (${(e as Error).message})`, { cause: e });
  }

  const problem = checkReport(data);
  if (problem) {
    throw new DualgradError(`'${path}' is not a dualgrad bench report: ${problem} (expected the output of 'dualgrad bench --json')`);
  }
  return data as BenchReport;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** The first structural problem found, as a phrase naming the field, or null when none. */
function checkReport(data: unknown): string | null {
  if (!isObject(data)) return `the top level is ${describe(data)}, not an object`;
  if (!isObject(data.machine)) return "'machine' is missing or not an object";
  if (!Array.isArray(data.results)) return "'results' is missing or not an array";
  if (!Array.isArray(data.agreement)) return "'agreement' is missing or not an array";

  for (let i = 0; i < data.results.length; i++) {
    const problem = checkRun(data.results[i], `results[${i}]`, ["eager", "graph"]);
    if (problem) return problem;
  }
  if (data.peers !== undefined) {
    if (!Array.isArray(data.peers)) return "'peers' is not an array";
    for (let i = 0; i < data.peers.length; i++) {
      const problem = checkRun(data.peers[i], `peers[${i}]`, PEERS);
      if (problem) return problem;
    }
  }
  for (let i = 0; i < data.agreement.length; i++) {
    const a: unknown = data.agreement[i];
    const at = `agreement[${i}]`;
    if (!isObject(a)) return `${at} is not an object`;
    if (typeof a.model !== "string") return `${at}.model is missing or not a string`;
    for (const k of ["maxAbs", "maxRel"]) if (typeof a[k] !== "number") return `${at}.${k} is missing or not a number`;
  }
  if (data.sweeps !== undefined) {
    if (!Array.isArray(data.sweeps)) return "'sweeps' is not an array";
    for (let i = 0; i < data.sweeps.length; i++) {
      const problem = checkSweep(data.sweeps[i], `sweeps[${i}]`);
      if (problem) return problem;
    }
  }
  if (data.training !== undefined) {
    if (!Array.isArray(data.training)) return "'training' is not an array";
    for (let i = 0; i < data.training.length; i++) {
      const t: unknown = data.training[i];
      if (!isObject(t) || typeof t.model !== "string") return `training[${i}].model is missing or not a string`;
      if (!Array.isArray(t.losses)) return `training[${i}].losses is missing or not an array`;
    }
  }
  if (data.profile !== undefined) return profileProblem(data.profile);
  return null;
}

/** The first problem with one sweep (the shape docs/REPORT-JSON.md documents), or null. */
function checkSweep(w: unknown, at: string): string | null {
  if (!isObject(w)) return `${at} is not an object`;
  if (typeof w.model !== "string") return `${at}.model is missing or not a string`;
  if (w.param !== "batch" && w.param !== "width") return `${at}.param is ${describe(w.param)}, expected "batch" or "width"`;
  if (!Array.isArray(w.values) || !w.values.every((v) => typeof v === "number" && Number.isFinite(v) && v > 0)) return `${at}.values is missing or not an array of positive numbers`;
  if (!Array.isArray(w.models) || !w.models.every((m) => typeof m === "string")) return `${at}.models is missing or not an array of strings`;
  if (w.models.length !== w.values.length) return `${at}.models has ${w.models.length} entries but values has ${w.values.length}`;
  return null;
}

/** The first problem with one measured run (a frontend's or a peer's), or null. */
function checkRun(r: unknown, at: string, frontends: readonly string[]): string | null {
  if (!isObject(r)) return `${at} is not an object`;
  if (typeof r.model !== "string") return `${at}.model is missing or not a string`;
  if (!frontends.includes(r.frontend as string)) return `${at}.frontend is ${describe(r.frontend)}, expected ${frontends.map((f) => `"${f}"`).join(" or ")}`;
  if (!isObject(r.msPerStep) || typeof r.msPerStep.median !== "number") return `${at}.msPerStep.median is missing or not a number`;
  if (!isObject(r.memory)) return `${at}.memory is missing or not an object`;
  // Optional (`bench --rounds`); the reports take its minimum and maximum.
  if (r.rounds !== undefined && !(isObject(r.rounds) && Array.isArray(r.rounds.medianMsPerStep) && r.rounds.medianMsPerStep.every((m) => typeof m === "number"))) {
    return `${at}.rounds.medianMsPerStep is missing or not an array of numbers`;
  }
  return null;
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  if (typeof x === "string") return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  return typeof x === "undefined" ? "missing" : `a ${typeof x}`;
}
