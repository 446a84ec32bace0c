import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { note } from "../output.js";
import { readReport } from "../report/read.js";
import { writeReports } from "../report/write.js";

/** `dualgrad report`: turns a bench JSON file into Markdown and/or a self-contained HTML report. */
export function registerReport(program: Command): void {
  program
    .command("report")
    .description("render a `bench --json` results file as a self-contained HTML report (inline SVG charts) and/or Markdown")
    .requiredOption("--in <file>", "results JSON written by `dualgrad bench --json`")
    .option("--html <file>", "write the HTML report here")
    .option("--md <file>", "write the Markdown report here")
    .option("--force", "overwrite existing output files")
    .action((flags: { in: string; html?: string; md?: string; force?: boolean }) => {
      if (!flags.html && !flags.md) throw new UsageError("report: give --html FILE and/or --md FILE");
      const targets = { html: flags.html, md: flags.md };
      // Outputs first, as every command does: a bad path fails before a large input is read.
      writeReports(null, targets, { overwrite: flags.force, dryRun: true });
      const report = readReport(flags.in);
      writeReports(report, targets, { overwrite: flags.force });
      for (const f of [flags.html, flags.md]) if (f) note(`wrote ${f}`);
    });
}
