import { afterAll, describe, expect, it } from "vitest";
import { mulberry32 } from "./helpers.js";
import { getBackend, getThreads, setBackend, setThreads, wasmAvailable, warmUpThreads } from "../src/kernels/backend.js";
import { workerStats } from "../src/kernels/wasm/threads.js";
import {
  conv2dFast, conv2dGradInputFast, conv2dGradInputReference, conv2dGradWeightFast, conv2dGradWeightReference, conv2dReference,
  convGeometry, convPath, type ConvGeometry, type ConvKernelKind, type ConvPath,
} from "../src/kernels/conv.js";
import { releaseValue, valueFrom } from "../src/execute.js";

type Data = Float32Array | Float64Array;
type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

/** [x shape, w shape, stride, padding, dilation]: the op-cases geometries, the cnn's (small batch), and edge cases. */
const GEOMETRIES: [number[], number[], number[], number[], number[]][] = [
  [[2, 3, 5, 5], [4, 3, 3, 3], [1, 1], [1, 1], [1, 1]],
  [[1, 2, 6, 5], [3, 2, 2, 3], [2, 1], [0, 1], [1, 1]], // stride along the height only: direct still applies
  [[2, 1, 7, 6], [2, 1, 3, 2], [2, 3], [1, 0], [2, 1]], // stride along the width: im2col only
  [[1, 1, 3, 3], [1, 1, 1, 1], [1, 1], [0, 0], [1, 1]],
  [[3, 2, 4, 4], [1, 2, 4, 4], [1, 1], [0, 0], [1, 1]],
  [[3, 1, 28, 28], [8, 1, 3, 3], [1, 1], [1, 1], [1, 1]], // cnn conv1
  [[3, 8, 14, 14], [16, 8, 3, 3], [1, 1], [1, 1], [1, 1]], // cnn conv2: OW % 4 = 2
  [[2, 3, 9, 7], [9, 3, 3, 3], [1, 1], [1, 1], [1, 1]], // K = 9: a full and a one-channel block; OW % 4 = 3
  [[2, 2, 8, 9], [3, 2, 3, 3], [1, 1], [2, 2], [2, 2]], // dilation with padding; OW % 4 = 1
  [[1, 2, 6, 6], [2, 2, 3, 3], [1, 1], [3, 3], [1, 1]], // padding wider than the kernel reaches: input grad falls back
];

const ATTRS = (s: number[], p: number[], d: number[]) => ({ stride: s, padding: p, dilation: d });

function random(ctor: Ctor, n: number, rand: () => number): Data {
  const a = new ctor(n);
  for (let i = 0; i < n; i++) a[i] = rand() * 2 - 1;
  return a;
}

/** The three kernels on one path, and their reference kernels, by kind: (a, b) -> out. */
const RUN: Record<ConvKernelKind, (a: Data, b: Data, out: Data, g: ConvGeometry, path?: ConvPath) => void> = {
  forward: conv2dFast,
  grad_input: conv2dGradInputFast,
  grad_weight: conv2dGradWeightFast,
};
const REFERENCE: Record<ConvKernelKind, (a: Data, b: Data, out: Data, g: ConvGeometry) => void> = {
  forward: conv2dReference,
  grad_input: conv2dGradInputReference,
  grad_weight: conv2dGradWeightReference,
};

/** Operand sizes (a, b, out) of each kind. */
function sizes(kind: ConvKernelKind, g: ConvGeometry): [number, number, number] {
  const x = g.B * g.C * g.H * g.W, w = g.K * g.C * g.kh * g.kw, y = g.B * g.K * g.OH * g.OW;
  return kind === "forward" ? [x, w, y] : kind === "grad_input" ? [y, w, x] : [x, y, w];
}

/** max |ours - ref| / max |ref|, NaN-aware: a NaN where the reference has none (or vice versa) counts as Infinity. */
function relError(ours: Data, ref: Data): number {
  let worst = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(ours[i]) !== Number.isNaN(ref[i])) return Infinity;
    if (Number.isNaN(ref[i])) continue;
    if (!Number.isFinite(ref[i]) || !Number.isFinite(ours[i])) {
      if (ours[i] !== ref[i]) return Infinity;
      continue;
    }
    worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale === 0 ? worst : worst / scale;
}

const KINDS: ConvKernelKind[] = ["forward", "grad_input", "grad_weight"];
const saved = { backend: getBackend(), threads: getThreads() };
afterAll(() => {
  setBackend(saved.backend);
  setThreads(saved.threads);
});

describe.skipIf(!wasmAvailable())("convolution paths on the wasm backend (float32)", () => {
  GEOMETRIES.forEach(([xs, ws, s, p, d], gi) => {
    const g = convGeometry(xs, ws, ATTRS(s, p, d));
    for (const kind of KINDS) {
      it(`${kind} x${JSON.stringify(xs)} w${JSON.stringify(ws)} s${s} p${p} d${d}: both paths match the reference`, () => {
        setBackend("wasm");
        const rand = mulberry32(gi * 7 + KINDS.indexOf(kind));
        const [na, nb, no] = sizes(kind, g);
        const a = random(Float32Array, na, rand), b = random(Float32Array, nb, rand);
        const ref = new Float32Array(no);
        REFERENCE[kind](a, b, ref, g);
        const outs = (["im2col", "direct"] as ConvPath[]).map((path) => {
          const out = new Float32Array(no).fill(NaN); // every element must be written
          RUN[kind](a, b, out, g, path);
          expect(relError(out, ref), `${path} vs reference`).toBeLessThan(1e-5);
          return out;
        });
        // The forward kernels run the same float32 operations in the same order: the same bits.
        if (kind === "forward") expect(Array.from(outs[1])).toEqual(Array.from(outs[0]));
      });
    }
    it(`x${JSON.stringify(xs)} w${JSON.stringify(ws)}: heap tensors and plain arrays, 1 and 2 threads, give the same bits`, () => {
      setBackend("wasm");
      const rand = mulberry32(100 + gi);
      for (const kind of KINDS) {
        const [na, nb, no] = sizes(kind, g);
        const a = random(Float32Array, na, rand), b = random(Float32Array, nb, rand);
        const plain = new Float32Array(no);
        setThreads(1);
        RUN[kind](a, b, plain, g, "direct");
        const [va, vb, vo] = [a, b, new Float32Array(no)].map((v, i) => valueFrom("float32", [[na, nb, no][i]], v));
        setThreads(2);
        RUN[kind](va.data as Data, vb.data as Data, vo.data as Data, g, "direct");
        expect(Array.from(vo.data), kind).toEqual(Array.from(plain));
        [va, vb, vo].forEach(releaseValue);
      }
    });
  });

  // Non-finite values in the first operand only: a NaN weight meets the padding's zeros on both
  // fast paths (0 * NaN), where the reference skips padding taps, as it always has for im2col.
  it("infinities and NaN in the input give the reference's non-finite pattern on the direct path", () => {
    setBackend("wasm");
    // OW = 6: the last vector of each row is partial, so the weight gradient masks two lanes.
    const g = convGeometry([2, 2, 5, 6], [3, 2, 3, 3], ATTRS([1, 1], [1, 1], [1, 1]));
    const rand = mulberry32(9);
    for (const kind of KINDS) {
      const [na, nb, no] = sizes(kind, g);
      const a = random(Float32Array, na, rand), b = random(Float32Array, nb, rand);
      a[5] = Infinity;
      a[na - 1] = -Infinity;
      a[7] = NaN;
      const ref = new Float32Array(no), out = new Float32Array(no);
      REFERENCE[kind](a, b, ref, g);
      RUN[kind](a, b, out, g, "direct");
      expect(relError(out, ref), kind).toBeLessThan(1e-5);
    }
  });

  it("large direct kernels share their chunks with the worker threads, with the one-thread bits", async () => {
    setBackend("wasm");
    setThreads(2);
    await warmUpThreads();
    // 8 images of the cnn's conv2: 1.8M multiply-adds per kernel, above the sharing threshold.
    const g = convGeometry([8, 8, 14, 14], [16, 8, 3, 3], ATTRS([1, 1], [1, 1], [1, 1]));
    const rand = mulberry32(77);
    for (const kind of KINDS) {
      const [na, nb, no] = sizes(kind, g);
      const [a, b] = [na, nb].map((n, i) => valueFrom("float32", [n], random(Float32Array, n, rand)));
      const one = new Float32Array(no), two = valueFrom("float32", [no], new Float32Array(no));
      setThreads(1);
      RUN[kind](a.data as Data, b.data as Data, one, g, "direct");
      setThreads(2);
      const before = workerStats().workerChunks;
      // The worker may still be asleep for the first job: repeat until it has taken a chunk.
      for (let i = 0; i < 50 && workerStats().workerChunks === before; i++) RUN[kind](a.data as Data, b.data as Data, two.data as Data, g, "direct");
      expect(workerStats().workerChunks, kind).toBeGreaterThan(before);
      expect(Array.from(two.data), kind).toEqual(Array.from(one));
      [a, b, two].forEach(releaseValue);
    }
  });

  it("convPath: direct for the cnn's shapes, im2col where the gemm has enough to chew on or the width stride is not 1", () => {
    setBackend("wasm");
    const conv = (x: number[], w: number[], s = [1, 1]) => convGeometry(x, w, ATTRS(s, [1, 1], [1, 1]));
    const conv1 = conv([64, 1, 28, 28], [8, 1, 3, 3]);
    const conv2 = conv([64, 8, 14, 14], [16, 8, 3, 3]);
    const wide = conv([16, 64, 7, 7], [128, 64, 3, 3]);
    for (const kind of KINDS) {
      expect(convPath(kind, conv1, "float32"), kind).toBe("direct");
      expect(convPath(kind, conv2, "float32"), kind).toBe("direct");
      expect(convPath(kind, wide, "float32"), kind).toBe("im2col");
      expect(convPath(kind, conv([2, 1, 9, 9], [2, 1, 3, 3], [1, 2]), "float32"), kind).toBe("im2col");
      expect(convPath(kind, conv1, "float64"), kind).toBe("im2col");
    }
    setBackend("js");
    for (const kind of KINDS) expect(convPath(kind, conv1, "float32"), kind).toBe("im2col");
  });
});

describe("convolution paths on the js backend and in float64: im2col, bitwise equal to the reference", () => {
  for (const dtype of [Float32Array, Float64Array] as Ctor[]) {
    GEOMETRIES.forEach(([xs, ws, s, p, d], gi) => {
      it(`${dtype.name} x${JSON.stringify(xs)} w${JSON.stringify(ws)} s${s} p${p} d${d}`, () => {
        setBackend("js");
        const g = convGeometry(xs, ws, ATTRS(s, p, d));
        const rand = mulberry32(200 + gi);
        for (const kind of KINDS) {
          const [na, nb, no] = sizes(kind, g);
          const a = random(dtype, na, rand), b = random(dtype, nb, rand);
          const ref = new dtype(no), chosen = new dtype(no);
          REFERENCE[kind](a, b, ref, g);
          expect(convPath(kind, g, dtype === Float32Array ? "float32" : "float64")).toBe("im2col");
          RUN[kind](a, b, chosen, g);
          expect(Array.from(chosen), kind).toEqual(Array.from(ref));
        }
      });
    });
  }
});
