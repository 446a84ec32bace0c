/**
 * safetensors: the weight format PyTorch users exchange (Hugging Face's `safetensors` library).
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON (the header, possibly padded
 * with trailing spaces), then the data section. The header maps each tensor name to
 * `{"dtype","shape","data_offsets":[begin,end]}` (offsets relative to the data section) and may
 * carry a `"__metadata__"` object of string → string.
 *
 * The reader treats its input as hostile: every field is checked and every failure is a
 * {@link FormatError} whose message starts with `safetensors: `, names the source and the tensor.
 */
import type { DType, TypedArrayOf } from "../dtype.js";
import { DualgradError, FormatError, ShapeError } from "../errors.js";
import { formatShape } from "../shape.js";
import { writeFileAtomic } from "./atomic-write.js";
import { readInputFile } from "./read-file.js";

/** The safetensors dtypes dualgrad reads and writes. */
export type SafeDType = "F32" | "F64" | "I32" | "I64";

/** One tensor of a safetensors file: row-major (C order) data, little-endian on disk. */
export interface SafeTensor {
  /** Element type; must match the array type of `data`. */
  dtype: SafeDType;
  /** Dimensions, outermost first; `[]` is a scalar. */
  shape: number[];
  /** The elements; `data.length` equals the product of `shape`. */
  data: Float32Array | Float64Array | Int32Array | BigInt64Array;
}

/** A parsed safetensors file. */
export interface SafetensorsFile {
  /** Tensors by name, in the order the header lists them. */
  tensors: Map<string, SafeTensor>;
  /** The `__metadata__` strings (empty when the file has none). */
  metadata: Record<string, string>;
}

type SafeArrayCtor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int32ArrayConstructor
  | BigInt64ArrayConstructor;

const SAFE_INFO: Record<SafeDType, { bytes: number; ctor: SafeArrayCtor }> = {
  F32: { bytes: 4, ctor: Float32Array },
  F64: { bytes: 8, ctor: Float64Array },
  I32: { bytes: 4, ctor: Int32Array },
  I64: { bytes: 8, ctor: BigInt64Array },
};

const SUPPORTED = "F32, F64, I32, I64";

/**
 * dtypes the safetensors library defines that dualgrad does not hold. Listing them lets a file
 * with, say, F16 weights get "not supported" rather than the misleading "unknown dtype".
 */
const KNOWN_UNSUPPORTED = new Set([
  "BOOL", "U8", "I8", "U16", "I16", "U32", "U64", "F16", "BF16",
  "F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64",
]);

/**
 * Bounds on what a safetensors reader accepts, so that a small hostile file cannot cost
 * gigabytes or minutes: JSON.parse of a header costs far more memory than the header's bytes
 * (tens of bytes per value), so the counts are checked by a cheap scan of the raw bytes first.
 * Real checkpoints sit far below every default (a few thousand tensors of rank at most 5, a
 * handful of metadata strings, nesting depth 3).
 */
export interface SafetensorsLimits {
  /** Largest file {@link readSafetensors} reads (default 2^31 - 1 bytes, Node's readFileSync limit). */
  maxFileBytes?: number;
  /** Largest header (default 100,000,000 bytes, the Rust library's MAX_HEADER_SIZE). */
  maxHeaderBytes?: number;
  /** Most tensors in one file (default 100,000). */
  maxTensors?: number;
  /** Most `__metadata__` entries (default 10,000). */
  maxMetadataEntries?: number;
  /** Deepest nesting of JSON arrays and objects in the header (default 64; a valid header has 3). */
  maxJsonDepth?: number;
  /** Most JSON values in the header, counted as commas plus brackets (default 2,000,000). */
  maxJsonValues?: number;
  /** Most dimensions in one tensor's shape (default 64), so no shape printed in an error is megabytes long. */
  maxRank?: number;
}

/** The default {@link SafetensorsLimits}. */
export const SAFETENSORS_LIMITS: Readonly<Required<SafetensorsLimits>> = Object.freeze({
  maxFileBytes: 2 ** 31 - 1,
  maxHeaderBytes: 100_000_000,
  maxTensors: 100_000,
  maxMetadataEntries: 10_000,
  maxJsonDepth: 64,
  maxJsonValues: 2_000_000,
  maxRank: 64,
});

const METADATA_KEY = "__metadata__";

// Files are little-endian; every mainstream host is too, but swap rather than silently misread.
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isSafeDType(s: unknown): s is SafeDType {
  return typeof s === "string" && Object.prototype.hasOwnProperty.call(SAFE_INFO, s);
}

/** Quotes a name for an error message, truncating hostile multi-megabyte names. */
function q(name: string): string {
  return `'${name.length > 120 ? `${name.slice(0, 120)}…` : name}'`;
}

/**
 * Shows an arbitrary JSON value in an error message, briefly. Bounded in depth and width by hand:
 * JSON.stringify or String() on a hostile 200k-deep array would overflow the stack.
 */
function show(v: unknown): string {
  const s = render(v, 0);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

function render(v: unknown, depth: number): string {
  if (v === undefined) return "undefined";
  if (typeof v === "string") return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  if (typeof v === "bigint") return `${v}n`;
  if (v === null || typeof v !== "object") return String(v);
  if (depth >= 3) return Array.isArray(v) ? "[…]" : "{…}";
  if (Array.isArray(v)) {
    const items = v.slice(0, 8).map((x) => render(x, depth + 1));
    if (v.length > 8) items.push("…");
    return `[${items.join(",")}]`;
  }
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  const keys = Object.keys(v);
  const items = keys.slice(0, 8).map((k) => `${JSON.stringify(k.slice(0, 40))}:${render((v as Record<string, unknown>)[k], depth + 1)}`);
  if (keys.length > 8) items.push("…");
  return `{${items.join(",")}}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function ownValue(obj: Record<string, unknown>, key: string): unknown {
  // hasOwn guards against names like "constructor" resolving to Object.prototype members.
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/** Sets a data property even for keys like "__proto__", which plain assignment would swallow. */
function defineString(obj: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isJsonWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const METADATA_BYTES = new TextEncoder().encode(`"${METADATA_KEY}"`);

function isKeyOf(bytes: Uint8Array, begin: number, end: number, quotedKey: Uint8Array): boolean {
  if (end - begin !== quotedKey.length) return false;
  for (let i = 0; i < quotedKey.length; i++) if (bytes[begin + i] !== quotedKey[i]) return false;
  return true;
}

/**
 * One pass over the raw header bytes, before anything is decoded or parsed, that enforces the
 * count and depth limits and records where each top-level key is. Working on bytes is safe
 * because every JSON structural character is ASCII and UTF-8 never reuses ASCII bytes inside a
 * multi-byte character. The scan tolerates invalid JSON (JSON.parse rejects it afterwards); it
 * only counts, so that JSON.parse is never handed more than the limits allow.
 *
 * Key positions matter because JSON.parse loses the written order for integer-like names ("0",
 * "1", ... enumerate first) and silently keeps the last of duplicate keys; the ranges (quotes
 * included) recover both once JSON.parse has accepted the text.
 */
function scanHeader(
  bytes: Uint8Array,
  limits: Required<SafetensorsLimits>,
  fail: (msg: string) => never,
): [number, number][] {
  const keys: [number, number][] = [];
  const n = bytes.length;
  let depth = 0;
  let values = 0;
  let metadataEntries = 0;
  let inMetadata = false;
  let tensors = 0;
  const limit = (what: string, name: keyof SafetensorsLimits): never =>
    fail(`header ${what} (the limit is SafetensorsLimits.${name} = ${limits[name]})`);
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      let j = i + 1;
      while (j < n && bytes[j] !== QUOTE) j += bytes[j] === BACKSLASH ? 2 : 1;
      if (depth === 1 || (depth === 2 && inMetadata)) {
        let k = j + 1;
        while (k < n && isJsonWhitespace(bytes[k])) k++;
        // A string followed by ':' is a key; a value string is followed by ',', '}' or ']'.
        if (bytes[k] === 0x3a) {
          if (depth === 1) {
            keys.push([i, j + 1]);
            inMetadata = isKeyOf(bytes, i, j + 1, METADATA_BYTES);
            if (!inMetadata && ++tensors > limits.maxTensors) {
              limit(`lists more than ${limits.maxTensors} tensors`, "maxTensors");
            }
          } else if (++metadataEntries > limits.maxMetadataEntries) {
            limit(`has more than ${limits.maxMetadataEntries} __metadata__ entries`, "maxMetadataEntries");
          }
        }
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limits.maxJsonDepth) {
        limit(`nests arrays or objects more than ${limits.maxJsonDepth} deep`, "maxJsonDepth");
      }
      if (++values > limits.maxJsonValues) limit(`has more than ${limits.maxJsonValues} JSON values`, "maxJsonValues");
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c && ++values > limits.maxJsonValues) {
      limit(`has more than ${limits.maxJsonValues} JSON values`, "maxJsonValues");
    }
  }
  return keys;
}

/** Copies little-endian bytes into a fresh (hence aligned) typed array of `dtype`. */
function copyOut(src: Uint8Array, dtype: SafeDType): SafeTensor["data"] {
  const { bytes, ctor } = SAFE_INFO[dtype];
  const out = new ctor(src.byteLength / bytes);
  const view = new Uint8Array(out.buffer);
  view.set(src);
  if (!HOST_LITTLE_ENDIAN) swapBytes(view, bytes);
  return out;
}

function swapBytes(view: Uint8Array, width: number): void {
  for (let i = 0; i < view.length; i += width) view.subarray(i, i + width).reverse();
}

interface RawEntry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses a safetensors file held in memory. Tensor data is copied out into fresh typed arrays
 * (the data section need not be aligned for them, and the result must not alias `bytes`).
 *
 * Leniencies, on purpose: unused gaps between tensors and trailing bytes after the last one are
 * accepted (the Rust library rejects them), since they cannot cause a misread.
 *
 * @param bytes the whole file.
 * @param source how to name the file in error messages (usually its path).
 * @param limits bounds on the header (see {@link SafetensorsLimits}); exceeding one is a
 *   FormatError naming the limit, raised by a byte scan before the header is decoded or parsed.
 * @throws FormatError (message starting `safetensors: `) for anything malformed: truncation, a bad
 *   or absurd header length, header that is not UTF-8 JSON object, bad metadata, a missing or bad
 *   dtype/shape/data_offsets, a dtype dualgrad does not support, offsets outside the data section,
 *   a byte size that disagrees with the shape, overlapping tensors, duplicate names.
 */
export function parseSafetensors(bytes: Uint8Array, source = "<bytes>", limits: SafetensorsLimits = {}): SafetensorsFile {
  const lim = { ...SAFETENSORS_LIMITS, ...limits };
  // Explicitly typed so TypeScript treats each call as ending the path (narrowing after checks).
  const fail: (msg: string) => never = (msg) => {
    throw new FormatError(`safetensors: ${source}: ${msg}`);
  };
  if (bytes.byteLength < 8) {
    fail(`file is ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // BigInt first: a hostile u64 must not be rounded into a plausible-looking number.
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(lim.maxHeaderBytes)) {
    fail(
      `header length ${headerLen} exceeds the ${lim.maxHeaderBytes}-byte limit ` +
        `(SafetensorsLimits.maxHeaderBytes; corrupt file?)`,
    );
  }
  const n = Number(headerLen);
  if (8 + n > bytes.byteLength) {
    fail(`header length ${n} runs past the end of the file (${bytes.byteLength} bytes; truncated?)`);
  }

  const keyRanges = scanHeader(bytes.subarray(8, 8 + n), lim, fail);
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let text: string;
  try {
    // fatal: reject invalid UTF-8 instead of inventing U+FFFD; ignoreBOM: keep a BOM so JSON.parse
    // rejects it, as the Rust library does.
    text = decoder.decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail(`header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(header)) {
    return fail(`header must be a JSON object, got ${Array.isArray(header) ? "an array" : show(header)}`);
  }

  const keys = keyRanges.map(([b, e]) => JSON.parse(decoder.decode(bytes.subarray(8 + b, 8 + e))) as string);
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) fail(`duplicate entry ${q(k)} in the header`);
    seen.add(k);
  }
  // The scan and JSON.parse must agree; if they ever do not, trust JSON.parse's key set.
  const ordered = seen.size === Object.keys(header).length ? keys : Object.keys(header);

  const metadata: Record<string, string> = {};
  const rawMeta = ownValue(header, METADATA_KEY);
  if (rawMeta !== undefined && rawMeta !== null) {
    // null is what the Rust library's Option<HashMap> accepts as "no metadata".
    if (!isPlainObject(rawMeta)) fail(`__metadata__ must be an object of strings, got ${show(rawMeta)}`);
    const meta = rawMeta as Record<string, unknown>;
    const metaKeys = Object.keys(meta);
    // The scan counted by the literal key; this catches a "__metadata__" spelled with escapes.
    if (metaKeys.length > lim.maxMetadataEntries) {
      fail(`header has more than ${lim.maxMetadataEntries} __metadata__ entries (the limit is SafetensorsLimits.maxMetadataEntries)`);
    }
    for (const k of metaKeys) {
      const v = meta[k];
      if (typeof v !== "string") fail(`__metadata__ value for key ${q(k)} must be a string, got ${show(v)}`);
      defineString(metadata, k, v as string);
    }
  }

  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const entries: RawEntry[] = [];
  for (const name of ordered) {
    if (name === METADATA_KEY) continue;
    const t = `tensor ${q(name)}`;
    const entry = ownValue(header, name);
    if (!isPlainObject(entry)) {
      fail(`${t}: entry must be an object with dtype, shape and data_offsets, got ${show(entry)}`);
    }
    const e = entry as Record<string, unknown>;

    const dtype = ownValue(e, "dtype");
    if (dtype === undefined) fail(`${t}: missing dtype`);
    if (typeof dtype !== "string") fail(`${t}: dtype must be a string, got ${show(dtype)}`);
    if (!isSafeDType(dtype)) {
      if (KNOWN_UNSUPPORTED.has(dtype as string)) {
        fail(`dtype ${dtype as string} of ${t} is not supported (supported: ${SUPPORTED})`);
      }
      fail(`unknown dtype ${show(dtype)} of ${t} (supported: ${SUPPORTED})`);
    }
    const dt = dtype as SafeDType;

    const shape = ownValue(e, "shape");
    if (shape === undefined) fail(`${t}: missing shape`);
    if (!Array.isArray(shape)) fail(`${t}: shape must be an array of non-negative integers, got ${show(shape)}`);
    const dims = shape as unknown[];
    if (dims.length > lim.maxRank) {
      fail(`${t}: shape has ${dims.length} dimensions, more than ${lim.maxRank} (the limit is SafetensorsLimits.maxRank)`);
    }
    for (const d of dims) {
      if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
        fail(`${t}: shape ${show(shape)} has entry ${show(d)}, which is not a non-negative integer`);
      }
    }
    // `+ 0` turns a JSON -0 into 0 so shapes compare equal to what was written.
    const dimsNum = (dims as number[]).map((d) => d + 0);

    const offsets = ownValue(e, "data_offsets");
    if (offsets === undefined) fail(`${t}: missing data_offsets`);
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      fail(`${t}: data_offsets must be [begin, end], got ${show(offsets)}`);
    }
    const [begin, end] = offsets as unknown[];
    if (
      typeof begin !== "number" || typeof end !== "number" ||
      !Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < 0
    ) {
      fail(`${t}: data_offsets ${show(offsets)} must be two non-negative integers`);
    }
    const b = (begin as number) + 0;
    const en = (end as number) + 0;
    if (en < b) fail(`${t}: data_offsets [${b},${en}] end before they begin`);
    if (en > dataLen) {
      fail(`${t}: data_offsets [${b},${en}] run past the end of the data section (${dataLen} bytes; truncated?)`);
    }
    // BigInt: a hostile shape's product can exceed 2^53 and round to a matching size.
    let count = 1n;
    for (const d of dimsNum) count *= BigInt(d);
    const need = count * BigInt(SAFE_INFO[dt].bytes);
    if (need !== BigInt(en - b)) {
      fail(
        `${t}: shape/size disagreement: shape ${formatShape(dimsNum)} of ${dt} needs ${need} bytes ` +
          `but data_offsets [${b},${en}] span ${en - b}`,
      );
    }
    entries.push({ name, dtype: dt, shape: dimsNum, begin: b, end: en });
  }

  // Overlap check on byte ranges sorted by start; empty tensors occupy nothing and cannot overlap.
  const byStart = entries.filter((x) => x.end > x.begin).sort((x, y) => x.begin - y.begin);
  for (let i = 1; i < byStart.length; i++) {
    const prev = byStart[i - 1];
    const cur = byStart[i];
    if (cur.begin < prev.end) {
      fail(
        `tensors ${q(prev.name)} [${prev.begin},${prev.end}) and ${q(cur.name)} ` +
          `[${cur.begin},${cur.end}) overlap in the data section`,
      );
    }
  }

  const tensors = new Map<string, SafeTensor>();
  for (const x of entries) {
    const src = bytes.subarray(dataStart + x.begin, dataStart + x.end);
    tensors.set(x.name, { dtype: x.dtype, shape: x.shape, data: copyOut(src, x.dtype) });
  }
  return { tensors, metadata };
}

/** Lone UTF-16 surrogates cannot be encoded as UTF-8 and the Rust library's JSON parser rejects them. */
const LONE_SURROGATE = /\p{Cs}/u;

function checkText(what: string, s: string): void {
  if (LONE_SURROGATE.test(s)) {
    throw new DualgradError(`safetensors: ${what} ${q(s)} contains a lone UTF-16 surrogate`);
  }
}

function expectedArrayName(dtype: SafeDType): string {
  return SAFE_INFO[dtype].ctor.name;
}

/**
 * Serializes tensors (and optional metadata) to safetensors bytes that Python's `safetensors`
 * (and `torch`, via `safetensors.torch.load_file`) read.
 *
 * The header lists tensors in the given order (a `Record`'s own enumeration order: prefer a `Map`
 * when names look like integers). It is compact JSON padded with spaces so the data section
 * starts 8-byte aligned, exactly as the Rust/Python library writes it. Tensor data is contiguous
 * with no gaps (the Rust reader requires that); 8-byte tensors (F64, I64) are laid out before
 * 4-byte ones, otherwise keeping the given order, so every tensor is aligned to its element size
 * (torch's zero-copy loader refuses misaligned F64/I64 views). With one element size throughout,
 * the data order is exactly the given order. Empty metadata is omitted from the header.
 *
 * @throws ShapeError when a shape is invalid or `data.length` is not the product of `shape`.
 * @throws DualgradError for an unknown dtype, a data array of the wrong type for its dtype, a
 *   non-string metadata value, the reserved name `__metadata__`, or text with lone surrogates.
 */
export function serializeSafetensors(
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list: [string, SafeTensor][] =
    tensors instanceof Map ? [...tensors.entries()] : Object.keys(tensors).map((k) => [k, tensors[k]]);

  const parts: string[] = [];
  if (metadata !== undefined && metadata !== null) {
    const metaParts: string[] = [];
    for (const k of Object.keys(metadata)) {
      const v = metadata[k];
      if (typeof v !== "string") {
        throw new DualgradError(`safetensors: metadata value for key ${q(k)} must be a string, got ${show(v)}`);
      }
      checkText("metadata key", k);
      checkText(`metadata value for key ${q(k)}:`, v);
      metaParts.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    if (metaParts.length > 0) parts.push(`"${METADATA_KEY}":{${metaParts.join(",")}}`);
  }

  for (const [name, t] of list) {
    const what = `tensor ${q(name)}`;
    if (name === METADATA_KEY) throw new DualgradError(`safetensors: the name '${METADATA_KEY}' is reserved`);
    checkText("tensor name", name);
    if (t === null || typeof t !== "object") throw new DualgradError(`safetensors: ${what} is ${show(t)}, not a tensor`);
    if (!isSafeDType(t.dtype)) {
      throw new DualgradError(`safetensors: ${what} has unknown dtype ${show(t.dtype)} (supported: ${SUPPORTED})`);
    }
    if (!(t.data instanceof SAFE_INFO[t.dtype].ctor)) {
      const got = (t.data as { constructor?: { name?: string } } | null)?.constructor?.name ?? show(t.data);
      throw new DualgradError(
        `safetensors: ${what} has dtype ${t.dtype}, which needs a ${expectedArrayName(t.dtype)}, but data is a ${got}`,
      );
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new ShapeError("safetensors", `${what}: shape ${show(t.shape)} must be non-negative integers`);
    }
    let size = 1;
    for (const d of t.shape) size *= d;
    if (size !== t.data.length) {
      throw new ShapeError(
        "safetensors",
        `${what}: shape ${formatShape(t.shape)} holds ${size} elements but data has ${t.data.length}`,
      );
    }
  }

  // Stable: 8-byte dtypes first, then 4-byte, each group in the given order.
  const layout = [...list].sort((x, y) => SAFE_INFO[y[1].dtype].bytes - SAFE_INFO[x[1].dtype].bytes);
  const offsets = new Map<string, [number, number]>();
  let dataLen = 0;
  for (const [name, t] of layout) {
    offsets.set(name, [dataLen, dataLen + t.data.byteLength]);
    dataLen += t.data.byteLength;
  }
  for (const [name, t] of list) {
    const [b, e] = offsets.get(name) as [number, number];
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.map((d) => d + 0).join(",")}],` +
        `"data_offsets":[${b},${e}]}`,
    );
  }

  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  // Pad with spaces (valid trailing JSON whitespace) so 8 + headerLen is a multiple of 8.
  const headerLen = json.byteLength + ((8 - (json.byteLength % 8)) % 8);
  const out = new Uint8Array(8 + headerLen + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLen);
  const dataStart = 8 + headerLen;
  for (const [name, t] of layout) {
    const [b] = offsets.get(name) as [number, number];
    const dst = out.subarray(dataStart + b, dataStart + b + t.data.byteLength);
    dst.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    if (!HOST_LITTLE_ENDIAN) swapBytes(dst, SAFE_INFO[t.dtype].bytes);
  }
  return out;
}

/**
 * Reads and parses a safetensors file, within `limits` (see {@link SafetensorsLimits}).
 *
 * @throws InputFileError naming the path when it does not exist, cannot be read, is a directory,
 *   a device, FIFO or socket (`/dev/zero` would never end, a FIFO would block), or is larger
 *   than `limits.maxFileBytes`.
 * @throws FormatError when the contents are not a valid safetensors file (see {@link parseSafetensors}).
 */
export function readSafetensors(path: string, limits: SafetensorsLimits = {}): SafetensorsFile {
  const bytes = readInputFile(path, {
    maxBytes: limits.maxFileBytes ?? SAFETENSORS_LIMITS.maxFileBytes,
    limitName: "limit (SafetensorsLimits.maxFileBytes)",
    message: (reason) => `safetensors: cannot read '${path}': ${reason}`,
  });
  return parseSafetensors(bytes, path, limits);
}

/**
 * Serializes tensors (see {@link serializeSafetensors}) and writes them to `path` atomically, so an
 * interrupted save never leaves a truncated weights file behind.
 *
 * @throws DualgradError naming the path when the directory is missing or the write fails.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

/** The safetensors dtype that stores a dualgrad dtype exactly. */
export function safeDTypeOf(dtype: DType): SafeDType {
  switch (dtype) {
    case "float32":
      return "F32";
    case "float64":
      return "F64";
    case "int32":
      return "I32";
    default:
      throw new DualgradError(`safetensors: no safetensors dtype for ${show(dtype)}`);
  }
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INT32_MIN_BIG = BigInt(INT32_MIN);
const INT32_MAX_BIG = BigInt(INT32_MAX);

/**
 * Converts a tensor's data to a fresh array of a dualgrad dtype (never aliasing `t.data`), as
 * PyTorch checkpoints often store labels as I64 or weights as F64.
 *
 * - to float32/float64: any source; I64 converts through Number (exact up to 2^53), F64 → F32 rounds.
 * - to int32: I32 copies; I64 must be within int32 range; F32/F64 must hold integral values within
 *   int32 range (no silent truncation of real-valued weights).
 *
 * @param name the tensor's name, for error messages.
 * @throws FormatError naming the tensor, index and value when a value does not fit int32.
 */
export function toDTypeArray<D extends DType>(t: SafeTensor, dtype: D, name = "<tensor>"): TypedArrayOf[D] {
  const src = t.data;
  const n = src.length;
  if (dtype === "float32" || dtype === "float64") {
    const out = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
    if (src instanceof BigInt64Array) {
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
    } else {
      out.set(src);
    }
    return out as TypedArrayOf[D];
  }
  if (dtype !== "int32") throw new DualgradError(`safetensors: unknown target dtype ${show(dtype)}`);
  const out = new Int32Array(n);
  const bad = (i: number, v: unknown, why: string): never => {
    throw new FormatError(
      `safetensors: tensor ${q(name)}: ${t.dtype} value ${String(v)} at index ${i} ${why}, cannot convert to int32`,
    );
  };
  if (src instanceof Int32Array) {
    out.set(src);
  } else if (src instanceof BigInt64Array) {
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (v < INT32_MIN_BIG || v > INT32_MAX_BIG) bad(i, v, "is out of int32 range");
      out[i] = Number(v);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (!Number.isInteger(v)) bad(i, v, "is not an integer");
      if (v < INT32_MIN || v > INT32_MAX) bad(i, v, "is out of int32 range");
      out[i] = v;
    }
  }
  return out as TypedArrayOf[D];
}
