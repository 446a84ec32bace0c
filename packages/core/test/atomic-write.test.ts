import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DualgradError } from "../src/errors.js";
import { writeFileAtomic } from "../src/io/atomic-write.js";

/**
 * writeFileAtomic's housekeeping: the temp file a save killed with SIGKILL leaves behind is
 * removed by the next save to the same path (its pid names no process), while a live writer's
 * temp file is kept; and special files are never replaced.
 */

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(tmpdir(), "dualgrad-atomic-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that has exited (a child we ran to completion). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  expect(r.status).toBe(0);
  return r.pid!;
}

describe("writeFileAtomic: stale temp files", () => {
  it("a save removes a dead writer's temp file and keeps a live one's", () => {
    const target = path.join(dir, "w.safetensors");
    const stale = path.join(dir, `.w.safetensors.${deadPid()}.0123456789ab.tmp`);
    const live = path.join(dir, `.w.safetensors.${process.pid}.ba9876543210.tmp`);
    const other = path.join(dir, `.other.safetensors.${deadPid()}.0123456789ab.tmp`);
    for (const f of [stale, live, other]) fs.writeFileSync(f, "partial");
    writeFileAtomic(target, "new");
    expect(fs.readFileSync(target, "utf8")).toBe("new");
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    // Only temp files of the path being saved are touched.
    expect(fs.existsSync(other)).toBe(true);
  });

  it("a save killed with SIGKILL leaves a temp file that the next save removes", () => {
    const target = path.join(dir, "big.bin");
    // A child that creates its temp file the way writeFileAtomic does, then is killed mid-write.
    const child = spawnSync(process.execPath, ["-e", `
      const fs = require("node:fs");
      fs.writeFileSync(${JSON.stringify(dir)} + "/.big.bin." + process.pid + ".00000000abcd.tmp", "half");
      process.kill(process.pid, "SIGKILL");`]);
    expect(child.signal).toBe("SIGKILL");
    expect(fs.readdirSync(dir)).toHaveLength(1);
    writeFileAtomic(target, new Uint8Array([1, 2, 3]));
    expect(fs.readdirSync(dir)).toEqual(["big.bin"]);
  });
});

describe("writeFileAtomic: special files", () => {
  it("refuses to replace a FIFO", () => {
    if (process.platform === "win32") return;
    const fifo = path.join(dir, "pipe");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    expect(() => writeFileAtomic(fifo, "x")).toThrow(DualgradError);
    expect(() => writeFileAtomic(fifo, "x")).toThrow(/pipe': it is not a regular file/);
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(["pipe"]);
  });
});
