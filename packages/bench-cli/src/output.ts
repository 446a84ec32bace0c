import Table from "cli-table3";
import { Chalk } from "chalk";

/**
 * Terminal output: colours only on a TTY and never when NO_COLOR is set (chalk honours
 * FORCE_COLOR/NO_COLOR; we add the TTY check for stdout explicitly so piped output is plain).
 */
const enabled = Boolean(process.stdout.isTTY) && !("NO_COLOR" in process.env);

/** The chalk instance every command prints with. */
export const color = new Chalk({ level: enabled ? 1 : 0 });

/** Writes a line to stderr (progress, notes), keeping stdout for results. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * A one-line progress bar on stderr, redrawn in place on a TTY; on a pipe it prints nothing
 * (so logs stay clean) until `done`.
 */
export class ProgressBar {
  private readonly tty = Boolean(process.stderr.isTTY);
  private last = 0;
  constructor(private readonly label: string, private readonly total: number) {}

  update(done: number, extra: string): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 80 && done < this.total) return;
    this.last = now;
    const width = 24;
    const filled = Math.round((done / Math.max(1, this.total)) * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    process.stderr.write(`\r${this.label} ${bar} ${done}/${this.total} ${extra}\x1b[K`);
  }

  done(): void {
    if (this.tty) process.stderr.write("\n");
  }
}

/** A compact table (no rule between rows) with bold headers, for every command's output. */
export function newTable(head: string[]): Table.Table {
  return new Table({
    head: head.map((h) => color.bold(h)),
    style: { head: [], border: [] },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
}
