import { DualgradError, writeFileAtomic } from "@dualgrad/core";
import { checkOutputs } from "../output-paths.js";
import { toHtml } from "./html.js";
import { toMarkdown } from "./markdown.js";
import type { BenchReport } from "./types.js";

/** Which report files to write; an absent (undefined) entry is not written. */
export interface ReportTargets {
  /** The machine-readable results (what `readReport` reads back). */
  json?: string;
  /** GitHub-flavoured Markdown. */
  md?: string;
  /** One self-contained HTML file with charts. */
  html?: string;
}

/** How {@link writeReports} treats existing files and whether it writes at all. */
export interface WriteReportsOptions {
  /** Replace existing files (the CLI's `--force`). Default false: an existing file is an error. */
  overwrite?: boolean;
  /**
   * Only validate the targets, write nothing. The CLI calls this before a benchmark so a bad
   * output path fails in a second rather than after minutes of measuring.
   */
  dryRun?: boolean;
}

const FLAGS: Record<keyof ReportTargets, string> = { json: "--json", md: "--md", html: "--html" };

/** The JSON file's text: pretty-printed, with the trailing newline POSIX tools expect. */
export function toJson(report: BenchReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * Writes the requested report files, each atomically (temp file + rename, via core's
 * `writeFileAtomic`), so a reader never sees a half-written report.
 *
 * Every target is checked before any file is written, by the rule every command's outputs
 * follow ({@link checkOutputs}: writable directory, no directory or special file, no two targets
 * the same file, an existing file only with `overwrite`). So a typo in one path leaves no partial
 * set of outputs behind. All documents are also rendered before the first write, for the same reason.
 *
 * With `dryRun` only the checks run and `report` may be null.
 *
 * @returns the absolute paths written (or, with `dryRun`, that would be written), in json, md,
 *   html order.
 * @throws DualgradError naming the offending path (and the flag that gave it), suggesting
 *   `--force` for an existing file.
 */
export function writeReports(report: BenchReport | null, targets: ReportTargets, options: WriteReportsOptions = {}): string[] {
  const planned = validateTargets(targets, options.overwrite === true);
  if (options.dryRun) return planned.map((p) => p.abs);
  if (report === null) throw new DualgradError("writeReports: a report is required unless dryRun is set");

  const render: Record<keyof ReportTargets, (r: BenchReport) => string> = { json: toJson, md: toMarkdown, html: toHtml };
  const contents = planned.map((p) => ({ ...p, text: render[p.kind](report) }));
  // Note: between the checks above and the writes below another process could create a target;
  // writeFileAtomic would then replace it. Closing that window would need O_EXCL on the final
  // name, which an atomic rename cannot give; for report files the window is acceptable.
  for (const c of contents) writeFileAtomic(c.path, c.text);
  return contents.map((c) => c.abs);
}

interface Planned {
  kind: keyof ReportTargets;
  path: string;
  abs: string;
}

/** The requested targets, checked by the CLI's one output rule ({@link checkOutputs}). */
function validateTargets(targets: ReportTargets, overwrite: boolean): Planned[] {
  const kinds = (["json", "md", "html"] as const).filter((k) => targets[k] !== undefined && targets[k] !== null);
  const abs = checkOutputs(kinds.map((k) => ({ flag: FLAGS[k], path: targets[k] as string })), overwrite);
  return kinds.map((kind, i) => ({ kind, path: targets[kind] as string, abs: abs[i] }));
}
