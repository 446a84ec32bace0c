import * as fs from "node:fs";
import * as nodePath from "node:path";
import { DualgradError } from "@dualgrad/core";

/** One file a command will write, and the flag that named it (for messages). */
export interface OutputTarget {
  flag: string;
  path: string;
}

/**
 * The one rule for every output path of every command (bench --json/--md/--html, train --save,
 * report --html/--md), checked before any work starts so a typo costs a second, not a training
 * run, and a refused target leaves no partial set of outputs behind:
 * - the directory must exist and be writable;
 * - the target must not be a directory, and, even with `overwrite`, nothing but a regular file
 *   (or a link to one) is ever replaced: the atomic rename would turn a FIFO or a device node
 *   into a regular file (as root, `/dev/sda` included);
 * - an existing file is refused unless `overwrite` (the CLI's `--force`);
 * - no two targets may name the same file.
 *
 * @returns the absolute paths, in `targets` order.
 * @throws DualgradError naming the flag and path, suggesting `--force` for an existing file.
 */
export function checkOutputs(targets: readonly OutputTarget[], overwrite: boolean): string[] {
  const byAbs = new Map<string, string>();
  return targets.map(({ flag, path }) => {
    if (typeof path !== "string" || path.trim() === "") throw new DualgradError(`${flag}: the output path is empty`);
    const abs = nodePath.resolve(path);
    const clash = byAbs.get(abs);
    if (clash) throw new DualgradError(`${clash} and ${flag} both name '${path}'; give each output its own file`);
    byAbs.set(abs, flag);
    const cannot = (why: string, cause?: unknown) => new DualgradError(`cannot write ${flag} '${path}': ${why}`, { cause });

    const dir = nodePath.dirname(abs);
    let dirStat: fs.Stats;
    try {
      dirStat = fs.statSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw cannot(`directory '${dir}' ${code === "ENOENT" ? "does not exist" : `cannot be accessed (${(e as Error).message})`}`, e);
    }
    if (!dirStat.isDirectory()) throw cannot(`'${dir}' is not a directory`);
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch (e) {
      throw cannot(`directory '${dir}' is not writable`, e);
    }

    // lstat first: a dangling symlink still "exists" as a name we would replace.
    let own: fs.Stats;
    try {
      own = fs.lstatSync(abs);
    } catch {
      return abs; // ENOENT: the normal case of a new file
    }
    let kind = own;
    if (own.isSymbolicLink()) {
      try {
        kind = fs.statSync(abs);
      } catch {
        // a dangling link: nothing behind it to protect but the link itself
      }
    }
    if (kind.isDirectory()) throw cannot("it is a directory");
    if (!kind.isFile() && !kind.isSymbolicLink()) throw cannot(`it is ${special(kind)}, not a regular file; refusing to replace it, even with --force`);
    if (!overwrite) throw new DualgradError(`${flag} '${path}' already exists; pass --force to overwrite it`);
    return abs;
  });
}

/** What kind of special file `st` is, for messages. */
function special(st: fs.Stats): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "a special file";
}
