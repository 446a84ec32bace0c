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
  // TF.js 4.22's wasm backend has convolution forward kernels but not their gradients.
  const missing = ["Conv2DBackpropFilter", "Conv2DBackpropInput", "MaxPoolGrad", "AvgPoolGrad"].filter((k) => !tf.getKernel(k, tf.getBackend()));
  if (spec.modules?.some((m) => m.type === "conv2d" || m.type.endsWith("pool2d")) && missing.length > 0) {
    throw new PeerUnavailableError(`peer ${peer} skipped for ${spec.id}: TF.js's ${backend} backend has no ${missing.join(", ")} kernel(s), so it cannot train convolutions`);
  }

  const base = tf.memory().numBytes;
  const data = syntheticBatch(spec, spec.batch, options.seed);
  const model = buildModel(tf, spec, options.seed);
  const vars = model.vars;
  const L = spec.layers.length - 1;
  const x = spec.inputShape
    ? tf.tidy(() => tf.transpose(tf.tensor4d(Float32Array.from(data.x), [data.xShape[0], ...spec.inputShape!] as [number, number, number, number]), [0, 2, 3, 1]))
    : tf.tensor2d(Float32Array.from(data.x), data.xShape);
  const y: Tensor =
    spec.loss === "ce"
      ? tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(data.y), "int32"), spec.layers[L]), "float32"))
      : tf.tensor2d(Float32Array.from(data.y), [data.yShape[0], data.yShape[1]]);

  const lossFn = (): Scalar => {
    const h = model.forward(x);
    return spec.loss === "ce" ? tf.losses.softmaxCrossEntropy(y, h) : tf.losses.meanSquaredError(y, h);
  };
  const optimizer = spec.optimizer === "momentum" ? tf.train.momentum(spec.lr, spec.momentum ?? 0.9) : tf.train.sgd(spec.lr);
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

type TF = typeof import("@tensorflow/tfjs-core");

/** TF.js's activation for a name (none for null). */
function activate(tf: TF, h: Tensor, act: "relu" | "tanh" | "sigmoid" | null): Tensor {
  return act === "relu" ? tf.relu(h) : act === "tanh" ? tf.tanh(h) : act === "sigmoid" ? tf.sigmoid(h) : h;
}

/**
 * The spec's model as TF.js variables and a forward function, with PyTorch's default init law
 * U(±1/sqrt(fan_in)) for weights and biases from TF.js's own seeded RNG. Linear weights are
 * [in, out] (x @ w); a module list (the `cnn` workload) runs channels-last, TF.js's native layout
 * (NHWC input, filters [kh, kw, in, out], `same`/`valid` padding as the spec's padding gives):
 * the same model up to a permutation of the weights.
 */
function buildModel(tf: TF, spec: ModelSpec, seed: number): { vars: Variable[]; forward: (x: Tensor) => Tensor } {
  const vars: Variable[] = [];
  const uniform = (shape: number[], fanIn: number) => {
    const a = 1 / Math.sqrt(fanIn);
    const v = tf.variable(tf.randomUniform(shape, -a, a, "float32", seed * 1009 + vars.length), true, `v${vars.length}`);
    vars.push(v);
    return v;
  };
  if (!spec.modules) {
    const layers = spec.layers.slice(0, -1).map((inF, i) => ({ w: uniform([inF, spec.layers[i + 1]], inF), b: uniform([spec.layers[i + 1]], inF) }));
    return {
      vars,
      forward: (x) => layers.reduce((h, l, i) => activate(tf, tf.add(tf.matMul(h, l.w), l.b), hiddenActivation(spec, i)), x),
    };
  }
  const stages: ((h: Tensor) => Tensor)[] = spec.modules.map((m) => {
    switch (m.type) {
      case "conv2d": {
        const [kh, kw] = m.kernel_size;
        const fanIn = m.in_channels * kh * kw;
        const w = uniform([kh, kw, m.in_channels, m.out_channels], fanIn);
        const b = uniform([m.out_channels], fanIn);
        const pad = [[0, 0], [m.padding[0], m.padding[0]], [m.padding[1], m.padding[1]], [0, 0]] as [number, number][];
        return (h) => tf.add(tf.conv2d(h as never, w as never, m.stride, pad as never), b);
      }
      case "max_pool2d":
        return (h) => tf.maxPool(h as never, m.kernel_size, m.stride, m.padding?.some((p) => p > 0) ? "same" : "valid");
      case "avg_pool2d":
        return (h) => tf.avgPool(h as never, m.kernel_size, m.stride, m.padding?.some((p) => p > 0) ? "same" : "valid");
      case "flatten":
        return (h) => tf.reshape(h, [h.shape[0], -1]);
      case "linear": {
        const w = uniform([m.in_features, m.out_features], m.in_features);
        const b = uniform([m.out_features], m.in_features);
        return (h) => tf.add(tf.matMul(h as never, w), b);
      }
      default: {
        const act = m.type;
        return (h) => activate(tf, h, act);
      }
    }
  });
  return { vars, forward: (x) => stages.reduce((h, f) => f(h), x) };
}
