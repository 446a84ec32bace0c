import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DualgradError } from "@dualgrad/core";
import { accuracy, batches, shuffledOrder, splitTrainTest } from "../src/datasets/dataset.js";
import { CSV_MAX_BYTES, loadCsv } from "../src/datasets/csv.js";
import { CsvRecordReader, type CsvRecord } from "../src/datasets/csv-records.js";
import { loadMnist } from "../src/datasets/mnist.js";
import { resolveDataset } from "../src/datasets/index.js";
import type { Batch } from "../src/datasets/synthetic.js";
import { WORKLOADS, type ModelSpec } from "../src/models.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "dualgrad-datasets-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `text` to a fresh file in the temp dir and returns its path. */
let fileNo = 0;
function csvFile(text: string, name = `f${fileNo++}.csv`): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** The error `fn` throws, checked to be a DualgradError. */
function errorOf(fn: () => unknown): DualgradError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DualgradError);
    return e as DualgradError;
  }
  throw new Error("expected an error");
}

/** Rows of x as strings, for set comparisons. */
function rowKeys(b: Batch): string[] {
  const [n, w] = b.xShape;
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(Array.from(b.x.subarray(i * w, (i + 1) * w)).join(","));
  return out;
}

/** A batch whose row r has x = [r, 10r] and y = [r] (as labels or floats). */
function indexBatch(n: number, labels: boolean): Batch {
  const x = new Float32Array(2 * n);
  for (let r = 0; r < n; r++) {
    x[2 * r] = r;
    x[2 * r + 1] = 10 * r;
  }
  const y = labels ? Int32Array.from({ length: n }, (_, r) => r) : Float64Array.from({ length: n }, (_, r) => r);
  return { x, xShape: [n, 2], y, yShape: labels ? [n] : [n, 1] };
}

describe("mnist", () => {
  it("loads sizes, value ranges and labels 0..9 with every class present", () => {
    const d = loadMnist({ trainCount: 1000, testCount: 200, seed: 1 });
    expect(d).toMatchObject({ name: "mnist", inputSize: 784, outputSize: 10, task: "classification", classes: 10 });
    expect(d.train.xShape).toEqual([1000, 784]);
    expect(d.train.x).toBeInstanceOf(Float32Array);
    expect(d.train.x.length).toBe(1000 * 784);
    expect(d.train.yShape).toEqual([1000]);
    expect(d.train.y).toBeInstanceOf(Int32Array);
    expect(d.test!.xShape).toEqual([200, 784]);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of d.train.x) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    expect(lo).toBe(0);
    expect(hi).toBe(1);
    const counts = new Array<number>(10).fill(0);
    for (const l of d.train.y) {
      expect(Number.isInteger(l) && l >= 0 && l <= 9).toBe(true);
      counts[l]++;
    }
    expect(counts.every((c) => c > 0)).toBe(true);
    // Shuffled, not sorted by digit as the package stores them.
    expect(Array.from(d.train.y.subarray(0, 50)).some((l) => l !== d.train.y[0])).toBe(true);
    // Train and test are disjoint.
    const train = new Set(rowKeys(d.train));
    expect(rowKeys(d.test!).filter((k) => train.has(k)).length).toBe(0);
  });

  it("is deterministic for a seed and differs across seeds", () => {
    const a = loadMnist({ trainCount: 300, testCount: 50, seed: 7 });
    const b = loadMnist({ trainCount: 300, testCount: 50, seed: 7 });
    const c = loadMnist({ trainCount: 300, testCount: 50, seed: 8 });
    // Byte comparison: toEqual on 235k-element arrays takes half a second.
    expect(Buffer.from(b.train.x.buffer).equals(Buffer.from(a.train.x.buffer))).toBe(true);
    expect(b.train.y).toEqual(a.train.y);
    expect(b.test!.y).toEqual(a.test!.y);
    expect(c.train.y).not.toEqual(a.train.y);
  });

  it("defaults to 8000/2000 and supports float64 and no test set", () => {
    const d = loadMnist();
    expect(d.train.xShape).toEqual([8000, 784]);
    expect(d.test!.xShape).toEqual([2000, 784]);
    const e = loadMnist({ trainCount: 10, testCount: 0, dtype: "float64" });
    expect(e.train.x).toBeInstanceOf(Float64Array);
    expect(e.test).toBeNull();
    // The train set is a prefix of the same seeded order whatever the count.
    expect(e.train.y).toEqual(d.train.y.subarray(0, 10));
  });

  it("validates counts", () => {
    expect(errorOf(() => loadMnist({ trainCount: 9000, testCount: 2000 })).message).toMatch(/9000 \+ test count 2000 = 11000 exceeds the 10000/);
    expect(errorOf(() => loadMnist({ trainCount: 10001 })).message).toMatch(/train count 10001 exceeds the 10000/);
    expect(errorOf(() => loadMnist({ trainCount: 0 })).message).toMatch(/positive integer, got 0/);
    expect(errorOf(() => loadMnist({ trainCount: 1.5 })).message).toMatch(/positive integer, got 1.5/);
    expect(errorOf(() => loadMnist({ trainCount: 10, testCount: -1 })).message).toMatch(/non-negative integer, got -1/);
    // trainCount alone shrinks the default test count to fit.
    expect(loadMnist({ trainCount: 9500 }).test!.xShape[0]).toBe(500);
  });
});

describe("csv", () => {
  const good =
    '"size, m2",rooms,"note ""q""",price\r\n' +
    '50.5,2,1,100\r\n' +
    '"75",3,"-2.5e1",150.25\r\n' +
    ' 20 , 1 , 0 ,  40\r\n' +
    '1e2, "4" ,3,+200\r\n' +
    '\r\n';

  it("parses a good file (quoted names and values, CRLF, spaces, trailing blank line)", () => {
    const p = csvFile(good, "good.csv");
    const d = loadCsv(p, { target: "price", testFraction: 0 });
    expect(d).toMatchObject({ name: "good.csv", inputSize: 3, outputSize: 1, task: "regression", test: null });
    expect(d.train.xShape).toEqual([4, 3]);
    expect(d.train.yShape).toEqual([4, 1]);
    expect(Array.from(d.train.x)).toEqual([50.5, 2, 1, 75, 3, -25, 20, 1, 0, 100, 4, 3]);
    expect(Array.from(d.train.y)).toEqual([100, Math.fround(150.25), 40, 200]);
    expect(d.columns).toEqual([
      { name: "size, m2", role: "feature", min: 20, max: 100 },
      { name: "rooms", role: "feature", min: 1, max: 4 },
      { name: 'note "q"', role: "feature", min: -25, max: 3 },
      { name: "price", role: "target", min: 40, max: 200 },
    ]);
    expect(d.summary).toContain("target price [40, 200]");
  });

  it("splits deterministically, keeps file order in each split, and takes the target from any column", () => {
    const rows = Array.from({ length: 10 }, (_, r) => `${r},${2 * r},${r}`).join("\n");
    const p = csvFile(`y,a,b\n${rows}\n`);
    const d = loadCsv(p, { target: "y", seed: 3, dtype: "float64" });
    expect(d.train.x).toBeInstanceOf(Float64Array);
    expect(d.train.xShape).toEqual([8, 2]);
    expect(d.test!.xShape).toEqual([2, 2]);
    const ys = [...d.train.y, ...d.test!.y].sort((a, b) => a - b);
    expect(ys).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(d.train.y)).toEqual([...d.train.y].sort((a, b) => a - b));
    for (let r = 0; r < 8; r++) expect(d.train.x[2 * r]).toBe(2 * d.train.y[r]);
    const again = loadCsv(p, { target: "y", seed: 3, dtype: "float64" });
    expect(again.test!.y).toEqual(d.test!.y);
  });

  it("reports each bad input with the file, line and column", () => {
    const cases: [string, string, string][] = [
      // [content, target, expected message after the path]
      ["a,b,price\n1,2,3\n4,5,6\n7,8,9\n1,1,1\n2,2,2\n3,3,abc\n", "price", ':7: column "price": "abc" is not a number'],
      ["a,b,c,y\r\n1,2,3,4\r\n1,2,3\r\n", "y", ":3: expected 4 fields, got 3"],
      ["a,b,y\n1,2,3\n4,,6\n", "y", ':3: column "b": empty value (missing values are not supported; remove the row or fill it in)'],
      ["a,b,y\n1,2,3\n4,0x10,6\n", "y", ':3: column "b": "0x10" is not a number'],
      ["a,b,y\n1,2,3\n\n\n4,5,6,7\n", "y", ":5: expected 3 fields, got 4"], // blank lines are skipped but counted
      ['a,"multi\nline",y\n1,2,3\n4,x,6\n', "y", ':4: column "multi\\nline": "x" is not a number'], // quoted line breaks are counted
      ['a,b,y\n1,2,3\n4,"5\n', "y", ':3: unterminated quoted field (its opening quote is on this line; a quote inside a quoted field is written "")'],
      ['a,b,y\n1,"2"x,3\n', "y", ':2: field 2: unexpected "x" after a closing quote (quote the whole field, and write a quote inside it as "")'],
      ["a,b,y\n1,2,1e999\n3,4,5\n", "y", ':2: column "y": 1e999 is out of the float32 range'],
      ["1,2,3\n4,5,6\n", "y", ":1: no header: the first row must name the columns, but it is all numbers (1, 2, 3)"],
      ["a,,y\n1,2,3\n", "y", ":1: column 2 of the header has no name"],
      ["a,b,a\n1,2,3\n", "b", ':1: duplicate column name "a" (columns 1 and 3)'],
      ["a,b,y\n1,2,3\n4,5,6\n", "price", ': no column named "price" for --target (columns: a, b, y)'],
      ["y\n1\n2\n", "y", ': the target "y" is the only column; a regression needs at least one feature column'],
      ["a,y\n1,2\n", "y", ": needs at least 2 data rows after the header, got 1"],
      ["a,y\n\n", "y", ": needs at least 2 data rows after the header, got 0"],
      ["", "y", ": file is empty (expected a header row of column names, then rows of numbers)"],
      ["\n \r\n", "y", ": file is empty (expected a header row of column names, then rows of numbers)"],
    ];
    for (const [text, target, message] of cases) {
      const p = csvFile(text);
      expect(errorOf(() => loadCsv(p, { target })).message, JSON.stringify(text)).toBe(p + message);
    }
  });

  it("reports missing files, directories and bad options", () => {
    const missing = join(dir, "nope.csv");
    expect(errorOf(() => loadCsv(missing, { target: "y" })).message).toBe(`${missing}: no such file`);
    const sub = join(dir, "a-dir.csv");
    mkdirSync(sub);
    expect(errorOf(() => loadCsv(sub, { target: "y" })).message).toBe(`${sub}: it is a directory, not a CSV file`);
    const p = csvFile("a,y\n1,2\n3,4\n");
    expect(errorOf(() => loadCsv(p, { target: "y", testFraction: 1 })).message).toMatch(/test fraction must be in \[0, 1\), got 1/);
  });
});

describe("csv streaming", () => {
  /** The records of `text` fed in pieces of `size` characters, or the error message. */
  const recordsOf = (text: string, size: number): string => {
    const reader = new CsvRecordReader("f.csv");
    const out: CsvRecord[] = [];
    try {
      for (let i = 0; i < text.length; i += size) reader.push(text.slice(i, i + size), (r) => out.push(r));
      reader.end((r) => out.push(r));
    } catch (e) {
      return (e as Error).message;
    }
    return JSON.stringify(out);
  };

  it("gives the same records and errors however the text is cut into pieces", () => {
    const texts = [
      'a,"b ""q""\r\nc",y\r\n1,"2",3\r\r\n\n 4 , "5" ,6\r7,8,9',
      'a,b\n"x\r\n\r\ny",1\n\n',
      'a,b,y\n1,2,3\n4,"5\n',
      'a,b,y\n1,"2"x,3\n',
      'a,b,\n1,,\r',
      "",
    ];
    for (const text of texts) {
      const whole = recordsOf(text, text.length + 1);
      for (const size of [1, 2, 3, 5, 8]) expect(recordsOf(text, size), `${JSON.stringify(text)} in pieces of ${size}`).toBe(whole);
    }
    expect(recordsOf('a,"b""",y\n', 1)).toBe(JSON.stringify([{ line: 1, fields: [
      { text: "a", line: 1, quoted: false }, { text: 'b"', line: 1, quoted: true }, { text: "y", line: 1, quoted: false },
    ], fieldCount: 3 }]));
    // Fields past maxFields are counted, not kept.
    const reader = new CsvRecordReader("f.csv");
    reader.maxFields = 2;
    const got: CsvRecord[] = [];
    reader.push("1,2,3,4\n5\n", (r) => got.push(r));
    reader.end((r) => got.push(r));
    expect(got.map((r) => [r.fields.map((f) => f.text), r.fieldCount])).toEqual([[["1", "2"], 4], [["5"], 1]]);
  });

  it("reads a file across many 1 MiB pieces, and a field longer than a piece", () => {
    const rows = Array.from({ length: 100_000 }, (_, r) => `${r},${r % 7},${2 * r}`);
    const long = "x".repeat(3 << 20);
    const p = csvFile(`a,"${long}",y\n${rows.join("\n")}\n`);
    const d = loadCsv(p, { target: "y", testFraction: 0, dtype: "float64" });
    expect(d.train.xShape).toEqual([100_000, 2]);
    expect(d.train.y[99_999]).toBe(2 * 99_999);
    expect(d.train.x[2 * 99_999]).toBe(99_999);
    expect(d.columns![1].name.length).toBe(3 << 20);
  });

  it("drops a UTF-8 BOM and keeps invalid UTF-8 visible in the error", () => {
    const p = csvFile("\ufeffa,y\n1,2\n3,4\n");
    expect(loadCsv(p, { target: "y" }).columns![0].name).toBe("a");
    const bad = join(dir, "latin1.csv");
    writeFileSync(bad, Buffer.concat([Buffer.from("a,y\n1,2\n"), Buffer.from([0xe9]), Buffer.from(",4\n")]));
    expect(errorOf(() => loadCsv(bad, { target: "y" })).message).toBe(`${bad}:3: column "a": "\ufffd" is not a number`);
  });

  it("refuses a file over the size limit before reading it, naming the file and the limit", () => {
    expect(CSV_MAX_BYTES).toBe(256 * 1024 * 1024);
    const p = csvFile("a,y\n1,2\n3,4\n");
    expect(loadCsv(p, { target: "y", maxBytes: 12, testFraction: 0 }).train.xShape).toEqual([2, 1]);
    expect(errorOf(() => loadCsv(p, { target: "y", maxBytes: 11 })).message).toBe(
      `${p}: it is 12 bytes, over the 11-byte CSV size limit (CsvOptions.maxBytes)`,
    );
  });

  it("lists at most 10 columns in an error", () => {
    const names = Array.from({ length: 5000 }, (_, k) => `c${k}`);
    const p = csvFile(`${names.join(",")}\n`);
    const msg = errorOf(() => loadCsv(p, { target: "nope" })).message;
    expect(msg).toBe(`${p}: no column named "nope" for --target (columns: ${names.slice(0, 10).join(", ")} and 4990 more)`);
  });
});

describe("resolveDataset", () => {
  const custom = (layers: number[], loss: "mse" | "ce"): ModelSpec => ({
    id: `custom-${layers.join("x")}`,
    layers,
    activation: null,
    loss,
    optimizer: "sgd",
    lr: 0.01,
    batch: 32,
    data: loss === "ce" ? "classification" : "regression",
  });

  it("synthetic: the spec's recipe, 10 batches by default, 20% held out", () => {
    const d = resolveDataset(WORKLOADS["mlp-small"], "synthetic", { seed: 1 });
    expect(d).toMatchObject({ inputSize: 8, outputSize: 1, task: "regression" });
    expect(d.train.xShape).toEqual([256, 8]);
    expect(d.test!.xShape).toEqual([64, 8]);
    const c = resolveDataset(custom([5, 3], "ce"), "synthetic", { seed: 1, samples: 50, dtype: "float64" });
    expect(c).toMatchObject({ inputSize: 5, outputSize: 3, task: "classification", classes: 3 });
    expect(c.train.x).toBeInstanceOf(Float64Array);
    expect(c.train.y).toBeInstanceOf(Int32Array);
    expect(c.train.xShape[0] + c.test!.xShape[0]).toBe(50);
    const again = resolveDataset(custom([5, 3], "ce"), "synthetic", { seed: 1, samples: 50, dtype: "float64" });
    expect(again.test!.x).toEqual(c.test!.x);
  });

  it("mnist: needs a 784 -> 10 cross-entropy model", () => {
    const d = resolveDataset(WORKLOADS.mlp, "mnist", { seed: 2, samples: 100 });
    expect(d.train.xShape).toEqual([100, 784]);
    expect(d.test!.xShape).toEqual([2000, 784]);
    const msg = errorOf(() => resolveDataset(WORKLOADS.linreg, "mnist", { seed: 0 })).message;
    expect(msg).toContain("model 'linreg' (layers 1,1, loss mse)");
    expect(msg).toContain("--model mlp");
    expect(errorOf(() => resolveDataset(custom([784, 10], "mse"), "mnist", { seed: 0 })).message).toContain("--loss ce");
  });

  it("csv:PATH: needs --target and a model that fits the columns", () => {
    const p = csvFile("a,b,y\n1,2,3\n4,5,6\n7,8,9\n");
    const d = resolveDataset(custom([2, 1], "mse"), `csv:${p}`, { seed: 0, target: "y" });
    expect(d.train.xShape[1]).toBe(2);
    expect(errorOf(() => resolveDataset(custom([2, 1], "mse"), `csv:${p}`, { seed: 0 })).message).toBe(
      `--dataset csv:${p} needs --target COLUMN, the name of the column to predict`,
    );
    const msg = errorOf(() => resolveDataset(WORKLOADS["mlp-small"], `csv:${p}`, { seed: 0, target: "y" })).message;
    expect(msg).toContain("2 feature columns (a, b) and one target (y)");
    expect(msg).toContain("--layers 2,...,1");
    expect(errorOf(() => resolveDataset(custom([2, 2], "ce"), `csv:${p}`, { seed: 0, target: "y" })).message).toContain("--loss mse");
    expect(errorOf(() => resolveDataset(custom([2, 1], "mse"), "csv:", { seed: 0, target: "y" })).message).toMatch(/needs a file path/);
  });

  it("unknown names list the valid ones", () => {
    expect(errorOf(() => resolveDataset(WORKLOADS.linreg, "cifar", { seed: 0 })).message).toBe(
      "unknown dataset 'cifar' (expected one of: synthetic, mnist, csv:PATH)",
    );
  });
});

describe("batches", () => {
  /** Row indices seen, batch by batch (y holds each row's index). */
  const seen = (data: Batch, size: number, shuffle: boolean, seed: number, epoch: number): number[][] =>
    Array.from(batches(data, size, { shuffle, seed, epoch }), (b) => {
      expect(b.xShape).toEqual([b.y.length, 2]);
      for (let r = 0; r < b.y.length; r++) expect(b.x[2 * r + 1]).toBe(10 * b.y[r]); // rows stay whole
      return Array.from(b.y);
    });

  it("without shuffling: file order, zero-copy views, partial last batch", () => {
    const data = indexBatch(10, false);
    const out = Array.from(batches(data, 4, { shuffle: false, seed: 0, epoch: 0 }));
    expect(out.map((b) => b.xShape[0])).toEqual([4, 4, 2]);
    expect(out.map((b) => b.yShape)).toEqual([[4, 1], [4, 1], [2, 1]]);
    expect(Array.from(out[2].y)).toEqual([8, 9]);
    expect(out[1].x.buffer).toBe(data.x.buffer);
    expect(seen(data, 10, false, 0, 0)).toEqual([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
    expect(seen(data, 32, false, 0, 0)).toEqual([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
  });

  it("shuffled: every row exactly once per epoch, deterministic per (seed, epoch)", () => {
    const data = indexBatch(103, true);
    const e0 = seen(data, 16, true, 5, 0);
    expect(e0.map((b) => b.length)).toEqual([16, 16, 16, 16, 16, 16, 7]);
    const flat = e0.flat();
    expect([...flat].sort((a, b) => a - b)).toEqual(Array.from({ length: 103 }, (_, i) => i));
    expect(flat).not.toEqual([...flat].sort((a, b) => a - b));
    expect(seen(data, 16, true, 5, 0)).toEqual(e0);
    expect(seen(data, 16, true, 5, 1).flat()).not.toEqual(flat);
    expect(seen(data, 16, true, 6, 0).flat()).not.toEqual(flat);
    // The order is a function of (n, seed, epoch) alone, whatever ran before.
    expect(Array.from(shuffledOrder(103, 5, 0))).toEqual(flat);
  });

  it("reuses the full-batch buffers unless asked not to", () => {
    const data = indexBatch(10, true);
    const reused = Array.from(batches(data, 4, { shuffle: true, seed: 1, epoch: 0 }));
    expect(reused[0].x).toBe(reused[1].x);
    expect(reused[2].x).not.toBe(reused[1].x);
    const fresh = Array.from(batches(data, 4, { shuffle: true, seed: 1, epoch: 0, reuse: false }));
    expect(fresh[0].x).not.toBe(fresh[1].x);
    expect(Array.from(fresh[1].y)).toEqual(Array.from(reused[1].y)); // the last write to the shared buffer
    expect([...fresh.flatMap((b) => Array.from(b.y))].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("rejects bad arguments", () => {
    const data = indexBatch(4, true);
    expect(errorOf(() => Array.from(batches(data, 0, { shuffle: false, seed: 0, epoch: 0 }))).message).toMatch(/batch size must be a positive integer/);
    expect(errorOf(() => Array.from(batches(data, 2, { shuffle: true, seed: 0, epoch: -1 }))).message).toMatch(/epoch must be a non-negative integer/);
    expect(errorOf(() => Array.from(batches({ ...data, yShape: [3] }, 2, { shuffle: false, seed: 0, epoch: 0 }))).message).toMatch(/4 rows but y has 3/);
  });
});

describe("splitTrainTest", () => {
  it("partitions the rows, keeps their order, is seeded", () => {
    const data = indexBatch(20, false);
    const { train, test } = splitTrainTest(data, 0.25, 9);
    expect(train.xShape).toEqual([15, 2]);
    expect(test!.yShape).toEqual([5, 1]);
    const all = [...train.y, ...test!.y].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(Array.from(test!.y)).toEqual([...test!.y].sort((a, b) => a - b));
    expect(splitTrainTest(data, 0.25, 9).test!.y).toEqual(test!.y);
    expect(splitTrainTest(data, 0.25, 10).test!.y).not.toEqual(test!.y);
    expect(splitTrainTest(data, 0, 9)).toEqual({ train: data, test: null });
    expect(splitTrainTest(indexBatch(2, true), 0.01, 0).test!.xShape[0]).toBe(1);
    expect(errorOf(() => splitTrainTest(indexBatch(1, true), 0.5, 0)).message).toMatch(/1 row cannot be split/);
    expect(errorOf(() => splitTrainTest(data, -0.1, 0)).message).toMatch(/test fraction must be in \[0, 1\)/);
  });
});

describe("accuracy", () => {
  it("counts argmax hits; ties go low; NaN rows are wrong", () => {
    const logits = [
      0.1, 0.9, 0.0, // -> 1
      2, 2, 1, // tie -> 0
      -1, -3, -0.5, // -> 2
      NaN, 5, 0, // NaN: wrong
    ];
    expect(accuracy(logits, Int32Array.from([1, 0, 2, 1]), 3)).toBe(0.75);
    expect(accuracy(new Float32Array(logits), Int32Array.from([0, 1, 0, 1]), 3)).toBe(0);
    expect(errorOf(() => accuracy(logits, Int32Array.from([1, 0]), 3)).message).toMatch(/12 values, expected 2 labels x 3 classes = 6/);
    expect(errorOf(() => accuracy([], new Int32Array(0), 3)).message).toMatch(/no samples/);
  });
});
