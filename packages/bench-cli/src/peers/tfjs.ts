import * as nodeModule from "node:module";
import { dirname, join, sep } from "node:path";
import { pathToFileURL } from "node:url";
import type { Scalar, Tensor, Variable } from "@tensorflow/tfjs-core";
import { syntheticBatch } from "../datasets/synthetic.js";
import { hiddenActivation, type ModelSpec } from "../models.js";
import type { PeerResult } from "../report/types.js";
import { timeSteps, type MeasureOptions } from "../runners/timing.js";
import { PeerUnavailableError, packageInfo, summarize } from "./shared.js";

/**
 * tfjs-core's gradient definitions (`dist/register_all_gradients.js`) are only shipped as ES
 * modules with extensionless relative imports inside a package without `"type": "module"`, which
 * plain Node cannot load; the `@tensorflow/tfjs` umbrella bundles them, but it also pulls in
 * core-js, whose install script our pnpm policy refuses. These loader hooks let Node load
 * exactly those files (add `.js`, read them as ESM); the gradients register into TF.js's global
 * registry, shared with the CommonJS build the backends use.
 */
const GRADIENT_HOOKS = `
const inCore = (u) => typeof u === "string" && u.includes("/@tensorflow/tfjs-core/dist/") && !u.endsWith(".node.js");
export async function resolve(s, c, next) {
  if (inCore(c.parentURL) && s.startsWith(".") && !s.endsWith(".js")) return next(s + ".js", c);
  return next(s, c);
}
export async function load(u, c, next) {
  if (inCore(u) && u.endsWith(".js")) return next(u, { ...c, format: "module" });
  return next(u, c);
}`;

let gradientsLoaded = false;

/** Registers tfjs-core's gradients (what `@tensorflow/tfjs` does on import). */
async function registerGradients(): Promise<void> {
  if (gradientsLoaded) return;
  const register = (nodeModule as { register?: (specifier: string) => void }).register;
  if (typeof register !== "function") {
    throw new PeerUnavailableError(`TF.js peers skipped: loading tfjs-core's gradients needs node:module register (Node >= 20.6; this is ${process.versions.node})`);
  }
  const core = packageInfo("@tensorflow/tfjs-core");
  if (!core) throw new PeerUnavailableError("TF.js peers skipped: @tensorflow/tfjs-core not installed");
  register(`data:text/javascript,${encodeURIComponent(GRADIENT_HOOKS)}`);
  await import(pathToFileURL(join(dirname(core.entry), "register_all_gradients.js")).href);
  gradientsLoaded = true;
}

/**
 * TF.js as its guides use it: `tf.variable` parameters, `tf.train.sgd(lr).minimize(loss, true,
 * vars)` inside `tf.tidy` (no tensor leaks across steps), `tf.losses.meanSquaredError` /
 * `tf.losses.softmaxCrossEntropy` (labels one-hot encoded once, before timing), production mode
 * on. Backends: `cpu` (plain JS kernels) or `wasm` (XNNPACK; the SIMD binary, loaded from the
 * package's dist folder with `setWasmPaths`; threads only where the platform allows them).
 * The loss is read back with `dataSync()` each step.
 */
export async function measureTfjs(backend: "cpu" | "wasm", spec: ModelSpec, options: MeasureOptions, versions: Record<string, string>): Promise<PeerResult> {
  const peer = backend === "cpu" ? "tfjs-cpu" : "tfjs-wasm";
  const tf = await import("@tensorflow/tfjs-core");
  await registerGradients();
  await import("@tensorflow/tfjs-backend-cpu");
  let detail = "plain JS kernels, single thread";
  if (backend === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    const info = packageInfo("@tensorflow/tfjs-backend-wasm");
    if (!info) throw new PeerUnavailableError("peer tfjs-wasm skipped: @tensorflow/tfjs-backend-wasm not installed");
    wasm.setWasmPaths(`${dirname(info.entry)}${sep}`);
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    if (!(await tf.setBackend("wasm"))) throw new PeerUnavailableError("peer tfjs-wasm skipped: the wasm backend failed to initialise");
    const binary = `tfjs-backend-wasm${threads ? "-threaded" : ""}${simd ? "-simd" : ""}.wasm`;
    detail = `${binary}, XNNPACK, ${wasm.getThreadsCount()} thread(s)`;
  } else if (!(await tf.setBackend("cpu"))) {
    throw new PeerUnavailableError("peer tfjs-cpu skipped: the cpu backend failed to initialise");
  }
  await tf.ready();
  tf.enableProdMode();

  const base = tf.memory().numBytes;
  // PyTorch-default init U(-1/sqrt(in), 1/sqrt(in)) for weight and bias, from TF.js's own seeded RNG.
  const L = spec.layers.length - 1;
  const vars: Variable[] = [];
  for (let i = 0; i < L; i++) {
    const a = 1 / Math.sqrt(spec.layers[i]);
    vars.push(tf.variable(tf.randomUniform([spec.layers[i], spec.layers[i + 1]], -a, a, "float32", options.seed * 1009 + 2 * i), true, `w${i}`));
    vars.push(tf.variable(tf.randomUniform([spec.layers[i + 1]], -a, a, "float32", options.seed * 1009 + 2 * i + 1), true, `b${i}`));
  }
  const data = syntheticBatch(spec, spec.batch, options.seed);
  const x = tf.tensor2d(Float32Array.from(data.x), data.xShape);
  const y: Tensor =
    spec.loss === "ce"
      ? tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(data.y), "int32"), spec.layers[L]), "float32"))
      : tf.tensor2d(Float32Array.from(data.y), [data.yShape[0], data.yShape[1]]);

  const lossFn = (): Scalar => {
    let h: Tensor = x;
    for (let i = 0; i < L; i++) {
      h = tf.add(tf.matMul(h, vars[2 * i]), vars[2 * i + 1]);
      const act = hiddenActivation(spec, i);
      if (act === "relu") h = tf.relu(h);
      else if (act === "tanh") h = tf.tanh(h);
      else if (act === "sigmoid") h = tf.sigmoid(h);
    }
    return spec.loss === "ce" ? tf.losses.softmaxCrossEntropy(y, h) : tf.losses.meanSquaredError(y, h);
  };
  const optimizer = tf.train.sgd(spec.lr);
  const step = (): number => {
    const cost = tf.tidy(() => optimizer.minimize(lossFn, true, vars) as Scalar);
    const value = cost.dataSync()[0];
    cost.dispose();
    return value;
  };

  const run = timeSteps(step, options);
  const dataBytes = (x.size + y.size) * 4;
  // Parameters, the optimizer's learning-rate scalar, anything leaked (not the batch).
  const liveTensorBytes = tf.memory().numBytes - base - dataBytes;
  // One more (untimed) step under tf.profile for TF.js's own tensor accounting.
  const prof = await tf.profile(() => step());
  const result = summarize(peer, spec, options, run, { packages: versions, backend, detail: `${detail}; optimizer.minimize in tf.tidy, prod mode` }, {
    peakTensorBytes: prof.peakBytes,
    liveTensorBytes,
    allocationsPerStep: prof.kernels.reduce((s, k) => s + k.outputShapes.length, 0),
    kernelLaunchesPerStep: prof.kernels.length,
  });
  tf.dispose([...vars, x, y]);
  optimizer.dispose();
  return result;
}
