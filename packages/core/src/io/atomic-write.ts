import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { DualgradError } from "../errors.js";

/**
 * Writes `bytes` to `path` so that readers (and a crash at any moment) see either the old file
 * or the complete new one, never a half-written file: the bytes go to a temp file in the same
 * directory (same file system, so the final rename is atomic), are fsynced, and the temp file is
 * then renamed over the target. On any failure the temp file is removed and a {@link DualgradError}
 * naming `path` is thrown (the original error is kept as `cause`).
 *
 * Strings are written as UTF-8. An existing target's permission bits are kept; a symlink at
 * `path` is replaced by the new file rather than followed (rename semantics). Temp files that
 * earlier saves to the same path left behind when their process died mid-save are removed
 * first (the temp name carries the writer's pid).
 *
 * @throws DualgradError when the target's directory does not exist, the target is a directory
 *   or another non-regular file (a FIFO, a device), or any write, sync or rename fails.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const target = nodePath.resolve(path);
  const dir = nodePath.dirname(target);
  const base = nodePath.basename(target);

  // Check up front so the common mistakes get a message that says what is wrong rather than a
  // bare ENOENT/EISDIR about a temp file the caller never heard of.
  let dirStat: fs.Stats;
  try {
    dirStat = fs.statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : `cannot be accessed (${describe(e)})`;
    throw new DualgradError(`cannot write '${path}': directory '${dir}' ${why}`, { cause: e });
  }
  if (!dirStat.isDirectory()) {
    throw new DualgradError(`cannot write '${path}': '${dir}' is not a directory`);
  }
  let mode: number | undefined;
  try {
    const st = fs.statSync(target);
    if (st.isDirectory()) throw new DualgradError(`cannot write '${path}': it is a directory`);
    // The rename would replace a FIFO or a device node (as root, /dev/sda) with a regular file.
    if (!st.isFile()) throw new DualgradError(`cannot write '${path}': it is not a regular file`);
    mode = st.mode & 0o7777;
  } catch (e) {
    if (e instanceof DualgradError) throw e;
    // ENOENT is the normal case of a new file; anything else will resurface at rename time.
  }

  removeStaleTemps(dir, base);
  const data = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
  // pid + random keeps concurrent writers (threads, processes) from sharing a temp file, and the
  // pid lets a later save tell a dead writer's leftover from a live writer's work in progress;
  // the leading dot keeps it out of casual directory listings.
  const tmp = nodePath.join(dir, tempName(base, process.pid, randomBytes(6).toString("hex")));
  let fd: number | undefined;
  try {
    // "wx": fail rather than clobber if the name somehow exists.
    fd = fs.openSync(tmp, "wx", mode ?? 0o666);
    let off = 0;
    while (off < data.byteLength) {
      off += fs.writeSync(fd, data, off, data.byteLength - off);
    }
    // Without fsync a crash after the rename can leave a renamed but empty file on some file systems.
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    if (mode !== undefined) fs.chmodSync(tmp, mode); // openSync's mode is filtered by the umask
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; the original error is the one worth reporting
      }
    }
    try {
      fs.unlinkSync(tmp);
    } catch {
      // the temp file may never have been created
    }
    throw new DualgradError(`cannot write '${path}': ${describe(e)}`, { cause: e });
  }
  syncDirectory(dir);
}

/** The temp file name of a save to `base` by process `pid`: `.{base}.{pid}.{12 hex digits}.tmp`. */
function tempName(base: string, pid: number, rand: string): string {
  return `.${base}.${pid}.${rand}.tmp`;
}

const TEMP_TAIL = /^(\d+)\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes the temp files that earlier saves to `base` left in `dir` when their process was
 * killed (kill -9, power loss) between creating and renaming them: those whose pid names no
 * live process (`process.kill(pid, 0)` fails with ESRCH). A live pid's file is kept, since it
 * may be a save in progress; so is one whose pid was reused (harmless: the next save after that
 * process ends removes it). Best effort: a file that cannot be listed or removed is left alone.
 */
function removeStaleTemps(dir: string, base: string): void {
  const prefix = `.${base}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = TEMP_TAIL.exec(name.slice(prefix.length));
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      fs.unlinkSync(nodePath.join(dir, name));
    } catch {
      // gone already (another writer cleaned up) or not ours to remove
    }
  }
}

/** Whether `pid` names a running process; EPERM means it runs under another user. */
function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return true; // not a pid we wrote: leave it
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/** Makes the rename itself durable; best effort, since some platforms cannot fsync a directory. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Windows and some file systems refuse; the data itself is already synced.
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // nothing useful to do
      }
    }
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
