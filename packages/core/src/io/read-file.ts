/**
 * Bounded reading of input files that a user names (weights, datasets, reports).
 *
 * Every reader of such a file goes through here so that the same three hazards are handled once:
 * a path that is not a regular file (`/dev/zero` never ends, a FIFO blocks forever waiting for a
 * writer), a file larger than the reader is prepared to hold, and a file that grows while it is
 * read. Each failure is an {@link InputFileError} whose message names the path.
 */
import * as fs from "node:fs";
import { DualgradError } from "../errors.js";

/** Options shared by the bounded readers. */
export interface InputFileOptions {
  /** The most bytes the caller will read; a larger file is refused before anything is read. */
  maxBytes: number;
  /** How to name the limit in the error, e.g. `"CSV size limit (CsvOptions.maxBytes)"`. */
  limitName?: string;
  /** What the file should be, for "it is a directory, not a CSV file" (e.g. `"a CSV file"`). */
  kind?: string;
  /** Builds the message from the reason; default `cannot read '<path>': <reason>`. */
  message?: (reason: string) => string;
}

/** A named input file that cannot be read: missing, not a regular file, too large, unreadable. */
export class InputFileError extends DualgradError {
  override name = "InputFileError";
  /** The path as the caller gave it. */
  readonly path: string;
  /** The phrase after the path, e.g. `no such file` or `it is a named pipe (FIFO), not a regular file`. */
  readonly reason: string;
  constructor(path: string, reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
    this.reason = reason;
  }
}

/** What a non-regular file is, for the error. */
function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

// O_NONBLOCK: opening a FIFO for reading otherwise blocks until a writer appears, before fstat
// could refuse it (a regular file is unaffected). Absent on Windows, which has no FIFOs to open.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/** An open regular input file; the caller closes `fd` (fs.closeSync). */
export interface InputFile {
  /** The file descriptor. */
  fd: number;
  /** The size at open time, at most `maxBytes`. */
  size: number;
}

function failer(path: string, options: InputFileOptions): (reason: string, cause?: unknown) => never {
  const format = options.message ?? ((reason: string) => `cannot read '${path}': ${reason}`);
  return (reason, cause) => {
    throw new InputFileError(path, reason, format(reason), cause === undefined ? undefined : { cause });
  };
}

function checkStats(st: fs.Stats, options: InputFileOptions, fail: (reason: string) => never): void {
  if (st.isDirectory()) fail(`it is a directory${options.kind ? `, not ${options.kind}` : ""}`);
  if (!st.isFile()) fail(`it is ${kindOf(st)}, not a regular file`);
  if (st.size > options.maxBytes) fail(tooBig(st.size, options));
}

function tooBig(size: number | string, options: InputFileOptions): string {
  return `it is ${size} bytes, over the ${options.maxBytes}-byte ${options.limitName ?? "size limit"}`;
}

function errnoReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return e instanceof Error ? e.message : String(e);
}

/**
 * Opens `path` for reading after checking that it is a regular file of at most `maxBytes`.
 * The path is checked with stat before opening (so a FIFO is never opened) and the descriptor
 * with fstat after (so a path swapped in between is caught too).
 *
 * @throws InputFileError naming the path when it is missing, unreadable, a directory, a device,
 *   FIFO or socket, or larger than `maxBytes`.
 */
export function openInputFile(path: string, options: InputFileOptions): InputFile {
  const fail = failer(path, options);
  let fd: number;
  try {
    checkStats(fs.statSync(path), options, fail);
    fd = fs.openSync(path, OPEN_FLAGS);
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    return fail(errnoReason(e), e);
  }
  try {
    const st = fs.fstatSync(fd);
    checkStats(st, options, fail);
    return { fd, size: st.size };
  } catch (e) {
    fs.closeSync(fd);
    if (e instanceof InputFileError) throw e;
    return fail(errnoReason(e), e);
  }
}

/**
 * Calls `onChunk` with successive pieces of the file, in order, never reading more than
 * `maxBytes` in all (a file that grows past the limit while being read is refused). The chunk is
 * a view of a reused buffer: copy what must outlive the call.
 *
 * @param chunkBytes the size of the read buffer (default 1 MiB).
 * @throws InputFileError as {@link openInputFile}, and when a read fails or the file outgrows the limit.
 */
export function readInputChunks(
  path: string,
  options: InputFileOptions,
  onChunk: (chunk: Uint8Array) => void,
  chunkBytes = 1 << 20,
): void {
  const fail = failer(path, options);
  const { fd } = openInputFile(path, options);
  try {
    const buf = new Uint8Array(chunkBytes);
    let total = 0;
    for (;;) {
      // Ask for one byte past the limit at most, so growth past it is seen without reading on.
      const want = Math.min(buf.length, options.maxBytes + 1 - total);
      let got: number;
      try {
        got = fs.readSync(fd, buf, 0, want, null);
      } catch (e) {
        return fail(errnoReason(e), e);
      }
      if (got === 0) return;
      total += got;
      if (total > options.maxBytes) fail(tooBig(`more than ${options.maxBytes}`, options));
      onChunk(buf.subarray(0, got));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads a whole regular file of at most `maxBytes` (see {@link openInputFile}) into one buffer
 * sized from fstat, so the peak is the file size, not twice it. The read stops at end of file,
 * not at the size fstat reported, so a file that shrinks or grows is read as it is, but never
 * past the limit.
 *
 * @throws InputFileError as {@link readInputChunks}.
 */
export function readInputFile(path: string, options: InputFileOptions): Uint8Array {
  const fail = failer(path, options);
  const { fd, size } = openInputFile(path, options);
  const read = (into: Uint8Array, at: number): number => {
    try {
      return fs.readSync(fd, into, at, into.length - at, null);
    } catch (e) {
      return fail(errnoReason(e), e);
    }
  };
  try {
    let out = new Uint8Array(size);
    let total = 0;
    for (;;) {
      if (total === out.length) {
        // Full: one probe byte tells end of file (the usual case) from a file that grew.
        const probe = new Uint8Array(1);
        if (read(probe, 0) === 0) return out;
        if (total + 1 > options.maxBytes) fail(tooBig(`more than ${options.maxBytes}`, options));
        const grown = new Uint8Array(Math.min(Math.max(2 * out.length, 1 << 16), options.maxBytes));
        grown.set(out);
        grown[total++] = probe[0];
        out = grown;
        continue;
      }
      const got = read(out, total);
      if (got === 0) return out.subarray(0, total);
      total += got;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads a whole regular file of at most `maxBytes` as UTF-8 text (invalid bytes become U+FFFD,
 * as `fs.readFileSync(path, "utf8")` does; a leading BOM is kept).
 *
 * @throws InputFileError as {@link readInputChunks}.
 */
export function readInputText(path: string, options: InputFileOptions): string {
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(readInputFile(path, options));
}
