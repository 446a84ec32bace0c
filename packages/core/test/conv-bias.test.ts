import { afterAll, describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { getBackend, getThreads, setBackend, setThreads, wasmAvailable, warmUpThreads } from "../src/kernels/backend.js";
import { convGeometry, convPath } from "../src/kernels/conv.js";
import { execute, releaseValue, valueFrom } from "../src/execute.js";
import { ShapeError } from "../src/errors.js";
import type { DType, Value } from "../src/index.js";

/**
 * `conv2d_bias`, the one-kernel convolution with a per-channel bias that eager's Conv2d runs:
 * bitwise conv2d followed by the broadcast add of the bias as [K, 1, 1] (what the composite, and
 * so the graph, computes), on both convolution paths, both backends, both dtypes and any thread
 * count; bad biases are refused naming the op and the shapes.
 */

/** [x shape, w shape, stride, padding]: the cnn's two layers (direct path), a wide one (im2col), a strided one, an empty batch. */
const GEOMETRIES: [number[], number[], number[], number[]][] = [
  [[4, 1, 28, 28], [8, 1, 3, 3], [1, 1], [1, 1]],
  [[4, 8, 14, 14], [16, 8, 3, 3], [1, 1], [1, 1]],
  [[2, 16, 9, 9], [12, 16, 3, 3], [1, 1], [1, 1]],
  [[2, 3, 9, 7], [5, 3, 3, 2], [2, 3], [1, 0]],
  [[0, 2, 4, 4], [3, 2, 3, 3], [1, 1], [1, 1]],
];

const saved = { backend: getBackend(), threads: getThreads() };
afterAll(() => {
  setBackend(saved.backend);
  setThreads(saved.threads);
});

function random(dtype: DType, shape: number[], rand: () => number): Value {
  const n = shape.reduce((a, b) => a * b, 1);
  return valueFrom(dtype, shape, Array.from({ length: n }, () => rand() * 2 - 1));
}

/** conv2d_bias and the unfused conv2d -> add(bias as [K,1,1]) on the same operands. */
function both(dtype: DType, [xs, ws, stride, padding]: (typeof GEOMETRIES)[number], seed: number): [Value, Value] {
  const rand = mulberry32(seed);
  const x = random(dtype, xs, rand), w = random(dtype, ws, rand), b = random(dtype, [ws[0]], rand);
  const attrs = { stride, padding, dilation: [1, 1] };
  const fused = execute("conv2d_bias", [x, w, b], attrs);
  const y = execute("conv2d", [x, w], attrs);
  const b3 = valueFrom(dtype, [ws[0], 1, 1], b.data);
  const unfused = execute("add", [y, b3], {});
  [x, w, b, y, b3].forEach(releaseValue);
  return [fused, unfused];
}

const backends = wasmAvailable() ? (["wasm", "js"] as const) : (["js"] as const);

describe("conv2d_bias", () => {
  for (const backend of backends) {
    for (const threads of backend === "wasm" ? [1, 2] : [1]) {
      it(`is bitwise conv2d then the broadcast bias add (${backend}, ${threads} thread${threads > 1 ? "s" : ""}, float32 and float64)`, async () => {
        setBackend(backend);
        setThreads(threads);
        if (threads > 1) await warmUpThreads();
        GEOMETRIES.forEach((geo, gi) => {
          for (const dtype of ["float32", "float64"] as const) {
            const [fused, unfused] = both(dtype, geo, 10 + gi);
            expect(fused.shape).toEqual(unfused.shape);
            expect(Array.from(fused.data), `${dtype} ${JSON.stringify(geo)}`).toEqual(Array.from(unfused.data));
            [fused, unfused].forEach(releaseValue);
          }
        });
      });
    }
  }

  it.skipIf(!wasmAvailable())("covers both convolution paths with the cnn's layers on the direct one", () => {
    setBackend("wasm");
    const paths = GEOMETRIES.slice(0, 4).map(([xs, ws, stride, padding]) => convPath("forward", convGeometry(xs, ws, { stride, padding, dilation: [1, 1] }), "float32"));
    expect(paths.slice(0, 2)).toEqual(["direct", "direct"]);
    expect(paths).toContain("im2col");
  });

  it("is computed again (not served stale) when the same layer sees new values", () => {
    setBackend(wasmAvailable() ? "wasm" : "js");
    for (let seed = 1; seed <= 3; seed++) {
      const [fused, unfused] = both("float32", GEOMETRIES[1], seed);
      expect(Array.from(fused.data)).toEqual(Array.from(unfused.data));
      [fused, unfused].forEach(releaseValue);
    }
  });

  it("refuses a bias that is not one value per output channel of the input's dtype, naming conv2d (the op users call) and the shapes", () => {
    const x = valueFrom("float32", [1, 2, 4, 4], new Float32Array(32));
    const w = valueFrom("float32", [3, 2, 3, 3], new Float32Array(54));
    const attrs = { stride: [1, 1], padding: [1, 1], dilation: [1, 1] };
    for (const [dtype, shape] of [["float32", [4]], ["float32", [3, 1, 1]], ["float64", [3]], ["float32", []]] as [DType, number[]][]) {
      const b = valueFrom(dtype, shape, new Array(shape.reduce((a, c) => a * c, 1)).fill(0));
      expect(() => execute("conv2d_bias", [x, w, b], attrs)).toThrow(ShapeError);
      expect(() => execute("conv2d_bias", [x, w, b], attrs)).toThrow(/^conv2d: .*float32\[3\] bias/);
      releaseValue(b);
    }
    [x, w].forEach(releaseValue);
  });
});
