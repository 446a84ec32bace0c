import { describe, expect, it } from "vitest";
import { MAX_ECHO, MAX_LINE, UsageError, oneLine } from "../src/errors.js";
import { checkMemory, estimateMemory } from "../src/memory-budget.js";
import { WORKLOADS } from "../src/models.js";
import { parseDecimal } from "../src/parse.js";

describe("parseDecimal: the one number reader of every flag", () => {
  it("reads plain decimal notation", () => {
    expect(parseDecimal("0.01")).toBe(0.01);
    expect(parseDecimal(" 1e-3 ")).toBe(0.001);
    expect(parseDecimal("-.5")).toBe(-0.5);
    expect(parseDecimal("42", true)).toBe(42);
  });
  it("refuses hex, binary, octal, Infinity, blanks and overflow", () => {
    for (const t of ["0x10", "0b1", "0o7", "Infinity", "", " ", "1_000", "1e999", "NaN", "1,5"]) expect(parseDecimal(t)).toBeNull();
  });
  it("integers are whole and exact: no fraction, exponent or unsafe value", () => {
    for (const t of ["1e3", "1.0", "0x8", "9007199254740993", "1e300"]) expect(parseDecimal(t, true)).toBeNull();
  });
});

describe("oneLine: how every CLI error is printed", () => {
  it("escapes control characters", () => {
    expect(oneLine("bad header 'a\nb'\r\t\x1b[31m")).toBe("bad header 'a\\nb'\\r\\t\\x1b[31m");
  });
  it("cuts a long quoted value in the middle, keeping both ends", () => {
    const line = oneLine(`expected a positive number, got '${"1".repeat(100_000)}2'`);
    const echoed = /got '(.*)'$/.exec(line)![1];
    expect(echoed).toHaveLength(MAX_ECHO);
    expect(echoed).toMatch(/^1+…1+2$/);
  });
  it("an apostrophe inside a word does not start a quote", () => {
    const msg = `at most 2 (this machine's available parallelism ${"x".repeat(100)}), got '1000'`;
    expect(oneLine(msg)).toBe(msg);
  });
  it("caps the whole line, keeping its end (where the advice is)", () => {
    const line = oneLine(`columns (${Array.from({ length: 10_000 }, (_, i) => `c${i}`).join(", ")}); use --layers 10000,1`);
    expect(line).toHaveLength(MAX_LINE);
    expect(line).toMatch(/^columns \(c0, c1, .*….*use --layers 10000,1$/);
  });
});

describe("checkMemory: sizes checked before allocating", () => {
  const mlp = WORKLOADS.mlp;
  it("a reference workload fits a small budget", () => {
    expect(() => checkMemory(mlp, 8000, 1 << 30)).not.toThrow();
  });
  it("over the budget names the estimate and its parts", () => {
    const e = estimateMemory(mlp, 8000);
    expect(e.total).toBe(e.parameterBytes + e.activationBytes + e.dataBytes);
    expect(() => checkMemory(mlp, 8000, e.total - 1)).toThrow(UsageError);
    expect(() => checkMemory(mlp, 8000, e.total - 1)).toThrow(/model mlp with batch size 128 on 8000 rows needs about .* \(parameters .*, activations .*, data .*\), over the budget/);
  });
  it("one tensor over the element limit is named whatever the budget", () => {
    const spec = { ...mlp, layers: [50_000, 50_000, 10] };
    expect(() => checkMemory(spec, 0, Infinity)).toThrow(/the 50000x50000 weight of layer 0, 2\.50e\+9 elements, over the 2147483647-element limit/);
  });
});
