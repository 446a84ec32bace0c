import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DualgradError, FormatError, ShapeError } from "../src/errors.js";
import { writeFileAtomic } from "../src/io/atomic-write.js";
import {
  parseSafetensors,
  readSafetensors,
  SAFETENSORS_LIMITS,
  safeDTypeOf,
  serializeSafetensors,
  toDTypeArray,
  writeSafetensors,
  type SafeTensor,
  type SafetensorsLimits,
} from "../src/io/safetensors.js";

/** Builds a file from a raw header text and data bytes; `len` overrides the length prefix. */
function build(header: string, data: Uint8Array = new Uint8Array(0), len?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, len ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Parses and returns the FormatError message; fails the test on success or any other error. */
function formatError(bytes: Uint8Array, limits?: SafetensorsLimits): string {
  try {
    parseSafetensors(bytes, "test.safetensors", limits);
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    const msg = (e as Error).message;
    expect(msg.startsWith("safetensors: test.safetensors: ")).toBe(true);
    return msg;
  }
  throw new Error("expected a FormatError, but the parse succeeded");
}

/** Either a clean parse or a FormatError; anything else (RangeError, TypeError, ...) fails. */
function parsesOrFormatError(bytes: Uint8Array): void {
  try {
    parseSafetensors(bytes);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
}

/** Deterministic PRNG (mulberry32) so fuzz failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sample(): Map<string, SafeTensor> {
  return new Map<string, SafeTensor>([
    ["w", { dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2.5, 0, -0, Infinity, NaN]) }],
    ["d", { dtype: "F64", shape: [3], data: new Float64Array([Math.PI, -1e300, Number.MIN_VALUE]) }],
    ["labels", { dtype: "I32", shape: [4], data: new Int32Array([0, -1, 2147483647, -2147483648]) }],
    [
      "steps",
      { dtype: "I64", shape: [1, 3], data: new BigInt64Array([0n, -(2n ** 63n), 2n ** 63n - 1n]) },
    ],
    ["scalar", { dtype: "F32", shape: [], data: new Float32Array([42]) }],
    ["empty", { dtype: "F64", shape: [3, 0], data: new Float64Array(0) }],
  ]);
}

function expectSameTensors(got: Map<string, SafeTensor>, want: Map<string, SafeTensor>): void {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, w] of want) {
    const g = got.get(name)!;
    expect(g.dtype).toBe(w.dtype);
    expect(g.shape).toEqual(w.shape);
    expect(g.data.constructor).toBe(w.data.constructor);
    // Compare bytes so NaN and -0 count as equal only when bit-identical.
    expect(new Uint8Array(g.data.buffer, g.data.byteOffset, g.data.byteLength)).toEqual(
      new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength),
    );
  }
}

describe("safetensors round trip", () => {
  it("round-trips every dtype, rank 0, size-0 dims and metadata", () => {
    const tensors = sample();
    const metadata = { format: "pt", note: "ünïcødé ✓ \"quoted\" \n newline", "": "empty key" };
    const bytes = serializeSafetensors(tensors, metadata);
    const file = parseSafetensors(bytes);
    expectSameTensors(file.tensors, tensors);
    expect(file.metadata).toEqual(metadata);
  });

  it("returns typed arrays that do not alias the input bytes", () => {
    const bytes = serializeSafetensors(sample());
    const t = parseSafetensors(bytes).tensors.get("w")!;
    expect(t.data.buffer).not.toBe(bytes.buffer);
    expect(t.data.byteOffset).toBe(0);
  });

  it("writes a file with only metadata, and one with nothing at all", () => {
    const onlyMeta = serializeSafetensors(new Map(), { k: "v" });
    const f = parseSafetensors(onlyMeta);
    expect(f.tensors.size).toBe(0);
    expect(f.metadata).toEqual({ k: "v" });

    const nothing = serializeSafetensors({});
    expect(new TextDecoder().decode(nothing.subarray(8)).trimEnd()).toBe("{}");
    expect(parseSafetensors(nothing)).toEqual({ tensors: new Map(), metadata: {} });
  });

  it("keeps the given order, including integer-like names and odd names", () => {
    const names = ["10", "2", "b", "a", "__proto__", "constructor", "0", "名前"];
    const tensors = new Map<string, SafeTensor>(
      names.map((n, i) => [n, { dtype: "I32", shape: [1], data: new Int32Array([i]) }]),
    );
    const file = parseSafetensors(serializeSafetensors(tensors, { __proto__x: "a", ["__proto__"]: "b" }));
    expect([...file.tensors.keys()]).toEqual(names);
    expect(file.tensors.get("__proto__")!.data).toEqual(new Int32Array([4]));
    expect(Object.keys(file.metadata)).toContain("__proto__");
    expect(file.metadata["__proto__"]).toBe("b");
  });

  it("accepts a Record", () => {
    const file = parseSafetensors(
      serializeSafetensors({ x: { dtype: "F64", shape: [2], data: new Float64Array([1, 2]) } }),
    );
    expect(file.tensors.get("x")!.data).toEqual(new Float64Array([1, 2]));
  });

  it("aligns the data section to 8 bytes and every tensor to its element size", () => {
    const tensors = new Map<string, SafeTensor>([
      ["a", { dtype: "F32", shape: [1], data: new Float32Array([1]) }],
      ["b", { dtype: "F64", shape: [1], data: new Float64Array([2]) }],
      ["c", { dtype: "I32", shape: [3], data: new Int32Array([3, 4, 5]) }],
      ["d", { dtype: "I64", shape: [1], data: new BigInt64Array([6n]) }],
    ]);
    for (let extra = 0; extra < 9; extra++) {
      // Vary the header length so every padding amount 0..7 shows up.
      const meta = { pad: "x".repeat(extra) };
      const bytes = serializeSafetensors(tensors, meta);
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect((8 + n) % 8).toBe(0);
      const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
      expect(headerText.trimEnd().length).toBeGreaterThan(n - 8);
      expect(/^ *$/.test(headerText.slice(headerText.trimEnd().length))).toBe(true);
      const header = JSON.parse(headerText) as Record<string, { dtype: string; data_offsets: number[] }>;
      const sizes: Record<string, number> = { F32: 4, F64: 8, I32: 4, I64: 8 };
      const ranges: number[][] = [];
      for (const name of ["a", "b", "c", "d"]) {
        const { dtype, data_offsets } = header[name];
        expect(data_offsets[0] % sizes[dtype]).toBe(0);
        ranges.push(data_offsets);
      }
      // Contiguous with no gaps (the Rust reader requires it).
      ranges.sort((x, y) => x[0] - y[0]);
      expect(ranges[0][0]).toBe(0);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBe(ranges[i - 1][1]);
      expect(ranges[ranges.length - 1][1]).toBe(bytes.length - 8 - n);
      const file = parseSafetensors(bytes);
      expectSameTensors(file.tensors, tensors);
    }
  });
});

describe("safetensors properties", () => {
  const tensorArb: fc.Arbitrary<SafeTensor> = fc
    .tuple(fc.constantFrom("F32", "F64", "I32", "I64"), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }))
    .chain(([dtype, shape]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      switch (dtype) {
        case "F32":
          return fc.float32Array({ minLength: size, maxLength: size }).map((d) => ({ dtype, shape, data: d }) as SafeTensor);
        case "F64":
          return fc.float64Array({ minLength: size, maxLength: size }).map((d) => ({ dtype, shape, data: d }) as SafeTensor);
        case "I32":
          return fc.int32Array({ minLength: size, maxLength: size }).map((d) => ({ dtype, shape, data: d }) as SafeTensor);
        default:
          return fc.bigInt64Array({ minLength: size, maxLength: size }).map((d) => ({ dtype, shape, data: d }) as SafeTensor);
      }
    });
  const fileArb = fc.tuple(
    fc.uniqueArray(fc.tuple(fc.string().filter((n) => n !== "__metadata__"), tensorArb), {
      maxLength: 6,
      selector: ([n]) => n,
    }),
    fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
  );

  it("round-trips arbitrary tensor sets", () => {
    fc.assert(
      fc.property(fileArb, ([entries, metadata]) => {
        const tensors = new Map(entries);
        const bytes = serializeSafetensors(tensors, metadata);
        expect((8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8).toBe(0);
        const file = parseSafetensors(bytes);
        expectSameTensors(file.tensors, tensors);
        expect(file.metadata).toEqual(metadata);
      }),
      { numRuns: 300 },
    );
  });

  it("mutated files parse cleanly or throw FormatError", () => {
    fc.assert(
      fc.property(
        fileArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        ([entries, metadata], edits, cut) => {
          const bytes = serializeSafetensors(new Map(entries), metadata);
          for (const [pos, v] of edits) bytes[pos % bytes.length] = v;
          parsesOrFormatError(bytes);
          parsesOrFormatError(bytes.subarray(0, cut % (bytes.length + 1)));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("safetensors byte layout", () => {
  it("writes exactly what the Python library writes", () => {
    const bytes = serializeSafetensors(
      new Map<string, SafeTensor>([["a", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]]),
    );
    const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'; // 54 bytes
    const padded = json + "  "; // 8 + 56 = 64, a multiple of 8
    const expected = new Uint8Array([
      56, 0, 0, 0, 0, 0, 0, 0,
      ...new TextEncoder().encode(padded),
      0x00, 0x00, 0x80, 0x3f, // 1.0f little-endian
      0x00, 0x00, 0x00, 0x40, // 2.0f
    ]);
    expect(json.length).toBe(54);
    expect(bytes).toEqual(expected);
  });

  it("writes metadata first, as the Rust library does", () => {
    const bytes = serializeSafetensors({ t: { dtype: "I64", shape: [], data: new BigInt64Array([258n]) } }, {
      format: "pt",
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + n)).trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"t":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}',
    );
    expect([...bytes.subarray(8 + n)]).toEqual([2, 1, 0, 0, 0, 0, 0, 0]);
  });

  it("reads a hand-built file with an unaligned data section and unpadded header", () => {
    const header = '{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"y":{"dtype":"I32","shape":[],"data_offsets":[16,20]}}';
    expect((8 + header.length) % 8).not.toBe(0);
    const data = new Uint8Array(20);
    const dv = new DataView(data.buffer);
    dv.setFloat64(0, 1.5, true);
    dv.setFloat64(8, -3.25, true);
    dv.setInt32(16, -7, true);
    // Embed at an odd offset inside a larger buffer too.
    const file = build(header, data);
    const host = new Uint8Array(file.length + 3);
    host.set(file, 3);
    const parsed = parseSafetensors(host.subarray(3));
    expect(parsed.tensors.get("x")!.data).toEqual(new Float64Array([1.5, -3.25]));
    expect(parsed.tensors.get("y")).toEqual({ dtype: "I32", shape: [], data: new Int32Array([-7]) });
  });

  it("accepts gaps and trailing bytes, and null metadata", () => {
    const header = '{"__metadata__":null,"x":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}';
    const file = parseSafetensors(build(header, new Uint8Array([9, 9, 9, 9, 5, 0, 0, 0, 1, 2])));
    expect(file.tensors.get("x")!.data).toEqual(new Int32Array([5]));
    expect(file.metadata).toEqual({});
  });
});

describe("safetensors rejects corrupt files with FormatError", () => {
  it("a file truncated at any byte always throws FormatError", () => {
    const full = serializeSafetensors(sample(), { a: "b" });
    for (let len = 0; len < full.length; len++) {
      formatError(full.slice(0, len));
      formatError(full.subarray(0, len));
    }
    expect(() => parseSafetensors(full)).not.toThrow();
  });

  it("too short for the length prefix", () => {
    expect(formatError(new Uint8Array(5))).toMatch(/5 bytes, too short/);
  });

  it("header length past the end of the file, or absurd", () => {
    const header = '{"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}';
    expect(formatError(build(header, new Uint8Array(4), 1000n))).toMatch(/header length 1000 runs past the end/);
    expect(formatError(build(header, new Uint8Array(4), 2n ** 64n - 1n))).toMatch(/exceeds the 100000000-byte limit/);
    expect(formatError(build(header, new Uint8Array(4), 2n ** 53n + 1n))).toMatch(/exceeds/);
  });

  it("header that is not UTF-8 JSON object", () => {
    expect(formatError(build("{not json"))).toMatch(/header is not valid JSON/);
    expect(formatError(build(""))).toMatch(/header is not valid JSON/);
    expect(formatError(build("[]"))).toMatch(/must be a JSON object, got an array/);
    expect(formatError(build("42"))).toMatch(/must be a JSON object, got 42/);
    expect(formatError(build("null"))).toMatch(/must be a JSON object/);
    expect(formatError(build("\uFEFF{}"))).toMatch(/not valid JSON/);
    const bad = build("{}  ");
    bad[9] = 0xff;
    expect(formatError(bad)).toMatch(/not valid UTF-8/);
  });

  it("metadata that is not string -> string", () => {
    expect(formatError(build('{"__metadata__":{"a":1}}'))).toMatch(/__metadata__ value for key 'a' must be a string, got 1/);
    expect(formatError(build('{"__metadata__":["a"]}'))).toMatch(/__metadata__ must be an object/);
    expect(formatError(build('{"__metadata__":"x"}'))).toMatch(/__metadata__ must be an object/);
  });

  it("entries with missing or bad fields", () => {
    const d = new Uint8Array(8);
    expect(formatError(build('{"x":5}', d))).toMatch(/tensor 'x': entry must be an object/);
    expect(formatError(build('{"x":[]}', d))).toMatch(/tensor 'x': entry must be an object/);
    expect(formatError(build('{"x":{"shape":[2],"data_offsets":[0,8]}}', d))).toMatch(/tensor 'x': missing dtype/);
    expect(formatError(build('{"x":{"dtype":3,"shape":[2],"data_offsets":[0,8]}}', d))).toMatch(
      /tensor 'x': dtype must be a string/,
    );
    expect(formatError(build('{"x":{"dtype":"F32","data_offsets":[0,8]}}', d))).toMatch(/tensor 'x': missing shape/);
    expect(formatError(build('{"x":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}', d))).toMatch(
      /tensor 'x': shape must be an array/,
    );
    expect(formatError(build('{"x":{"dtype":"F32","shape":[2]}}', d))).toMatch(/tensor 'x': missing data_offsets/);
    expect(formatError(build('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', d))).toMatch(
      /tensor 'x': data_offsets must be \[begin, end\]/,
    );
  });

  it("unknown and unsupported dtypes", () => {
    const d = new Uint8Array(4);
    expect(formatError(build('{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', d))).toBe(
      "safetensors: test.safetensors: dtype F16 of tensor 'x' is not supported (supported: F32, F64, I32, I64)",
    );
    for (const dt of ["BF16", "U8", "BOOL", "I8", "U64"]) {
      expect(formatError(build(`{"x":{"dtype":"${dt}","shape":[],"data_offsets":[0,1]}}`, d))).toMatch(
        `dtype ${dt} of tensor 'x' is not supported`,
      );
    }
    expect(formatError(build('{"x":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}', d))).toMatch(
      /unknown dtype "F99" of tensor 'x'/,
    );
    expect(formatError(build('{"x":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}', d))).toMatch(/unknown dtype/);
  });

  it("shape entries that are not non-negative integers", () => {
    const d = new Uint8Array(8);
    for (const shape of ["[-1]", "[1.5]", '["2"]', "[null]", "[1e400]", "[9007199254740993]", "[[2]]"]) {
      expect(formatError(build(`{"x":{"dtype":"F32","shape":${shape},"data_offsets":[0,8]}}`, d))).toMatch(
        /tensor 'x': shape .* not a non-negative integer/,
      );
    }
  });

  it("offsets that are not integers, reversed, or out of range", () => {
    const d = new Uint8Array(8);
    const h = (o: string) => build(`{"x":{"dtype":"F32","shape":[2],"data_offsets":${o}}}`, d);
    expect(formatError(h("[0.5,8]"))).toMatch(/tensor 'x': data_offsets .* two non-negative integers/);
    expect(formatError(h('[0,"8"]'))).toMatch(/two non-negative integers/);
    expect(formatError(h("[-8,0]"))).toMatch(/two non-negative integers/);
    expect(formatError(h("[8,0]"))).toMatch(/tensor 'x': data_offsets \[8,0\] end before/);
    expect(formatError(h("[0,16]"))).toMatch(/tensor 'x': data_offsets \[0,16\] run past the end of the data section \(8 bytes/);
    expect(formatError(h("[0,1e300]"))).toMatch(/two non-negative integers/);
  });

  it("shape/size disagreement", () => {
    const d = new Uint8Array(16);
    expect(formatError(build('{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', d))).toMatch(
      /tensor 'x': shape\/size disagreement: shape \[3\] of F32 needs 12 bytes but data_offsets \[0,8\] span 8/,
    );
    expect(formatError(build('{"x":{"dtype":"I64","shape":[],"data_offsets":[0,4]}}', d))).toMatch(/disagreement/);
    // A product that overflows doubles must not round into a match.
    expect(
      formatError(build('{"x":{"dtype":"F32","shape":[4294967296,4294967296,0.5],"data_offsets":[0,8]}}', d)),
    ).toMatch(/not a non-negative integer/);
    expect(
      formatError(build('{"x":{"dtype":"F32","shape":[9007199254740991,9007199254740991],"data_offsets":[0,8]}}', d)),
    ).toMatch(/disagreement/);
  });

  it("overlapping tensors", () => {
    const d = new Uint8Array(16);
    const header =
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}';
    expect(formatError(build(header, d))).toMatch(/tensors 'a' \[0,8\) and 'b' \[4,12\) overlap/);
    const same =
      '{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expect(formatError(build(same, d))).toMatch(/overlap/);
    // Empty tensors occupy no bytes, so they may sit anywhere.
    const empties =
      '{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[0],"data_offsets":[2,2]}}';
    expect(parseSafetensors(build(empties, d)).tensors.get("b")!.shape).toEqual([0]);
  });

  it("duplicate names", () => {
    const d = new Uint8Array(8);
    const header =
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expect(formatError(build(header, d))).toMatch(/duplicate entry 'a'/);
  });

  it("names hostile tensor names briefly", () => {
    const name = "n".repeat(100_000);
    const msg = formatError(build(`{"${name}":{"dtype":"X","shape":[],"data_offsets":[0,0]}}`));
    expect(msg.length).toBeLessThan(400);
  });

  it("flipped bytes in the header: a clean parse or a FormatError, never anything else", () => {
    const full = serializeSafetensors(sample(), { format: "pt" });
    const n = Number(new DataView(full.buffer).getBigUint64(0, true));
    const rand = rng(1234);
    let failures = 0;
    for (let iter = 0; iter < 3000; iter++) {
      const b = full.slice();
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++) {
        const pos = Math.floor(rand() * (8 + n));
        b[pos] = rand() < 0.5 ? b[pos] ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
      }
      try {
        parseSafetensors(b);
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(0);
  });

  it("every single-byte change in the header is a clean parse or a FormatError", () => {
    const full = serializeSafetensors(sample());
    const n = Number(new DataView(full.buffer).getBigUint64(0, true));
    const interesting = [0x00, 0x20, 0x22, 0x2c, 0x2d, 0x30, 0x39, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x80, 0xff];
    for (let pos = 0; pos < 8 + n; pos++) {
      for (const v of interesting) {
        const b = full.slice();
        b[pos] = v;
        parsesOrFormatError(b);
      }
    }
  });

  it("random garbage never escapes as anything but FormatError", () => {
    const rand = rng(99);
    for (let iter = 0; iter < 2000; iter++) {
      const len = Math.floor(rand() * 64);
      const b = new Uint8Array(len);
      for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256);
      if (len >= 8 && rand() < 0.7) new DataView(b.buffer).setBigUint64(0, BigInt(Math.floor(rand() * (len - 7))), true);
      parsesOrFormatError(b);
    }
  });

  it("deeply nested JSON is rejected cleanly", () => {
    const deep = "[".repeat(200_000) + "]".repeat(200_000);
    const tooDeep = /header nests arrays or objects more than 64 deep \(the limit is SafetensorsLimits\.maxJsonDepth = 64\)/;
    expect(formatError(build(`{"x":${deep}}`))).toMatch(tooDeep);
    expect(formatError(build(`{"x":{"dtype":"F32","shape":${deep},"data_offsets":[0,0]}}`))).toMatch(tooDeep);
    expect(formatError(build(`{"__metadata__":{"k":${deep}}}`))).toMatch(tooDeep);
    // With the depth limit lifted, the field checks still name what is wrong.
    const lifted = { maxJsonDepth: 1e6 };
    expect(formatError(build(`{"x":${deep}}`), lifted)).toMatch(/tensor 'x': entry must be an object/);
    expect(formatError(build(`{"x":{"dtype":"F32","shape":${deep},"data_offsets":[0,0]}}`), lifted)).toMatch(/shape/);
    expect(formatError(build(`{"__metadata__":{"k":${deep}}}`), lifted)).toMatch(/__metadata__ value for key 'k'/);
    const deepObj = '{"a":'.repeat(100_000) + "1" + "}".repeat(100_000);
    parsesOrFormatError(build(`{"x":${deepObj}}`));
  });
});

describe("hostile headers are refused by a byte scan before JSON.parse", () => {
  /** A header `{"__metadata__":{...n entries}}` (about 12 bytes an entry). */
  const metadataHeader = (n: number) =>
    `{"__metadata__":{${Array.from({ length: n }, (_, i) => `"k${i}":""`).join(",")}}}`;
  /** A header of n empty tensors (about 55 bytes each). */
  const emptyTensors = (n: number) =>
    `{${Array.from({ length: n }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`).join(",")}}`;

  it("defaults: at most 10,000 metadata entries, 100,000 tensors, 2,000,000 JSON values, depth 64", () => {
    expect(SAFETENSORS_LIMITS).toMatchObject({
      maxHeaderBytes: 100_000_000, maxTensors: 100_000, maxMetadataEntries: 10_000, maxJsonDepth: 64, maxJsonValues: 2_000_000, maxRank: 64,
    });
    expect(formatError(build(metadataHeader(10_001)))).toBe(
      "safetensors: test.safetensors: header has more than 10000 __metadata__ entries (the limit is SafetensorsLimits.maxMetadataEntries = 10000)",
    );
    expect(parseSafetensors(build(metadataHeader(10_000))).metadata.k9999).toBe("");
    expect(formatError(build(emptyTensors(100_001)))).toBe(
      "safetensors: test.safetensors: header lists more than 100000 tensors (the limit is SafetensorsLimits.maxTensors = 100000)",
    );
    const longShape = `{"x":{"dtype":"F32","shape":[${"0,".repeat(2_000_000)}0],"data_offsets":[0,0]}}`;
    expect(formatError(build(longShape))).toMatch(/header has more than 2000000 JSON values \(the limit is SafetensorsLimits\.maxJsonValues = 2000000\)$/);
  });

  it("limits can be tightened, and each is exact", () => {
    const limits = { maxTensors: 3, maxMetadataEntries: 2, maxJsonDepth: 3, maxJsonValues: 40, maxHeaderBytes: 300 };
    expect(parseSafetensors(build(emptyTensors(3)), "f", limits).tensors.size).toBe(3);
    expect(formatError(build(emptyTensors(4)), limits)).toMatch(/more than 3 tensors .*maxTensors = 3\)$/);
    // __metadata__ is a key but not a tensor.
    const withMeta = `{"__metadata__":{"a":"1","b":"2"},${emptyTensors(3).slice(1)}`;
    expect(parseSafetensors(build(withMeta), "f", limits).metadata).toEqual({ a: "1", b: "2" });
    expect(formatError(build(metadataHeader(3)), limits)).toMatch(/more than 2 __metadata__ entries/);
    // The scan counts the literal key; an escaped spelling is caught after parsing.
    const escaped = `{"\\u005f_metadata__":{"a":"1","b":"2","c":"3"}}`;
    expect(formatError(build(escaped), limits)).toMatch(/more than 2 __metadata__ entries/);
    expect(formatError(build(`{"x":{"dtype":"F32","shape":[[0]],"data_offsets":[0,0]}}`), limits)).toMatch(/more than 3 deep .*maxJsonDepth = 3\)$/);
    expect(formatError(build(`{"x":{"dtype":"F32","shape":[${"1,".repeat(40)}1],"data_offsets":[0,0]}}`), limits)).toMatch(/more than 40 JSON values/);
    const rank65 = `{"x":{"dtype":"F32","shape":[${"1,".repeat(64)}0],"data_offsets":[0,0]}}`;
    expect(formatError(build(rank65))).toBe(
      "safetensors: test.safetensors: tensor 'x': shape has 65 dimensions, more than 64 (the limit is SafetensorsLimits.maxRank)",
    );
    expect(parseSafetensors(build(rank65), "f", { maxRank: 65 }).tensors.get("x")!.shape).toHaveLength(65);
    expect(formatError(build(`{"__metadata__":{"a":"${"x".repeat(300)}"}}`), limits)).toMatch(/header length 325 exceeds the 300-byte limit \(SafetensorsLimits\.maxHeaderBytes/);
  });

  it("keys inside strings and escaped quotes do not confuse the scan", () => {
    const tricky = `{"__metadata__":{"a\\"b":"{[,\\"]}:"},"t\\"{":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`;
    // 5 brackets and 4 commas outside strings: 9 values.
    const limits = { maxTensors: 1, maxMetadataEntries: 1, maxJsonDepth: 3, maxJsonValues: 9 };
    const f = parseSafetensors(build(tricky, new Uint8Array(4)), "f", limits);
    expect(formatError(build(tricky, new Uint8Array(4)), { ...limits, maxJsonValues: 8 })).toMatch(/more than 8 JSON values/);
    expect([...f.tensors.keys()]).toEqual(['t"{']);
    expect(f.metadata).toEqual({ 'a"b': '{[,"]}:' });
  });

  it("errors stay short whatever the file holds", () => {
    // Rejected before parsing, the message is one line whatever the header's size.
    const msg = formatError(build(metadataHeader(50_000)));
    expect(msg.length).toBeLessThan(200);
  });
});

describe("serializeSafetensors validation", () => {
  it("rejects a data length that does not match the shape", () => {
    expect(() =>
      serializeSafetensors({ x: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) } }),
    ).toThrow(ShapeError);
    expect(() =>
      serializeSafetensors({ x: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) } }),
    ).toThrow(/tensor 'x': shape \[2,2\] holds 4 elements but data has 3/);
    expect(() => serializeSafetensors({ x: { dtype: "F32", shape: [-1], data: new Float32Array(0) } })).toThrow(
      ShapeError,
    );
  });

  it("rejects a dtype that does not match the array type", () => {
    expect(() =>
      serializeSafetensors({ x: { dtype: "F64", shape: [2], data: new Float32Array(2) } }),
    ).toThrow(/tensor 'x' has dtype F64, which needs a Float64Array, but data is a Float32Array/);
    expect(() =>
      serializeSafetensors({ x: { dtype: "I64", shape: [2], data: new Int32Array(2) } }),
    ).toThrow(DualgradError);
    expect(() =>
      serializeSafetensors({ x: { dtype: "F16" as "F32", shape: [2], data: new Float32Array(2) } }),
    ).toThrow(/unknown dtype "F16"/);
  });

  it("rejects non-string metadata, the reserved name and lone surrogates", () => {
    expect(() => serializeSafetensors({}, { a: 1 as unknown as string })).toThrow(/metadata value for key 'a'/);
    expect(() =>
      serializeSafetensors({ __metadata__: { dtype: "F32", shape: [], data: new Float32Array(1) } }),
    ).toThrow(/reserved/);
    expect(() =>
      serializeSafetensors({ ["bad\ud800"]: { dtype: "F32", shape: [], data: new Float32Array(1) } }),
    ).toThrow(/lone UTF-16 surrogate/);
  });

  it("serializes a subarray view correctly", () => {
    const big = new Float32Array([9, 1, 2, 9]);
    const file = parseSafetensors(
      serializeSafetensors({ x: { dtype: "F32", shape: [2], data: big.subarray(1, 3) } }),
    );
    expect(file.tensors.get("x")!.data).toEqual(new Float32Array([1, 2]));
  });
});

describe("dtype helpers", () => {
  it("safeDTypeOf", () => {
    expect(safeDTypeOf("float32")).toBe("F32");
    expect(safeDTypeOf("float64")).toBe("F64");
    expect(safeDTypeOf("int32")).toBe("I32");
  });

  it("toDTypeArray converts and checks ranges", () => {
    const i64: SafeTensor = { dtype: "I64", shape: [3], data: new BigInt64Array([1n, -2n, 2147483647n]) };
    expect(toDTypeArray(i64, "int32")).toEqual(new Int32Array([1, -2, 2147483647]));
    expect(toDTypeArray(i64, "float64")).toEqual(new Float64Array([1, -2, 2147483647]));
    expect(toDTypeArray(i64, "float32")).toBeInstanceOf(Float32Array);
    const tooBig: SafeTensor = { dtype: "I64", shape: [2], data: new BigInt64Array([0n, 2n ** 31n]) };
    expect(() => toDTypeArray(tooBig, "int32", "labels")).toThrow(FormatError);
    expect(() => toDTypeArray(tooBig, "int32", "labels")).toThrow(
      /tensor 'labels': I64 value 2147483648 at index 1 is out of int32 range/,
    );

    const f: SafeTensor = { dtype: "F64", shape: [2], data: new Float64Array([3, -4]) };
    expect(toDTypeArray(f, "int32")).toEqual(new Int32Array([3, -4]));
    expect(toDTypeArray(f, "float32")).toEqual(new Float32Array([3, -4]));
    const frac: SafeTensor = { dtype: "F32", shape: [2], data: new Float32Array([1, 1.5]) };
    expect(() => toDTypeArray(frac, "int32", "w")).toThrow(/tensor 'w': F32 value 1.5 at index 1 is not an integer/);
    const nan: SafeTensor = { dtype: "F32", shape: [1], data: new Float32Array([NaN]) };
    expect(() => toDTypeArray(nan, "int32")).toThrow(/not an integer/);
    const huge: SafeTensor = { dtype: "F64", shape: [1], data: new Float64Array([1e10]) };
    expect(() => toDTypeArray(huge, "int32")).toThrow(/out of int32 range/);
  });

  it("toDTypeArray returns a fresh array", () => {
    const t: SafeTensor = { dtype: "I32", shape: [2], data: new Int32Array([1, 2]) };
    const out = toDTypeArray(t, "int32");
    out[0] = 99;
    expect(t.data[0]).toBe(1);
  });
});

describe("files", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dualgrad-st-"));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("writes and reads a safetensors file, leaving no temp files", () => {
    const p = path.join(dir, "model.safetensors");
    writeSafetensors(p, sample(), { epoch: "3" });
    const file = readSafetensors(p);
    expectSameTensors(file.tensors, sample());
    expect(file.metadata).toEqual({ epoch: "3" });
    expect(fs.readdirSync(dir)).toEqual(["model.safetensors"]);
  });

  it("replaces an existing larger target fully", () => {
    const p = path.join(dir, "out.bin");
    fs.writeFileSync(p, "x".repeat(10_000));
    writeFileAtomic(p, "short");
    expect(fs.readFileSync(p, "utf8")).toBe("short");
    writeFileAtomic(p, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(p)]).toEqual([1, 2, 3]);
    writeFileAtomic(p, new Uint8Array(0));
    expect(fs.readFileSync(p).length).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(["out.bin"]);
  });

  it("keeps the permission bits of an existing target", () => {
    if (process.platform === "win32") return;
    const p = path.join(dir, "perm.bin");
    fs.writeFileSync(p, "old");
    fs.chmodSync(p, 0o600);
    writeFileAtomic(p, "new");
    expect(fs.statSync(p).mode & 0o777).toBe(0o600);
  });

  it("throws naming the path when the directory is missing", () => {
    const p = path.join(dir, "missing", "model.safetensors");
    expect(() => writeFileAtomic(p, "x")).toThrow(DualgradError);
    expect(() => writeFileAtomic(p, "x")).toThrow(`cannot write '${p}'`);
    expect(() => writeFileAtomic(p, "x")).toThrow(/does not exist/);
    expect(() => writeSafetensors(p, sample())).toThrow(p);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("throws when the target is a directory or its parent is a file", () => {
    const sub = path.join(dir, "sub");
    fs.mkdirSync(sub);
    expect(() => writeFileAtomic(sub, "x")).toThrow(/it is a directory/);
    const file = path.join(dir, "f");
    fs.writeFileSync(file, "");
    expect(() => writeFileAtomic(path.join(file, "x"), "y")).toThrow(/is not a directory/);
    expect(fs.readdirSync(dir).sort()).toEqual(["f", "sub"]);
    expect(fs.readdirSync(sub)).toEqual([]);
  });

  it("removes the temp file when the write fails", () => {
    if (process.platform === "win32" || process.getuid?.() === 0) return; // root ignores permissions
    const ro = path.join(dir, "ro");
    fs.mkdirSync(ro);
    fs.chmodSync(ro, 0o500);
    try {
      expect(() => writeFileAtomic(path.join(ro, "x.bin"), "data")).toThrow(`cannot write '${path.join(ro, "x.bin")}'`);
      expect(fs.readdirSync(ro)).toEqual([]);
    } finally {
      fs.chmodSync(ro, 0o700);
    }
  });

  it("readSafetensors: clear errors for a missing file, a directory and a corrupt file", () => {
    const missing = path.join(dir, "nope.safetensors");
    expect(() => readSafetensors(missing)).toThrow(DualgradError);
    expect(() => readSafetensors(missing)).toThrow(`safetensors: cannot read '${missing}': no such file`);
    expect(() => readSafetensors(dir)).toThrow(`cannot read '${dir}': it is a directory`);
    const bad = path.join(dir, "bad.safetensors");
    fs.writeFileSync(bad, new Uint8Array([1, 2, 3]));
    expect(() => readSafetensors(bad)).toThrow(FormatError);
    expect(() => readSafetensors(bad)).toThrow(`safetensors: ${bad}: file is 3 bytes`);
  });
});
