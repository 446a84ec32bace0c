import type { Array as JaxArray } from "@jax-js/jax";
import { syntheticBatch } from "../datasets/synthetic.js";
import { hiddenActivation, type ModelSpec } from "../models.js";
import type { PeerResult } from "../report/types.js";
import { timeSteps, type MeasureOptions } from "../runners/timing.js";
import { PeerUnavailableError, summarize } from "./shared.js";

/** One Linear layer, weight in [in, out] layout (x @ w + b). */
type Layer = { w: JaxArray; b: JaxArray };

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

  // PyTorch-default init U(-1/sqrt(in), 1/sqrt(in)) for weight and bias, from jax-js's own RNG.
  const L = spec.layers.length - 1;
  const keys = random.split(random.key(options.seed), 2 * L);
  let params: Layer[] = [];
  for (let i = 0; i < L; i++) {
    const a = 1 / Math.sqrt(spec.layers[i]);
    const range = { minval: -a, maxval: a };
    params.push({
      w: random.uniform(keys.ref.slice(2 * i), [spec.layers[i], spec.layers[i + 1]], range),
      b: random.uniform(keys.ref.slice(2 * i + 1), [spec.layers[i + 1]], range),
    });
  }
  keys.dispose();

  const data = syntheticBatch(spec, spec.batch, options.seed);
  const n = data.xShape[0];
  const classes = spec.layers[L];
  const x = np.array(Float32Array.from(data.x)).reshape(data.xShape);
  const y = spec.loss === "ce" ? np.array(Int32Array.from(data.y), { dtype: np.int32 }) : np.array(Float32Array.from(data.y)).reshape(data.yShape);

  const activate = (h: JaxArray, i: number): JaxArray => {
    const act = hiddenActivation(spec, i);
    if (act === "relu") return nn.relu(h);
    if (act === "tanh") return np.tanh(h);
    if (act === "sigmoid") return nn.sigmoid(h);
    return h;
  };
  const lossFn = (p: Layer[], x: JaxArray, y: JaxArray): JaxArray => {
    let h = x;
    for (let i = 0; i < p.length; i++) h = activate(np.dot(h, p[i].w).add(p[i].b), i);
    if (spec.loss === "ce") return nn.logSoftmax(h).mul(nn.oneHot(y, classes)).sum().mul(-1 / n);
    return np.square(h.sub(y)).mean();
  };
  const lr = spec.lr;
  const trainStep = jax.jit((p: Layer[], x: JaxArray, y: JaxArray): [Layer[], JaxArray] => {
    const [loss, grads] = jax.valueAndGrad(lossFn)(tree.ref(p), x, y);
    const next = tree.map((w: JaxArray, g: JaxArray) => w.sub(g.mul(lr)), p, grads) as Layer[];
    return [next, loss];
  });

  const step = (): number => {
    const [next, loss] = trainStep(params, x.ref, y.ref);
    params = next;
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
  x.dispose();
  y.dispose();
  trainStep.dispose();
  return result;
}
