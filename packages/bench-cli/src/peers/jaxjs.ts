import type { Array as JaxArray } from "@jax-js/jax";
import { syntheticBatch } from "../datasets/synthetic.js";
import { batchInputShape, hiddenActivation, type ModelSpec, type ModuleSpec } from "../models.js";
import type { PeerResult } from "../report/types.js";
import { timeSteps, type MeasureOptions } from "../runners/timing.js";
import { PeerUnavailableError, summarize } from "./shared.js";

type Jax = typeof import("@jax-js/jax");

/** Parameter shapes in jax-js's layouts (linear [in, out], conv [out, in, kh, kw]) with their fan-in, in module order. */
function parameterShapes(spec: ModelSpec): { shape: number[]; fanIn: number }[] {
  if (!spec.modules) {
    return spec.layers.slice(0, -1).flatMap((inF, i) => [{ shape: [inF, spec.layers[i + 1]], fanIn: inF }, { shape: [spec.layers[i + 1]], fanIn: inF }]);
  }
  return spec.modules.flatMap((m) => {
    if (m.type === "conv2d") {
      const fanIn = m.in_channels * m.kernel_size[0] * m.kernel_size[1];
      return [{ shape: [m.out_channels, m.in_channels, ...m.kernel_size], fanIn }, { shape: [m.out_channels], fanIn }];
    }
    if (m.type === "linear") return [{ shape: [m.in_features, m.out_features], fanIn: m.in_features }, { shape: [m.out_features], fanIn: m.in_features }];
    return [];
  });
}

/**
 * A module list in jax-js: `lax.conv` (NCHW, as PyTorch) with explicit padding; max pooling with
 * non-overlapping windows as a reshape and a max over the window axes (jax-js's `reduceWindow`
 * takes no padding, and the workloads only pool 2x2 with stride 2); no average pooling.
 */
function moduleForward(jax: Jax, modules: ModuleSpec[], activate: (h: JaxArray, act: "relu" | "tanh" | "sigmoid" | null) => JaxArray): (p: JaxArray[], x: JaxArray) => JaxArray {
  const { numpy: np, lax } = jax;
  let at = 0;
  const stages = modules.map((m): ((p: JaxArray[], h: JaxArray) => JaxArray) => {
    switch (m.type) {
      case "conv2d": {
        const i = at;
        at += 2;
        const pad = [[m.padding[0], m.padding[0]], [m.padding[1], m.padding[1]]] as [number, number][];
        return (p, h) => lax.conv(h, p[i], m.stride, pad).add(p[i + 1].reshape([-1, 1, 1]));
      }
      case "linear": {
        const i = at;
        at += 2;
        return (p, h) => np.dot(h, p[i]).add(p[i + 1]);
      }
      case "max_pool2d": {
        const [kh, kw] = m.kernel_size;
        if (m.stride[0] !== kh || m.stride[1] !== kw || m.padding?.some((v) => v > 0)) {
          throw new PeerUnavailableError("peer jax-js skipped: max pooling with overlapping or padded windows is not mapped to jax-js");
        }
        return (_p, h) => {
          const [b, c, hh, ww] = h.shape;
          return h.reshape([b, c, Math.floor(hh / kh), kh, Math.floor(ww / kw), kw]).max([3, 5]);
        };
      }
      case "avg_pool2d":
        throw new PeerUnavailableError("peer jax-js skipped: average pooling is not mapped to jax-js");
      case "flatten":
        return (_p, h) => h.reshape([h.shape[0], -1]);
      default: {
        const act = m.type;
        return (_p, h) => activate(h, act);
      }
    }
  });
  return (p, x) => stages.reduce((h, f) => f(p, h), x);
}

/**
 * jax-js (`@jax-js/jax`) as its README and MNIST demo use it: parameters are a JsTree, the whole
 * training step (`valueAndGrad` of the loss, then the SGD update p - lr * g) is one `jit`-compiled
 * function, arrays follow its move semantics (`.ref` / `tree.ref` where a value is used again),
 * on the `wasm` device (the only one on Node). The loss is read back with `dataSync()` each step.
 */
export async function measureJaxjs(spec: ModelSpec, options: MeasureOptions, versions: Record<string, string>): Promise<PeerResult> {
  const jax = await import("@jax-js/jax");
  const { numpy: np, nn, random, tree } = jax;
  try {
    const devices = await jax.init("wasm");
    if (!devices.includes("wasm")) throw new Error(`wasm device not available (got ${devices.join(", ") || "none"})`);
    jax.defaultDevice("wasm");
  } catch (err) {
    throw new PeerUnavailableError(`peer jax-js skipped: it could not start on Node ${process.versions.node}: ${err instanceof Error ? err.message : String(err)}`);
  }

  // PyTorch-default init U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias, from jax-js's own RNG.
  const shapes = parameterShapes(spec);
  const keys = random.split(random.key(options.seed), shapes.length);
  let params: JaxArray[] = shapes.map(({ fanIn, shape }, i) => random.uniform(keys.ref.slice(i), shape, { minval: -1 / Math.sqrt(fanIn), maxval: 1 / Math.sqrt(fanIn) }));
  keys.dispose();

  const data = syntheticBatch(spec, spec.batch, options.seed);
  const n = data.xShape[0];
  const classes = spec.layers[spec.layers.length - 1];
  const x = np.array(Float32Array.from(data.x)).reshape(batchInputShape(spec, n));
  const y = spec.loss === "ce" ? np.array(Int32Array.from(data.y), { dtype: np.int32 }) : np.array(Float32Array.from(data.y)).reshape(data.yShape);

  const activate = (h: JaxArray, act: "relu" | "tanh" | "sigmoid" | null): JaxArray => {
    if (act === "relu") return nn.relu(h);
    if (act === "tanh") return np.tanh(h);
    if (act === "sigmoid") return nn.sigmoid(h);
    return h;
  };
  const forward = spec.modules ? moduleForward(jax, spec.modules, activate) : (p: JaxArray[], x: JaxArray) => {
    let h = x;
    for (let i = 0; 2 * i < p.length; i++) h = activate(np.dot(h, p[2 * i]).add(p[2 * i + 1]), hiddenActivation(spec, i));
    return h;
  };
  const lossFn = (p: JaxArray[], x: JaxArray, y: JaxArray): JaxArray => {
    const h = forward(p, x);
    if (spec.loss === "ce") return nn.logSoftmax(h).mul(nn.oneHot(y, classes)).sum().mul(-1 / n);
    return np.square(h.sub(y)).mean();
  };
  const lr = spec.lr;
  // SGD, with PyTorch's momentum buffer (v = mu v + g; p -= lr v) where the spec asks for it.
  const mu = spec.optimizer === "momentum" ? (spec.momentum ?? 0.9) : 0;
  let velocity: JaxArray[] = params.map((p) => np.zerosLike(p.ref));
  const trainStep = jax.jit((p: JaxArray[], v: JaxArray[], x: JaxArray, y: JaxArray): [JaxArray[], JaxArray[], JaxArray] => {
    const [loss, grads] = jax.valueAndGrad(lossFn)(tree.ref(p), x, y);
    const nextV = mu === 0 ? grads : (tree.map((vi: JaxArray, g: JaxArray) => vi.mul(mu).add(g), v, grads) as JaxArray[]);
    const next = tree.map((w: JaxArray, vi: JaxArray) => w.sub(vi.mul(lr)), p, tree.ref(nextV)) as JaxArray[];
    return [next, nextV, loss];
  });

  const step = (): number => {
    const [next, nextV, loss] = trainStep(params, velocity, x.ref, y.ref);
    params = next;
    velocity = nextV;
    return loss.dataSync()[0];
  };
  const run = timeSteps(step, options);
  const threads = typeof (globalThis as { Worker?: unknown }).Worker === "function" ? "Web Worker pool" : "single-threaded (Node has no global Worker)";
  const result = summarize("jax-js", spec, options, run, {
    packages: versions,
    backend: "wasm",
    detail: `jit(valueAndGrad(loss) + SGD update) on the wasm device, ${threads}`,
  });
  tree.dispose(params);
  tree.dispose(velocity);
  x.dispose();
  y.dispose();
  trainStep.dispose();
  return result;
}
