import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputFileError, readInputChunks, readInputFile, readInputText } from "../src/io/read-file.js";

/**
 * The bounded readers every user-named input goes through. FIFOs and /dev/zero, which would hang
 * an unbounded reader, are driven through the CLI in a time- and memory-bounded child process
 * (packages/bench-cli/test/hostile-inputs.test.ts); here, regular files, limits and messages.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dualgrad-read-file-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function errorOf(fn: () => unknown): InputFileError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputFileError);
    return e as InputFileError;
  }
  throw new Error("expected an InputFileError");
}

describe("bounded input files", () => {
  const file = path.join(dir, "ten.bin");
  fs.writeFileSync(file, "0123456789");

  it("reads a regular file up to and including the limit, and refuses one byte more", () => {
    expect(readInputText(file, { maxBytes: 10 })).toBe("0123456789");
    const e = errorOf(() => readInputFile(file, { maxBytes: 9, limitName: "test limit" }));
    expect(e.message).toBe(`cannot read '${file}': it is 10 bytes, over the 9-byte test limit`);
    expect(e.path).toBe(file);
    expect(errorOf(() => readInputChunks(file, { maxBytes: 9 }, () => {})).reason).toBe("it is 10 bytes, over the 9-byte size limit");
  });

  it("streams chunks in order through a reused buffer", () => {
    const seen: string[] = [];
    readInputChunks(file, { maxBytes: 100 }, (c) => seen.push(Buffer.from(c).toString()), 3);
    expect(seen).toEqual(["012", "345", "678", "9"]);
    const empty = path.join(dir, "empty.bin");
    fs.writeFileSync(empty, "");
    expect(readInputFile(empty, { maxBytes: 0 }).length).toBe(0);
  });

  it("names missing files, directories and devices, with the caller's wording", () => {
    const missing = path.join(dir, "nope");
    expect(errorOf(() => readInputFile(missing, { maxBytes: 1 })).message).toBe(`cannot read '${missing}': no such file`);
    expect(errorOf(() => readInputFile(dir, { maxBytes: 1, kind: "a CSV file", message: (r) => `${dir}: ${r}` })).message).toBe(
      `${dir}: it is a directory, not a CSV file`,
    );
    if (fs.existsSync("/dev/null")) {
      expect(errorOf(() => readInputFile("/dev/null", { maxBytes: 1 })).reason).toBe("it is a character device, not a regular file");
    }
  });

  // /proc files are regular but report size 0: the read must follow the data, within the limit.
  it.skipIf(!fs.existsSync("/proc/self/status"))("does not trust the size stat reports, and still stops at the limit", () => {
    expect(readInputText("/proc/self/status", { maxBytes: 1 << 20 })).toMatch(/^Name:/);
    expect(errorOf(() => readInputFile("/proc/self/status", { maxBytes: 10 })).reason).toBe("it is more than 10 bytes, over the 10-byte size limit");
    expect(errorOf(() => readInputChunks("/proc/self/status", { maxBytes: 10 }, () => {})).reason).toBe("it is more than 10 bytes, over the 10-byte size limit");
  });
});
