import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * Inputs built to exhaust memory or time: endless devices, FIFOs, crafted safetensors headers,
 * CSV files far larger in memory than on disk. Each runs in a child process with a heap cap and a
 * wall-clock limit, so a regression fails the test (killed, or out of heap) instead of taking the
 * machine down; with the fixes each finishes in well under a second of work.
 */
const root = fileURLToPath(new URL("../../..", import.meta.url));
const cli = join(root, "packages/bench-cli/dist/cli.js");
const dir = mkdtempSync(join(tmpdir(), "dualgrad-hostile-"));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs node with a heap cap and a time limit; `timedOut` when it had to be killed. */
function bounded(args: string[], heapMb = 256, timeoutMs = 20_000) {
  const r = spawnSync(process.execPath, [`--max-old-space-size=${heapMb}`, ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
    killSignal: "SIGKILL",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: r.status, timedOut: r.signal === "SIGKILL", stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI bounded, and checks it refused with one line on stderr and exit code 2. */
function refuses(args: string[], message: RegExp): string {
  const r = bounded([cli, ...args]);
  expect(r.timedOut, `${args.join(" ")} was killed at the time limit`).toBe(false);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
  expect(r.code).toBe(2);
  return r.stderr;
}

/** A safetensors file with a raw header and no data. */
function safetensorsFile(name: string, header: string): string {
  const json = Buffer.from(header);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const p = join(dir, name);
  writeFileSync(p, Buffer.concat([len, json]));
  return p;
}

describe("endless inputs are refused, not read", () => {
  const fifo = join(dir, "fifo");
  const haveFifo = (() => {
    try {
      execFileSync("mkfifo", [fifo]);
      return true;
    } catch {
      return false;
    }
  })();
  const out = join(dir, "r.md");

  it.skipIf(!existsSync("/dev/zero"))("/dev/zero: check-ref, train --dataset csv:, report --in", () => {
    refuses(["check-ref", "/dev/zero"], /^dualgrad: safetensors: cannot read '\/dev\/zero': it is a character device, not a regular file$/m);
    refuses(["train", "--dataset", "csv:/dev/zero", "--target", "y", "--layers", "1,1"], /^dualgrad: \/dev\/zero: it is a character device, not a regular file$/m);
    refuses(["report", "--in", "/dev/zero", "--md", out], /^dualgrad: cannot read report '\/dev\/zero': it is a character device, not a regular file$/m);
  });

  it.skipIf(!haveFifo)("a FIFO with no writer: check-ref, train --dataset csv:, report --in", () => {
    const named = /it is a named pipe \(FIFO\), not a regular file$/m;
    refuses(["check-ref", fifo], named);
    refuses(["train", "--dataset", `csv:${fifo}`, "--target", "y", "--layers", "1,1"], named);
    refuses(["report", "--in", fifo, "--md", out], named);
  });
});

describe("crafted safetensors headers under the 100 MB header limit", () => {
  it("a million tiny __metadata__ entries: refused at once, naming the file and the limit", () => {
    const entries = Array.from({ length: 1_000_000 }, (_, i) => `"${i}":""`).join(",");
    const p = safetensorsFile("meta.safetensors", `{"__metadata__":{${entries}}}`);
    const stderr = refuses(["check-ref", p], /header has more than 10000 __metadata__ entries \(the limit is SafetensorsLimits\.maxMetadataEntries = 10000\)$/m);
    expect(stderr).toContain(`dualgrad: check-ref: safetensors: ${p}: header has`);
  });

  it("four million nested '[': refused by the depth limit", () => {
    const p = safetensorsFile("deep.safetensors", `{"x":${"[".repeat(4_000_000)}}`);
    refuses(["check-ref", p], /header nests arrays or objects more than 64 deep/);
  });

  it("500,000 empty tensors: refused by the tensor limit", () => {
    const body = Array.from({ length: 500_000 }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`).join(",");
    const p = safetensorsFile("many.safetensors", `{${body}}`);
    refuses(["check-ref", p], /header lists more than 100000 tensors/);
  });
});

describe("CSV", () => {
  const load = (path: string, target: string) =>
    `const { loadCsv } = await import(${JSON.stringify(join(root, "packages/bench-cli/dist/datasets/csv.js"))});` +
    `const d = loadCsv(${JSON.stringify(path)}, { target: ${JSON.stringify(target)}, testFraction: 0 });` +
    `console.log(d.train.xShape.join("x"));`;

  it("a 10 MB file loads within a 64 MB heap (it is streamed, not held as text and field objects)", () => {
    const rows = Array.from({ length: 800_000 }, (_, r) => `${r},${r % 7},${r % 13}`);
    const p = join(dir, "big.csv");
    writeFileSync(p, `a,b,y\n${rows.join("\n")}\n`);
    const r = bounded(["--input-type=module", "-e", load(p, "y")], 64, 60_000);
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("800000x2");
  });

  it("a row of 3,000,000 fields under a 3-column header: counted, not held, within a 64 MB heap", () => {
    const p = join(dir, "long-row.csv");
    writeFileSync(p, `a,b,y\n1,2,3\n${"1,".repeat(3_000_000)}1\n`);
    const r = bounded(["--input-type=module", "-e", load(p, "y")], 64);
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toContain(`${p}:3: expected 3 fields, got 3000001`);
  });

  it("a header over 1,000,000 columns: refused, naming the limit", () => {
    const p = join(dir, "too-wide.csv");
    writeFileSync(p, `${Array.from({ length: 1_000_001 }, (_, k) => `c${k}`).join(",")}\n`);
    const r = bounded(["--input-type=module", "-e", load(p, "c1")]);
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toContain(`${p}:1: the header has 1000001 columns, more than the limit of 1000000`);
  });

  it("a 200,000-column header with a duplicate name: found without a quadratic search", () => {
    const names = Array.from({ length: 200_000 }, (_, k) => `c${k}`);
    const p = join(dir, "wide.csv");
    writeFileSync(p, `${names.join(",")},c0\n`);
    const r = bounded(["--input-type=module", "-e", load(p, "c1")]);
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toContain(`${p}:1: duplicate column name "c0" (columns 1 and 200001)`);
  });
});
