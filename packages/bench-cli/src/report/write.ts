import * as fs from "node:fs";
import * as nodePath from "node:path";
import { DualgradError, writeFileAtomic } from "@dualgrad/core";
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
 * Every target is checked before any file is written: its directory must exist and be writable,
 * the target must not be a directory, no two targets may be the same file, and an existing file
 * is refused unless `overwrite` is set. So a typo in one path leaves no partial set of outputs
 * behind. All documents are also rendered before the first write, for the same reason.
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

/** All the checks, none of the writes; throws on the first bad target. */
function validateTargets(targets: ReportTargets, overwrite: boolean): Planned[] {
  const planned: Planned[] = [];
  const byAbs = new Map<string, keyof ReportTargets>();
  for (const kind of ["json", "md", "html"] as const) {
    const path = targets[kind];
    if (path === undefined || path === null) continue;
    const flag = FLAGS[kind];
    if (typeof path !== "string" || path.trim() === "") throw new DualgradError(`${flag}: the output path is empty`);
    const abs = nodePath.resolve(path);
    const clash = byAbs.get(abs);
    if (clash) throw new DualgradError(`${FLAGS[clash]} and ${flag} both name '${path}'; give each report its own file`);
    byAbs.set(abs, kind);

    const dir = nodePath.dirname(abs);
    let dirStat: fs.Stats;
    try {
      dirStat = fs.statSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "does not exist" : `cannot be accessed (${(e as Error).message})`;
      throw new DualgradError(`cannot write ${flag} report '${path}': directory '${dir}' ${why}`, { cause: e });
    }
    if (!dirStat.isDirectory()) throw new DualgradError(`cannot write ${flag} report '${path}': '${dir}' is not a directory`);
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch (e) {
      throw new DualgradError(`cannot write ${flag} report '${path}': directory '${dir}' is not writable`, { cause: e });
    }

    // lstat first: a dangling symlink still "exists" as a name we would replace.
    let exists = false;
    try {
      fs.lstatSync(abs);
      exists = true;
    } catch {
      // ENOENT: the normal case of a new file
    }
    if (exists) {
      let isDir = false;
      try {
        isDir = fs.statSync(abs).isDirectory();
      } catch {
        // dangling link: not a directory
      }
      if (isDir) throw new DualgradError(`cannot write ${flag} report '${path}': it is a directory`);
      if (!overwrite) throw new DualgradError(`${flag} report '${path}' already exists; pass --force to overwrite it`);
    }
    planned.push({ kind, path, abs });
  }
  return planned;
}
