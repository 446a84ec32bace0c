import { basename } from "node:path";
import { DualgradError, listNames, readInputChunks } from "@dualgrad/core";
import { CsvRecordReader, type CsvField, type CsvRecord } from "./csv-records.js";
import { splitTrainTest, type ColumnStats, type Dataset } from "./dataset.js";
import { GrowableArray } from "./growable-array.js";
import type { Batch } from "./synthetic.js";
// A cell is a plain decimal number, by the same rule as every number flag (DECIMAL): stricter than
// Number(), which also accepts "" (as 0), "0x1f", "0b101" and "Infinity": an empty cell or a hex
// value in a feature column is almost certainly a mistake in the file.
import { DECIMAL } from "../parse.js";

/**
 * Regression data from a CSV file: a header row of column names, one target column chosen by
 * name, every other column a numeric feature. Values are kept raw (no standardisation: what the
 * user's file says is what the model sees, and both frontends see the same); the per-column
 * ranges are reported in `columns` and `summary` so a badly scaled column is easy to spot.
 *
 * Every error names the file, and where there is one the line (1-based, as an editor counts,
 * CRLF being one break) and the column, like a compiler: `data.csv:7: column "price": "abc" is
 * not a number`.
 */

/** Options of {@link loadCsv}. */
export interface CsvOptions {
  /** Name of the column to predict (as written in the header). */
  target: string;
  /** Fraction of rows held out for testing (default 0.2; 0 gives `test: null`). */
  testFraction?: number;
  /** Seed of the train/test split (default 0). */
  seed?: number;
  /** Value dtype (default float32). */
  dtype?: "float32" | "float64";
  /** Largest file read, in bytes (default {@link CSV_MAX_BYTES}); a larger one is refused before reading. */
  maxBytes?: number;
}

/**
 * The default CSV size limit: 256 MiB. The file is streamed, so memory is the parsed values
 * (4 or 8 bytes each, a value taking at least 2 bytes of text) plus the train/test copies: at
 * worst about 4x the file for float32, typically under 2x.
 */
export const CSV_MAX_BYTES = 256 * 1024 * 1024;

/** The most columns a CSV header may have: 1,000,000 (each name is a JS string held until the end). */
export const CSV_MAX_COLUMNS = 1_000_000;

/** The error for a bad value, naming file, line and column (built only on failure: values are many). */
function valueError(file: string, field: CsvField, column: string, why: string): DualgradError {
  return new DualgradError(`${file}:${field.line}: column ${JSON.stringify(column)}: ${why}`);
}

/** The text of a field as a number, or an error naming file, line and column. */
function parseValue(field: CsvField, file: string, column: string, dtype: "float32" | "float64"): number {
  const t = field.text.trim();
  if (t === "") throw valueError(file, field, column, "empty value (missing values are not supported; remove the row or fill it in)");
  if (!DECIMAL.test(t)) throw valueError(file, field, column, `${JSON.stringify(field.text)} is not a number`);
  const v = Number(t);
  if (!Number.isFinite(v) || (dtype === "float32" && !Number.isFinite(Math.fround(v)))) {
    throw valueError(file, field, column, `${t} is out of the ${dtype} range`);
  }
  return v;
}

/** The header row, checked: column names, the target's index, the feature columns. */
interface CsvHeader {
  names: string[];
  target: number;
  featureCols: number[];
}

function readHeader(path: string, header: CsvRecord, targetName: string): CsvHeader {
  if (header.fieldCount > CSV_MAX_COLUMNS) {
    throw new DualgradError(`${path}:${header.line}: the header has ${header.fieldCount} columns, more than the limit of ${CSV_MAX_COLUMNS}`);
  }
  const names = header.fields.map((f) => f.text.trim());
  if (names.every((s) => DECIMAL.test(s))) {
    throw new DualgradError(
      `${path}:${header.line}: no header: the first row must name the columns, but it is all numbers (${names.slice(0, 4).join(", ")}${names.length > 4 ? ", ..." : ""})`,
    );
  }
  // A map, not indexOf in a loop: a header of 100k columns must not take quadratic time.
  const index = new Map<string, number>();
  names.forEach((s, k) => {
    if (s === "") throw new DualgradError(`${path}:${header.line}: column ${k + 1} of the header has no name`);
    const first = index.get(s);
    if (first !== undefined) throw new DualgradError(`${path}:${header.line}: duplicate column name ${JSON.stringify(s)} (columns ${first + 1} and ${k + 1})`);
    index.set(s, k);
  });
  const target = targetName.trim();
  const t = index.get(target);
  if (t === undefined) {
    throw new DualgradError(`${path}: no column named ${JSON.stringify(targetName)} for --target (columns: ${listNames(names)})`);
  }
  const featureCols = names.map((_, k) => k).filter((k) => k !== t);
  if (featureCols.length === 0) throw new DualgradError(`${path}: the target ${JSON.stringify(target)} is the only column; a regression needs at least one feature column`);
  return { names, target: t, featureCols };
}

/**
 * Loads a CSV file as a regression dataset: x [n, features] in file column order (the target
 * column left out), y [n, 1], split into train and test by {@link splitTrainTest} with the given
 * fraction and seed.
 *
 * The file is streamed in 1 MiB pieces, row by row into typed columns, so memory follows the
 * values, not the text; a file over `maxBytes` (default {@link CSV_MAX_BYTES}) is refused before
 * reading, and a device, FIFO or socket is refused outright (`/dev/zero` never ends).
 *
 * Throws a `DualgradError` naming the file (and line and column where there is one) for: a
 * missing file, a directory or other non-regular file, a file over the size limit, an empty file,
 * a header that is all numbers (no header), empty or duplicate column names, an unknown target
 * (the columns are listed), no feature column, a row with the wrong number of fields, a value
 * that is not a number, a bad quoted field, or fewer than 2 data rows.
 */
export function loadCsv(path: string, options: CsvOptions): Dataset {
  const dtype = options.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float64") throw new DualgradError(`${path}: dtype must be "float32" or "float64", got ${String(dtype)}`);
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction >= 0 && testFraction < 1)) throw new DualgradError(`${path}: test fraction must be in [0, 1), got ${String(testFraction)}`);
  const seed = options.seed ?? 0;
  const maxBytes = options.maxBytes ?? CSV_MAX_BYTES;
  const F = dtype === "float64" ? Float64Array : Float32Array;
  const column = () => new GrowableArray<Float32Array | Float64Array>((n) => new F(n));

  let header: CsvHeader | null = null;
  const reader = new CsvRecordReader(path);
  reader.maxFields = CSV_MAX_COLUMNS + 1;
  const x = column();
  const y = column();
  let rows = 0;
  let min: number[] = [];
  let max: number[] = [];
  const onRecord = (rec: CsvRecord): void => {
    if (header === null) {
      header = readHeader(path, rec, options.target);
      reader.maxFields = header.names.length;
      min = new Array<number>(header.names.length).fill(Infinity);
      max = new Array<number>(header.names.length).fill(-Infinity);
      return;
    }
    const { names, target } = header;
    const ncol = names.length;
    if (rec.fieldCount !== ncol) throw new DualgradError(`${path}:${rec.line}: expected ${ncol} fields, got ${rec.fieldCount}`);
    // Columns left to right, so the first bad value in a row is the one reported.
    for (let k = 0; k < ncol; k++) {
      const v = parseValue(rec.fields[k], path, names[k], dtype);
      if (v < min[k]) min[k] = v;
      if (v > max[k]) max[k] = v;
      if (k === target) y.push(v);
      else x.push(v);
    }
    rows++;
  };

  // Not fatal: invalid UTF-8 becomes U+FFFD (as readFileSync(path, "utf8") does), which then
  // fails as "not a number" with its line, or is kept in a column name. The BOM Excel writes is dropped.
  const decoder = new TextDecoder("utf-8");
  readInputChunks(
    path,
    { maxBytes, limitName: "CSV size limit (CsvOptions.maxBytes)", kind: "a CSV file", message: (reason) => `${path}: ${reason}` },
    (chunk) => reader.push(decoder.decode(chunk, { stream: true }), onRecord),
  );
  reader.push(decoder.decode(), onRecord);
  reader.end(onRecord);

  const h = header as CsvHeader | null;
  if (h === null) throw new DualgradError(`${path}: file is empty (expected a header row of column names, then rows of numbers)`);
  if (rows < 2) throw new DualgradError(`${path}: needs at least 2 data rows after the header, got ${rows}`);
  const { names, target: t, featureCols } = h;
  const target = names[t];
  const nf = featureCols.length;
  const all: Batch = { x: x.toArray(), xShape: [rows, nf], y: y.toArray(), yShape: [rows, 1] };
  const { train, test } = splitTrainTest(all, testFraction, seed);
  const columns: ColumnStats[] = names.map((name, k) => ({ name, role: k === t ? "target" : "feature", min: min[k], max: max[k] }));
  const nTest = test ? test.xShape[0] : 0;
  const range = (k: number) => `[${min[k]}, ${max[k]}]`;
  return {
    name: basename(path),
    inputSize: nf,
    outputSize: 1,
    task: "regression",
    train,
    test,
    summary:
      `${basename(path)}: ${rows} rows (${rows - nTest} train / ${nTest} test), ${nf} feature${nf === 1 ? "" : "s"} ` +
      `(${listNames(featureCols.map((k) => `${names[k]} ${range(k)}`))}), target ${target} ${range(t)}`,
    columns,
  };
}
