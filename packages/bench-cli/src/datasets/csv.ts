import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { DualgradError } from "@dualgrad/core";
import { splitTrainTest, type ColumnStats, type Dataset } from "./dataset.js";
import type { Batch } from "./synthetic.js";

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
}

/** One parsed field and the line it starts on (a quoted field may span lines). */
interface CsvField {
  text: string;
  line: number;
  /** Written in quotes (so `""` is an explicit empty value, not a blank line). */
  quoted: boolean;
}

/** One record (row) of fields and the line it starts on. */
interface CsvRecord {
  line: number;
  fields: CsvField[];
}

/**
 * Splits CSV text into records, RFC 4180 style: fields separated by commas; a field that starts
 * with `"` is quoted and may contain commas, line breaks and doubled quotes (`""` for `"`); CRLF,
 * LF and a lone CR all end a record. Blank lines are skipped (a real record of at least two
 * columns is never blank, and editors often leave a trailing empty line). Spaces around a quoted
 * field (`1, "2"`, common in hand-written files) are ignored; quotes inside an unquoted field are
 * kept literally, as most spreadsheet programs do.
 */
function parseRecords(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a UTF-8 BOM, as Excel writes
  let line = 1;
  /** Consumes one line break at i, if any; true when it did. */
  const lineBreak = (): boolean => {
    const c = text.charCodeAt(i);
    if (c === 13 /* \r */) {
      i += text.charCodeAt(i + 1) === 10 ? 2 : 1;
      line++;
      return true;
    }
    if (c === 10 /* \n */) {
      i++;
      line++;
      return true;
    }
    return false;
  };
  while (i < n) {
    const record: CsvRecord = { line, fields: [] };
    for (;;) {
      const fieldLine = line;
      let value: string;
      let j = i;
      while (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9) j++;
      const quoted = text.charCodeAt(j) === 34; /* " */
      if (quoted) {
        i = j + 1;
        let parts = "";
        for (;;) {
          if (i >= n) throw new DualgradError(`${file}:${fieldLine}: unterminated quoted field (its opening quote is on this line; a quote inside a quoted field is written "")`);
          const q = text.indexOf('"', i);
          const end = q < 0 ? n : q;
          // Count the line breaks inside the quoted text so later line numbers stay right.
          for (let k = i; k < end; k++) {
            const c = text.charCodeAt(k);
            if (c === 10 || (c === 13 && text.charCodeAt(k + 1) !== 10)) line++;
          }
          parts += text.slice(i, end);
          if (q < 0) {
            i = n;
            continue;
          }
          if (text.charCodeAt(q + 1) === 34) {
            parts += '"';
            i = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        value = parts;
        while (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9) i++;
        const c = text.charCodeAt(i);
        if (i < n && c !== 44 /* , */ && c !== 10 && c !== 13) {
          throw new DualgradError(
            `${file}:${line}: field ${record.fields.length + 1}: unexpected ${JSON.stringify(text[i])} after a closing quote (quote the whole field, and write a quote inside it as "")`,
          );
        }
      } else {
        let end = i;
        while (end < n) {
          const c = text.charCodeAt(end);
          if (c === 44 || c === 10 || c === 13) break;
          end++;
        }
        value = text.slice(i, end);
        i = end;
      }
      record.fields.push({ text: value, line: fieldLine, quoted });
      if (i < n && text.charCodeAt(i) === 44) {
        i++;
        continue;
      }
      lineBreak(); // end of record: a line break, or the end of the text
      break;
    }
    const blank = record.fields.length === 1 && !record.fields[0].quoted && record.fields[0].text.trim() === "";
    if (!blank) records.push(record);
  }
  return records;
}

// A plain decimal number: optional sign, digits with an optional fraction, optional exponent.
// Stricter than Number(), which also accepts "" (as 0), "0x1f", "0b101" and "Infinity": an empty
// cell or a hex value in a feature column is almost certainly a mistake in the file.
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The text of a field as a number, or an error naming file, line and column. */
function parseValue(field: CsvField, file: string, column: string, dtype: "float32" | "float64"): number {
  const t = field.text.trim();
  const where = `${file}:${field.line}: column ${JSON.stringify(column)}`;
  if (t === "") throw new DualgradError(`${where}: empty value (missing values are not supported; remove the row or fill it in)`);
  if (!NUMBER.test(t)) throw new DualgradError(`${where}: ${JSON.stringify(field.text)} is not a number`);
  const v = Number(t);
  if (!Number.isFinite(v) || (dtype === "float32" && !Number.isFinite(Math.fround(v)))) {
    throw new DualgradError(`${where}: ${t} is out of the ${dtype} range`);
  }
  return v;
}

/** Reads the file, turning the usual file-system failures into one-line errors naming it. */
function readText(path: string): string {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new DualgradError(`${path}: no such file`);
    if (code === "EACCES") throw new DualgradError(`${path}: permission denied`);
    throw new DualgradError(`${path}: cannot read: ${(e as Error).message}`);
  }
  if (isDir) throw new DualgradError(`${path}: is a directory, not a CSV file`);
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new DualgradError(`${path}: cannot read: ${(e as Error).message}`);
  }
}

/**
 * Loads a CSV file as a regression dataset: x [n, features] in file column order (the target
 * column left out), y [n, 1], split into train and test by {@link splitTrainTest} with the given
 * fraction and seed. Throws a `DualgradError` naming the file (and line and column where there
 * is one) for: a missing file, a directory, an empty file, a header that is all numbers (no
 * header), empty or duplicate column names, an unknown target (the columns are listed), no
 * feature column, a row with the wrong number of fields, a value that is not a number, a bad
 * quoted field, or fewer than 2 data rows.
 */
export function loadCsv(path: string, options: CsvOptions): Dataset {
  const dtype = options.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float64") throw new DualgradError(`${path}: dtype must be "float32" or "float64", got ${String(dtype)}`);
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction >= 0 && testFraction < 1)) throw new DualgradError(`${path}: test fraction must be in [0, 1), got ${String(testFraction)}`);
  const seed = options.seed ?? 0;
  const text = readText(path);
  const records = parseRecords(text, path);
  if (records.length === 0) throw new DualgradError(`${path}: file is empty (expected a header row of column names, then rows of numbers)`);

  const header = records[0];
  const names = header.fields.map((f) => f.text.trim());
  if (names.every((s) => NUMBER.test(s))) {
    throw new DualgradError(
      `${path}:${header.line}: no header: the first row must name the columns, but it is all numbers (${names.slice(0, 4).join(", ")}${names.length > 4 ? ", ..." : ""})`,
    );
  }
  names.forEach((s, k) => {
    if (s === "") throw new DualgradError(`${path}:${header.line}: column ${k + 1} of the header has no name`);
    const first = names.indexOf(s);
    if (first !== k) throw new DualgradError(`${path}:${header.line}: duplicate column name ${JSON.stringify(s)} (columns ${first + 1} and ${k + 1})`);
  });
  const target = options.target.trim();
  const t = names.indexOf(target);
  if (t < 0) {
    throw new DualgradError(`${path}: no column named ${JSON.stringify(options.target)} for --target (columns: ${names.join(", ")})`);
  }
  const featureCols = names.map((_, k) => k).filter((k) => k !== t);
  if (featureCols.length === 0) throw new DualgradError(`${path}: the target ${JSON.stringify(target)} is the only column; a regression needs at least one feature column`);

  const rows = records.length - 1;
  if (rows < 2) throw new DualgradError(`${path}: needs at least 2 data rows after the header, got ${rows}`);
  const ncol = names.length;
  const nf = featureCols.length;
  const F = dtype === "float64" ? Float64Array : Float32Array;
  const x = new F(rows * nf);
  const y = new F(rows);
  const min = new Array<number>(ncol).fill(Infinity);
  const max = new Array<number>(ncol).fill(-Infinity);
  for (let r = 0; r < rows; r++) {
    const rec = records[r + 1];
    if (rec.fields.length !== ncol) throw new DualgradError(`${path}:${rec.line}: expected ${ncol} fields, got ${rec.fields.length}`);
    // Columns left to right, so the first bad value in a row is the one reported.
    for (let k = 0, j = 0; k < ncol; k++) {
      const v = parseValue(rec.fields[k], path, names[k], dtype);
      if (v < min[k]) min[k] = v;
      if (v > max[k]) max[k] = v;
      if (k === t) y[r] = v;
      else x[r * nf + j++] = v;
    }
  }
  const all: Batch = { x, xShape: [rows, nf], y, yShape: [rows, 1] };
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
      `(${featureCols.map((k) => `${names[k]} ${range(k)}`).join(", ")}), target ${target} ${range(t)}`,
    columns,
  };
}
