import { PhiloxGenerator } from "@dualgrad/core";
import { describe, expect, it } from "vitest";
import { InstanceParser } from "../src/serve/instance-parser.js";
import { parseInstances, type InstanceLimits } from "../src/serve/instances.js";

const LIMITS: InstanceLimits = { inputSize: 4, maxInstances: 3 };

/** The reference reader's verdict on `body`: the rows' float32 bits, or the error. */
function verdict(read: () => { x: Float32Array; rows: number }): { rows: number; bits: number[] } | { error: string } {
  try {
    const { x, rows } = read();
    return { rows, bits: Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length)) };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** Asserts the fast parser and JSON.parse + checks agree on `body`, bit for bit or message for message. */
function agree(parser: InstanceParser, body: string, limits: InstanceLimits = LIMITS) {
  const want = verdict(() => parseInstances(body, limits));
  expect(verdict(() => parser.parse(Buffer.from(body, "utf8"))), body).toEqual(want);
  return want;
}

/** A seeded source of small random choices. */
function randoms(seed: number) {
  const u = new PhiloxGenerator(seed).uniform(1 << 20, 0, 1);
  let k = 0;
  const next = () => u[k++ % u.length];
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] };
}

/** A JSON number text of many shapes: short and long mantissas, exponents, signs, float32 round-trips. */
function numberText(r: ReturnType<typeof randoms>): string {
  switch (r.int(6)) {
    case 0: return String(Math.fround((r.next() - 0.5) * 10 ** (r.int(20) - 10))); // what clients serialising float32 send
    case 1: return ((r.next() - 0.5) * 100).toPrecision(1 + r.int(21)); // 1-21 significant digits
    case 2: return `${r.pick(["", "-"])}${r.int(1000)}.${String(r.int(1e9)).padStart(r.int(12), "0")}${r.pick(["", `e${r.pick(["", "+", "-"])}${r.int(45)}`, `E-${r.int(30)}`])}`;
    case 3: {
      // Exactly halfway between two float32 neighbours (or a hair off it): where double rounding decides.
      const f = Math.fround(r.next() * 2 ** (r.int(60) - 30));
      const mid = f + (Math.fround(f * (1 + 2 ** -23)) - f) / 2;
      return (mid * (1 + r.pick([0, 2 ** -52, -(2 ** -52)]))).toPrecision(17 + r.int(5));
    }
    case 4: return r.pick(["0", "-0", "0.0", "-0.000e5", "1e-46", "1e-39", "3.4028234663852886e38", "3.4028235e38", "3.40282357e38", "1e38", "99999999999999999999999", "0.000000000000000000000000001234", "1e0000000000000000000000001", "123456789012345678901234567890e-25"]);
    default: return String((r.next() - 0.5) * 10 ** (r.int(80) - 40));
  }
}

describe("InstanceParser (the fast path) agrees with JSON.parse and the checks", () => {
  it("on valid bodies of every number shape, bit for bit", () => {
    const parser = new InstanceParser(LIMITS);
    const r = randoms(1);
    let accepted = 0;
    for (let n = 0; n < 3000; n++) {
      const rows = 1 + r.int(3);
      const sp = () => r.pick(["", "", " ", "\n  ", "\t", "\r\n"]);
      const row = () => `[${sp()}${Array.from({ length: 4 }, () => numberText(r)).join(`${sp()},${sp()}`)}${sp()}]`;
      const body = `${sp()}{${sp()}"instances"${sp()}:${sp()}[${Array.from({ length: rows }, row).join(`,${sp()}`)}]${sp()}}${sp()}`;
      if ("rows" in agree(parser, body)) accepted++;
    }
    expect(accepted).toBeGreaterThan(2000); // most bodies are valid: the comparison is mostly of values
    // Every valid body, whatever its whitespace and number shapes, took the fast path: only the invalid ones were deferred.
    expect(parser.deferred).toBe(3000 - accepted);
  });

  it("on malformed and invalid bodies: the same 400 message", () => {
    const parser = new InstanceParser(LIMITS);
    for (const body of [
      "", " ", "{", "{}", "[]", "null", '{"instances": [[1,2', '{"instances": [[1,2,3,4]]', '{"instances": [[1,2,3,4]]}}', '{"instances": [[1,2,3,4]],}',
      '{"instances": [[1,2,3,NaN]]}', '{"instances": [[1,2,3,Infinity]]}', '{"instances": [[1,2,3,-Infinity]]}', '{"instances": [[1,2,3,1e999]]}', '{"instances": [[1,2,3,-1e39]]}',
      '{"instances": [[1,2,3,01]]}', '{"instances": [[1,2,3,1.]]}', '{"instances": [[1,2,3,.5]]}', '{"instances": [[1,2,3,+1]]}', '{"instances": [[1,2,3,-]]}',
      '{"instances": [[1,2,3,1e]]}', '{"instances": [[1,2,3,1e+]]}', '{"instances": [[1,2,3,0x1]]}', '{"instances": [[1,2,3,1_0]]}', '{"instances": [[1,2,3,"4"]]}',
      '{"instances": [[1,2,3,null]]}', '{"instances": [[1,2,3,true]]}', '{"instances": [[1,2,3,[4]]]}', '{"instances": [[1,2,3]]}', '{"instances": [[1,2,3,4,5]]}',
      '{"instances": [[]]}', '{"instances": []}', '{"instances": [1,2,3,4]}', '{"instances": 3}', '{"instances": {"a": 1}}', '{"inputs": [[1,2,3,4]]}',
      '{"instances": [[1,2,3,4],[1,2,3,4],[1,2,3,4],[1,2,3,4]]}', '{"instances": [[1,2,3,4]], "instances": [[5,6,7,8]]}', '{"other": 1, "instances": [[1,2,3,4]]}',
      '{"instances": [[1,2,3,4]], "other": 1}', '{"\\u0069nstances": [[1,2,3,4]]}', '\ufeff{"instances": [[1,2,3,4]]}', '{"instances": [[1,2,3,4]]} x', "{'instances': [[1,2,3,4]]}",
      '{"instances": [[1,2,3,4],]}', '{"instances": [[1,2,3,4]]}\u00a0', '{"instances":\v[[1,2,3,4]]}', '{"instances": [[1,2,3,4]]}\n\n',
    ]) agree(parser, body);
  });

  it("on thousands of random mutations of a valid body, valid or not", () => {
    const parser = new InstanceParser(LIMITS);
    const r = randoms(2);
    const base = '{"instances": [[0.5, -1.25e-3, 7, 3.4028234663852886e38], [1e-7, 0, -0, 12345.678]]}';
    const alphabet = [..."[]{},:\"-+.eE0123456789 \n\tNaIfty\\u"];
    let rejected = 0;
    for (let n = 0; n < 5000; n++) {
      let s = base;
      for (let k = 1 + r.int(3); k > 0; k--) {
        const at = r.int(s.length + 1);
        const op = r.int(3);
        s = op === 0 ? s.slice(0, at) + s.slice(at + 1) : op === 1 ? s.slice(0, at) + r.pick(alphabet) + s.slice(at) : s.slice(0, at) + r.pick(alphabet) + s.slice(at + 1);
      }
      if ("error" in agree(parser, s)) rejected++;
    }
    expect(rejected).toBeGreaterThan(1000); // the mutations do reach the error paths
  });

  it("takes the fast path for what clients send: float32 values printed by JSON.stringify, short decimals, integers", () => {
    const parser = new InstanceParser(LIMITS);
    const r = randoms(3);
    for (let n = 0; n < 2000; n++) {
      const v = () => r.pick([String(Math.fround((r.next() - 0.5) * 10 ** (r.int(16) - 8))), ((r.next() - 0.5) * 1000).toFixed(r.int(8)), String(r.int(100000) - 50000)]);
      agree(parser, JSON.stringify({ instances: [[0, 0, 0, 0].map(() => Number(v()))] }));
    }
    expect(parser.deferred).toBe(0);
  });

  it("returns a fresh array per request, so a queued request keeps its values", () => {
    const parser = new InstanceParser(LIMITS);
    const a = parser.parse(Buffer.from('{"instances": [[1, 2, 3, 4]]}'));
    parser.parse(Buffer.from('{"instances": [[5, 6, 7, 8], [9, 10, 11, 12]]}'));
    expect(Array.from(a.x)).toEqual([1, 2, 3, 4]);
  });
});
