import {
  DualgradError, FormatError, PhiloxGenerator, listNames, defaultGenerator, formatShape, readSafetensors, safeDTypeOf, shapesEqual, toDTypeArray, writeSafetensors,
  type SafeTensor, type TypedArray,
} from "@dualgrad/core";
import { fn, type GraphFunction } from "../function.js";
import { HostTensor, isTensorData, type TensorData } from "../host-tensor.js";
import type { GraphOptimizer } from "../optimizers.js";
import { SymbolicTensor } from "../symbolic.js";
import type { Variable } from "../variable.js";
import { Dataset } from "../data/dataset.js";
import { EpochMeans, RowGatherer, batchRanges, checkBatchSize, rangeIndices, shuffledIndices, withDType } from "./batching.js";
import type { Loss } from "../losses.js";
import { resolveLoss, resolveOptimizer, type LossName, type OptimizerName, type OptimizerSpec, type ResolvedLoss } from "./compile-config.js";
import { Dense } from "./dense.js";
import { Dropout } from "./conv-layers.js";
import type { Layer } from "./layer.js";

/**
 * A Keras `Sequential` model on the graph frontend. Everything that touches tensors runs as a
 * compiled graph: one training step per batch shape (forward, loss, backward and the optimizer's
 * in-graph update in a single `fn`), one loss/accuracy function for evaluation and one forward
 * for prediction. Only batching, shuffling and bookkeeping run on the host.
 */

/** Options of {@link sequential}. */
export interface SequentialOptions {
  /** Seed of the initial weights: `new PhiloxGenerator(seed)`, drawn layer by layer, weight then bias. Default: core's `defaultGenerator` (so `manualSeed` works as in PyTorch). */
  seed?: number;
  /** Parameter dtype (default float32). */
  dtype?: "float32" | "float64";
  /** Model name shown by `summary()` (default `sequential`, `sequential_1`, ...). */
  name?: string;
}

/** Arguments of {@link Sequential.compile}. */
export interface CompileArgs {
  /** A GraphOptimizer instance, `'sgd'` (lr 0.01) / `'adam'` (lr 0.001), or Keras's `{ className, config }`. */
  optimizer: GraphOptimizer | OptimizerName | OptimizerSpec;
  /**
   * The loss: a name (with `'sparseCategoricalCrossentropy'` the last layer's outputs are logits)
   * or a loss object such as `new losses.BinaryCrossentropy({ fromLogits: true })`. Accuracy is
   * reported for sparse categorical cross-entropy.
   */
  loss: LossName | Loss;
}

/** Per-epoch metrics passed to `onEpochEnd` (Keras's `logs`). */
export interface EpochLogs {
  /** Mean training loss over the epoch's samples (each batch's loss is taken before its update, as Keras does). */
  loss: number;
  /** Validation loss (with `validationSplit > 0`). */
  valLoss?: number;
  /** Training accuracy (sparse categorical cross-entropy only). */
  acc?: number;
  /** Validation accuracy (sparse categorical cross-entropy with a validation split). */
  valAcc?: number;
}

/** Options of {@link Sequential.fit}. */
export interface FitArgs {
  /** Passes over the training data (default 1). */
  epochs?: number;
  /** Samples per step (default 32); a shorter last batch gets its own trace. */
  batchSize?: number;
  /** Reshuffle the training rows every epoch (default true). */
  shuffle?: boolean;
  /** Fraction of the rows, taken from the END before shuffling (as Keras), held out for validation (default 0). */
  validationSplit?: number;
  /** Called after each epoch with 0-based epoch index and the epoch's logs; awaited if it returns a promise. */
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void | Promise<void>;
  /** Seed for this call's shuffling (default: a model-owned generator, so runs are reproducible). */
  seed?: number;
}

/** Options of {@link Sequential.fit} on a {@link Dataset}. */
export interface DatasetFitArgs {
  /** Passes over the dataset (default 1). */
  epochs?: number;
  /** Batches per epoch, drawn from one iterator that continues across epochs (default: one full iteration per epoch). */
  stepsPerEpoch?: number;
  /** As {@link FitArgs.onEpochEnd}. */
  onEpochEnd?: FitArgs["onEpochEnd"];
}

/** A dataset element `fit` trains on: a batch `[x, y]`, `{ x, y }` or TF.js's `{ xs, ys }`. */
export type FitBatch = readonly [TensorData, TensorData] | { readonly x: TensorData; readonly y: TensorData } | { readonly xs: TensorData; readonly ys: TensorData };

/** Metric series per epoch, keyed like {@link EpochLogs}. */
export interface HistoryRecord {
  loss: number[];
  valLoss?: number[];
  acc?: number[];
  valAcc?: number[];
}

/** What {@link Sequential.fit} resolves to, shaped like TF.js's `History`. */
export interface History {
  /** The epoch indices run (0-based). */
  epoch: number[];
  /** The metrics of every epoch. */
  history: HistoryRecord;
}

/** Result of {@link Sequential.evaluate}. */
export interface EvaluateResult {
  /** Mean loss over all samples. */
  loss: number;
  /** Accuracy (sparse categorical cross-entropy only). */
  acc?: number;
}

/** Batched options of {@link Sequential.evaluate} and {@link Sequential.predict}. */
export interface BatchArgs {
  /** Samples per compiled call (default 32). */
  batchSize?: number;
}

let modelCount = 0;

interface Compiled {
  loss: ResolvedLoss;
  optimizer: GraphOptimizer;
  /** Whether the model created the optimizer (from a string) and so may free it on recompile. */
  ownsOptimizer: boolean;
  /** (x, y) -> [loss] or [loss, correct], with the update recorded in the graph. */
  train: GraphFunction<HostTensor[]>;
  /** (x, y) -> [loss] or [loss, correct], no updates. */
  evaluate: GraphFunction<HostTensor[]>;
}

/** A linear stack of layers (dense, conv2d, pooling, flatten, dropout), as `tf.sequential`. Create it with {@link sequential}. */
export class Sequential {
  /** The model's name. */
  readonly name: string;
  /** The layers, in order. */
  readonly layers: readonly Layer[];
  /** Parameter dtype. */
  readonly dtype: "float32" | "float64";
  private compiled: Compiled | null = null;
  private readonly forwardFn: GraphFunction<HostTensor>;
  private readonly shuffleGen: PhiloxGenerator;
  private disposed = false;

  /** Per-sample input shape (`[features]`, or `[C, H, W]` for images). */
  readonly sampleShape: readonly number[];
  private readonly dropouts: Dropout[];

  constructor(layers: readonly Layer[], options: SequentialOptions = {}) {
    if (!Array.isArray(layers) || layers.length === 0) throw new DualgradError("sequential: expected a non-empty array of layers");
    layers.forEach((l, i) => {
      if (typeof (l as Partial<Layer>)?.outputShapeFor !== "function") {
        throw new DualgradError(`sequential: layer ${i} is not a layer created by layers.dense(...), layers.conv2d(...), layers.maxPooling2d(...), layers.flatten(...), ...`);
      }
    });
    if (new Set(layers).size !== layers.length) throw new DualgradError("sequential: the same layer object appears twice");
    const dtype = options.dtype ?? "float32";
    if (dtype !== "float32" && dtype !== "float64") throw new DualgradError(`sequential: dtype must be 'float32' or 'float64', got ${String(dtype)}`);
    const first = layers[0];
    if (first.inputShape === undefined) {
      const example = first instanceof Dense ? `layers.dense({ units: ${first.units}, inputShape: [4] })` : `inputShape: [channels, height, width]`;
      throw new DualgradError(`sequential: the first layer ('${first.name}') needs inputShape, e.g. ${example}`);
    }
    // Check every layer before building any, so a bad list leaves no half-built layers behind.
    let shape: readonly number[] = first.inputShape;
    for (const layer of layers) {
      if (layer.built) throw new DualgradError(`sequential: layer '${layer.name}' is already built (a layer can belong to one model only)`);
      shape = layer.outputShapeFor(shape, "sequential");
    }
    if (shape.length !== 1) throw new DualgradError(`sequential: the last layer ('${layers[layers.length - 1].name}') outputs ${formatShape(shape)} per sample; a model must end in [features] (add layers.flatten())`);
    this.name = options.name ?? (modelCount++ === 0 ? "sequential" : `sequential_${modelCount - 1}`);
    this.layers = [...layers];
    this.dtype = dtype;
    // One generator for all layers, in order, weight then bias: the same draws as building the
    // eager frontend's Linear layers in the same order from the same seed.
    const gen = options.seed === undefined ? defaultGenerator : new PhiloxGenerator(options.seed);
    this.sampleShape = [...first.inputShape];
    let inShape: readonly number[] = first.inputShape;
    for (const layer of this.layers) {
      layer.build(inShape, dtype, gen);
      inShape = layer.outputShapeFor(inShape, "sequential");
    }
    this.dropouts = this.layers.filter((l): l is Dropout => l instanceof Dropout);
    // A separate stream for shuffling, so shuffling never perturbs weight initialisation draws.
    this.shuffleGen = new PhiloxGenerator((options.seed ?? 0) + 0x5eed);
    this.forwardFn = fn((x: SymbolicTensor) => this.forward(x), { name: `${this.name}.predict` });
  }

  /** Input values per sample (features, or C*H*W for images: rows of x may come flat). */
  get inputSize(): number {
    return this.sampleShape.reduce((a, b) => a * b, 1);
  }

  /** Output features of the last layer. */
  get outputSize(): number {
    return this.layers[this.layers.length - 1].outputShape[1] as number;
  }

  /** Keras's output shape `[null, units]` of the model. */
  get outputShape(): [null, number] {
    return [null, this.outputSize];
  }

  /**
   * How many times the compiled training step has been traced since `compile` (one per distinct
   * batch shape: at most 2 per fit, a full batch and a shorter last one).
   */
  get traceCount(): number {
    return this.compiled?.train.traceCount ?? 0;
  }

  /** Every trainable variable, layer by layer (weight, then bias). */
  parameters(): Variable[] {
    return this.layers.flatMap((l) => l.parameters());
  }

  /** Number of scalar parameters. */
  countParams(): number {
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  /**
   * Applies every layer inside a trace. x is `[N, ...sampleShape]` or flat `[N, inputSize]`.
   * With `training`, each Dropout layer multiplies by its mask from `masks` (in layer order; see
   * {@link Dropout.maskFor}); without, dropout is the identity.
   */
  forward(x: SymbolicTensor, args: { training?: boolean; masks?: readonly SymbolicTensor[] } = {}): SymbolicTensor {
    const input = this.sampleShape.length > 1 && x.ndim === 2 ? x.reshape([-1, ...this.sampleShape]) : x;
    let m = 0;
    return this.layers.reduce((h, l) => (l instanceof Dropout ? l.apply(h, { training: args.training, mask: args.masks?.[m++] }) : l.apply(h)), input);
  }

  /**
   * The model on a batch inside a traced function (`fn`/`jit`), as Keras's `model(x)` and
   * TF.js's `model.apply(x)`: x `[B, in]` gives `[B, units]`. Use it in a custom training step
   * with a GradientTape and {@link trainableVariables}.
   */
  apply(x: SymbolicTensor, args: { training?: boolean; masks?: readonly SymbolicTensor[] } = {}): SymbolicTensor {
    this.check("apply");
    if (!(x instanceof SymbolicTensor)) {
      throw new DualgradError(`apply: model '${this.name}' takes a symbolic tensor inside fn()/jit(); for concrete data use predict(x)`);
    }
    const flat = x.ndim === 2 && x.shape[1] === this.inputSize;
    if (!flat && !(this.sampleShape.length > 1 && shapesEqual(x.shape.slice(1), this.sampleShape))) {
      throw new DualgradError(`apply: model '${this.name}' expects input [batch, ${this.sampleShape.length > 1 ? `${this.sampleShape.join(", ")}] or [batch, ` : ""}${this.inputSize}], got ${formatShape(x.shape)}`);
    }
    return this.forward(x, args);
  }

  /**
   * Keras's `model.call(x, training=...)`: {@link apply}. `training` matters only for Dropout
   * layers, which then need their masks as traced inputs (`masks`, one per Dropout layer, from
   * {@link Dropout.maskFor}); without `training` they are the identity.
   */
  call(x: SymbolicTensor, options: { training?: boolean; masks?: readonly SymbolicTensor[] } = {}): SymbolicTensor {
    return this.apply(x, options);
  }

  /** Every trainable variable, layer by layer (weight, then bias), as Keras's `model.trainable_variables`. */
  get trainableVariables(): Variable[] {
    this.check("trainableVariables");
    return this.parameters();
  }

  private check(api: string): void {
    if (this.disposed) throw new DualgradError(`${api}: model '${this.name}' was disposed`);
  }

  private requireCompiled(api: string): Compiled {
    this.check(api);
    if (!this.compiled) throw new DualgradError(`${api}: the model must be compiled first: model.compile({ optimizer: 'sgd', loss: 'mse' })`);
    return this.compiled;
  }

  /**
   * Sets the optimizer and the loss and builds (lazily traced) compiled training and evaluation
   * steps. Unknown names are a DualgradError listing the valid choices. Compiling again replaces
   * the steps (and frees an optimizer the model created from a string).
   */
  compile(args: CompileArgs): void {
    this.check("compile");
    if (typeof args !== "object" || args === null) throw new DualgradError("compile: expected { optimizer, loss }");
    const loss = resolveLoss(args.loss);
    const optimizer = resolveOptimizer(args.optimizer);
    const prev = this.compiled;
    if (prev) {
      prev.train.dispose();
      prev.evaluate.dispose();
      if (prev.ownsOptimizer && prev.optimizer !== optimizer) prev.optimizer.dispose();
    }
    const params = this.parameters();
    const outputs = (x: SymbolicTensor, y: SymbolicTensor, masks: SymbolicTensor[] = []): [SymbolicTensor, SymbolicTensor[]] => {
      const out = this.forward(x, { training: masks.length > 0, masks });
      const l = loss.fn(out, y);
      // The correct count rides along in the same graph so accuracy costs no extra pass.
      return [l, loss.sparseLabels ? [l, out.argmax({ axis: -1 }).eq(y).to("float64").sum()] : [l]];
    };
    const train = fn(
      (x: SymbolicTensor, y: SymbolicTensor, ...masks: SymbolicTensor[]) => {
        const [l, outs] = outputs(x, y, masks);
        optimizer.minimize(l, params);
        return outs;
      },
      { name: `${this.name}.trainStep` },
    ) as GraphFunction<HostTensor[]>;
    const evaluate = fn((x: SymbolicTensor, y: SymbolicTensor) => outputs(x, y)[1], { name: `${this.name}.evaluate` }) as GraphFunction<HostTensor[]>;
    this.compiled = { loss, optimizer, ownsOptimizer: optimizer !== args.optimizer, train, evaluate };
  }

  /** Validates x `[N, in]` (or `[N, C, H, W]` for image models) and returns N. */
  private checkX(api: string, x: TensorData): number {
    if (!isTensorData(x)) throw new DualgradError(`${api}: x must be a tensor (HostTensor or {shape, dtype, data})`);
    const flat = x.shape.length === 2 && x.shape[1] === this.inputSize;
    const image = this.sampleShape.length > 1 && shapesEqual(x.shape.slice(1), this.sampleShape);
    if (!flat && !image) {
      const want = this.sampleShape.length > 1 ? `[N, ${this.sampleShape.join(", ")}] or [N, ${this.inputSize}]` : `[N, ${this.inputSize}]`;
      throw new DualgradError(`${api}: x must have shape ${want}, got ${formatShape(x.shape)}`);
    }
    if (x.shape[0] === 0) throw new DualgradError(`${api}: x has no rows`);
    return x.shape[0];
  }

  /** Validates targets against N rows: int32 labels `[N]` (checked and copied) for sparse losses, else y itself. */
  private targetData(api: string, loss: ResolvedLoss, y: TensorData, n: number): TensorData {
    if (!isTensorData(y)) throw new DualgradError(`${api}: y must be a tensor (HostTensor or {shape, dtype, data})`);
    if (loss.sparseLabels) {
      const okShape = (y.shape.length === 1 && y.shape[0] === n) || (y.shape.length === 2 && y.shape[0] === n && y.shape[1] === 1);
      if (!okShape) throw new DualgradError(`${api}: sparseCategoricalCrossentropy needs integer labels of shape [${n}], got ${formatShape(y.shape)}`);
      const classes = this.outputSize;
      const labels = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = y.data[i];
        // one_hot silently gives an all-zero row for a bad label; catch it here instead.
        if (!Number.isInteger(v) || v < 0 || v >= classes) {
          throw new DualgradError(`${api}: label ${v} at index ${i} is not a class index in [0, ${classes}) (the last layer has ${classes} units)`);
        }
        labels[i] = v;
      }
      return new HostTensor([n], "int32", labels);
    }
    if (y.shape.length !== 2 || y.shape[0] !== n || y.shape[1] !== this.outputSize) {
      throw new DualgradError(`${api}: y must have shape [${n}, ${this.outputSize}] (the model's output), got ${formatShape(y.shape)}`);
    }
    return y;
  }

  /** Validates targets against N rows and returns a gatherer for them (labels checked and copied to int32). */
  private targets(api: string, loss: ResolvedLoss, y: TensorData, n: number): RowGatherer {
    const t = this.targetData(api, loss, y, n);
    return loss.sparseLabels ? new RowGatherer(t.data, 1, "int32", true) : new RowGatherer(t.data, this.outputSize, this.dtype);
  }

  /** Runs `step` over the rows `indices` in batches and returns the sample-weighted mean loss and accuracy. */
  private runBatches(
    step: GraphFunction<HostTensor[]>, xs: RowGatherer, ys: RowGatherer, indices: Int32Array, batchSize: number, sparse: boolean, training = false,
  ): { loss: number; acc?: number } {
    const means = new EpochMeans(sparse);
    for (const [start, count] of batchRanges(indices.length, batchSize)) {
      // Training steps take a fresh dropout mask per Dropout layer as extra inputs.
      const masks = training ? this.dropouts.map((d) => d.maskFor(count)) : [];
      means.add(step(xs.gather(indices, start, count), ys.gather(indices, start, count), ...masks), count);
    }
    return means.result();
  }

  /**
   * Trains for `epochs` epochs of mini-batch steps, as Keras's `fit`. The validation rows are the
   * last `validationSplit` fraction (split off before shuffling); they are scored after each epoch
   * with the compiled evaluation step (no updates). Yields to the event loop between epochs.
   */
  fit(x: TensorData, y: TensorData, args?: FitArgs): Promise<History>;
  /**
   * Trains on a {@link Dataset} of `[x, y]` (or `{ x, y }`, `{ xs, ys }`) batches, as Keras's
   * `fit(dataset)`: each epoch is one iteration of the dataset (so a shuffled dataset reshuffles),
   * or `stepsPerEpoch` batches from one iterator that runs on across epochs (for a repeated one).
   * Batching and shuffling are the dataset's; `batchSize`, `shuffle` and `validationSplit` are errors here.
   */
  fit(dataset: Dataset<FitBatch>, args?: DatasetFitArgs): Promise<History>;
  async fit(x: TensorData | Dataset<FitBatch>, yOrArgs?: TensorData | DatasetFitArgs, fitArgs: FitArgs = {}): Promise<History> {
    const c = this.requireCompiled("fit");
    if (x instanceof Dataset) {
      const args = (yOrArgs ?? {}) as DatasetFitArgs & FitArgs;
      for (const key of ["batchSize", "shuffle", "validationSplit", "seed"] as const) {
        if (args[key] !== undefined) throw new DualgradError(`fit: ${key} does not apply to a Dataset; batch and shuffle the dataset itself (dataset.shuffle(n).batch(32))`);
      }
      const steps = args.stepsPerEpoch;
      if (steps !== undefined) checkBatchSize("fit: stepsPerEpoch", steps);
      const shared = steps === undefined ? null : x[Symbol.iterator]();
      return this.epochLoop(args, c.loss.sparseLabels, false, (epoch) => this.runDataset(c, shared ?? x[Symbol.iterator](), steps, epoch));
    }
    const y = yOrArgs as TensorData;
    const args = fitArgs;
    const n = this.checkX("fit", x);
    const ys = this.targets("fit", c.loss, y, n);
    const xs = new RowGatherer(x.data, this.inputSize, this.dtype);
    const batchSize = checkBatchSize("fit", args.batchSize ?? 32);
    const split = args.validationSplit ?? 0;
    if (typeof split !== "number" || !(split >= 0 && split < 1)) throw new DualgradError(`fit: validationSplit must be in [0, 1), got ${String(split)}`);
    // Keras: split_at = floor(N * (1 - validation_split)).
    const nTrain = split > 0 ? Math.floor(n * (1 - split)) : n;
    if (nTrain === 0 || (split > 0 && nTrain === n)) {
      throw new DualgradError(`fit: validationSplit ${split} of ${n} samples leaves ${nTrain} for training and ${n - nTrain} for validation; both must be non-empty`);
    }
    const valIdx = nTrain < n ? rangeIndices(nTrain, n) : null;
    const gen = args.seed === undefined ? this.shuffleGen : new PhiloxGenerator(args.seed);
    const shuffle = args.shuffle ?? true;
    const ordered = rangeIndices(0, nTrain);
    const sparse = c.loss.sparseLabels;
    return this.epochLoop(args, sparse, valIdx !== null, () => {
      const order = shuffle ? shuffledIndices(nTrain, gen) : ordered;
      const train = this.runBatches(c.train, xs, ys, order, batchSize, sparse, true);
      const logs: EpochLogs = { ...train };
      if (valIdx) {
        const val = this.runBatches(c.evaluate, xs, ys, valIdx, batchSize, sparse);
        logs.valLoss = val.loss;
        if (sparse) logs.valAcc = val.acc;
      }
      return logs;
    });
  }

  /** Runs `runEpoch` for each epoch, recording the history and calling `onEpochEnd`; yields to the event loop between epochs. */
  private async epochLoop(args: DatasetFitArgs, sparse: boolean, validation: boolean, runEpoch: (epoch: number) => EpochLogs): Promise<History> {
    const epochs = args.epochs ?? 1;
    if (!Number.isSafeInteger(epochs) || epochs < 0) throw new DualgradError(`fit: epochs must be a non-negative integer, got ${String(epochs)}`);
    const history: History = { epoch: [], history: { loss: [] } };
    const h = history.history;
    if (sparse) h.acc = [];
    if (validation) h.valLoss = [];
    if (validation && sparse) h.valAcc = [];
    for (let epoch = 0; epoch < epochs; epoch++) {
      this.check("fit");
      const logs = runEpoch(epoch);
      history.epoch.push(epoch);
      h.loss.push(logs.loss);
      if (logs.acc !== undefined) h.acc!.push(logs.acc);
      if (logs.valLoss !== undefined) h.valLoss!.push(logs.valLoss);
      if (logs.valAcc !== undefined) h.valAcc!.push(logs.valAcc);
      await args.onEpochEnd?.(epoch, logs);
      // Let timers, I/O and UI callbacks run between epochs, as TF.js's fit does.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return history;
  }

  /** One epoch over a dataset iterator: `steps` batches, or until it ends. */
  private runDataset(c: Compiled, it: Iterator<FitBatch>, steps: number | undefined, epoch: number): EpochLogs {
    const means = new EpochMeans(c.loss.sparseLabels);
    for (let batches = 0; steps === undefined || batches < steps; batches++) {
      const next = it.next();
      if (next.done) {
        if (steps !== undefined) throw new DualgradError(`fit: the dataset ran out after ${batches} of epoch ${epoch}'s ${steps} steps (stepsPerEpoch); repeat() it`);
        break;
      }
      const [x, y] = this.datasetBatch(c, next.value);
      means.add(c.train(x, y, ...this.dropouts.map((d) => d.maskFor(x.shape[0]))), x.shape[0]);
    }
    if (means.count === 0) throw new DualgradError(`fit: the dataset gave no batches in epoch ${epoch}`);
    return means.result();
  }

  /** A dataset element as a checked `(x, y)` batch in the model's dtype. */
  private datasetBatch(c: Compiled, element: FitBatch): [TensorData, TensorData] {
    const [x, y] = Array.isArray(element) ? element : "xs" in element ? [element.xs, element.ys] : [(element as { x: TensorData }).x, (element as { y: TensorData }).y];
    if (isTensorData(x) && x.shape.length === 1) {
      throw new DualgradError(`fit: the dataset's x is a single row ${formatShape(x.shape)}; batch the dataset first (dataset.batch(32))`);
    }
    const n = this.checkX("fit", x);
    const t = this.targetData("fit", c.loss, y, n);
    return [withDType(x, this.dtype), c.loss.sparseLabels ? t : withDType(t, this.dtype)];
  }

  /** Mean loss (and accuracy for sparse categorical cross-entropy) over all rows, with the compiled evaluation step. */
  evaluate(x: TensorData, y: TensorData, args: BatchArgs = {}): EvaluateResult {
    const c = this.requireCompiled("evaluate");
    const n = this.checkX("evaluate", x);
    const ys = this.targets("evaluate", c.loss, y, n);
    const xs = new RowGatherer(x.data, this.inputSize, this.dtype);
    return this.runBatches(c.evaluate, xs, ys, rangeIndices(0, n), checkBatchSize("evaluate", args.batchSize ?? 32), c.loss.sparseLabels);
  }

  /** The model's outputs `[N, units]` for x `[N, in]`, with the compiled forward pass (no compile needed). */
  predict(x: TensorData, args: BatchArgs = {}): HostTensor {
    this.check("predict");
    const n = this.checkX("predict", x);
    const batchSize = checkBatchSize("predict", args.batchSize ?? 32);
    const xs = new RowGatherer(x.data, this.inputSize, this.dtype);
    const idx = rangeIndices(0, n);
    const w = this.outputSize;
    const out = new HostTensor([n, w], this.dtype, this.dtype === "float32" ? new Float32Array(n * w) : new Float64Array(n * w));
    for (const [start, count] of batchRanges(n, batchSize)) {
      out.data.set(this.forwardFn(xs.gather(idx, start, count)).data, start * w);
    }
    return out;
  }

  /** Prints a Keras-like table of layers, output shapes and parameter counts, then the totals, one line per `print` call. */
  summary(print: (line: string) => void = console.log): void {
    this.check("summary");
    const cols = [29, 26, 10];
    const row = (cells: string[]) =>
      cells.map((c, i) => (i < cells.length - 1 ? (c.length >= cols[i] ? `${c} ` : c.padEnd(cols[i])) : c)).join("").trimEnd();
    const width = cols.reduce((a, b) => a + b, 0);
    const fmt = (k: number) => k.toLocaleString("en-US");
    const total = this.countParams();
    print(`Model: "${this.name}"`);
    print("_".repeat(width));
    print(row(["Layer (type)", "Output Shape", "Param #"]));
    print("=".repeat(width));
    this.layers.forEach((l, i) => {
      print(row([`${l.name} (${l.className})`, `(None, ${l.outputShape.slice(1).join(", ")})`, fmt(l.countParams())]));
      const note = l.summaryNote();
      if (note) print(row([`  ${note}`, "", ""]));
      print(i === this.layers.length - 1 ? "=".repeat(width) : "_".repeat(width));
    });
    print(`Total params: ${fmt(total)}`);
    print(`Trainable params: ${fmt(total)}`);
    print("Non-trainable params: 0");
    print("_".repeat(width));
  }

  /** Keras-layout weights: per layer, kernel `[in, out]` then bias `[out]` (copies). */
  getWeights(): HostTensor[] {
    this.check("getWeights");
    return this.layers.flatMap((l) => l.getWeights());
  }

  /**
   * Sets every weight from the Keras-ordered list {@link getWeights} returns. All shapes are
   * checked (errors name the layer and the shapes) before anything is written.
   */
  setWeights(weights: readonly TensorData[]): void {
    this.check("setWeights");
    const perLayer = this.layers.map((l) => l.weightShapes());
    const expected = perLayer.reduce((a, s) => a + s.length, 0);
    if (!Array.isArray(weights) || weights.length !== expected) {
      throw new DualgradError(
        `setWeights: the model has ${expected} weight tensors (${this.layers.map((l, i) => `${l.name}: ${perLayer[i].map(formatShape).join(" ")}`).join(", ")}), got ${Array.isArray(weights) ? weights.length : String(weights)}`,
      );
    }
    const chunks: TensorData[][] = [];
    let k = 0;
    this.layers.forEach((l, i) => {
      const chunk = weights.slice(k, k + perLayer[i].length);
      k += perLayer[i].length;
      chunk.forEach((t, j) => {
        if (!isTensorData(t) || !shapesEqual(t.shape, perLayer[i][j])) {
          const what = j === 0 ? "kernel" : "bias";
          const got = isTensorData(t) ? formatShape(t.shape) : "a non-tensor";
          throw new DualgradError(`setWeights: layer '${l.name}' ${what} (weight ${k - perLayer[i].length + j}) must have shape ${formatShape(perLayer[i][j])}${j === 0 ? " (Keras layout [in, out])" : ""}, got ${got}`);
        }
      });
      chunks.push(chunk);
    });
    this.layers.forEach((l, i) => l.setWeights(chunks[i]));
  }

  /**
   * PyTorch state-dict names: a layer's tensors are `${k}.weight` and `${k}.bias`, k its module
   * index in the equivalent `torch.nn.Sequential`, where Dense and Conv2D stand for two modules
   * (the layer and its activation; 'linear' is an `nn.Identity()` there) and pooling, flatten and
   * dropout for one. A Dense stack is thus `0`, `2`, `4`, ...; the cnn workload's layers
   * conv2d(relu), maxPooling2d, conv2d(relu), maxPooling2d, flatten, dense are `0`, `3`, `7`.
   */
  private stateNames(): { name: string; variable: Variable }[] {
    let k = 0;
    return this.layers.flatMap((l) => {
      const [weight, bias] = l.parameters();
      const out = weight ? [{ name: `${k}.weight`, variable: weight }] : [];
      if (bias) out.push({ name: `${k}.bias`, variable: bias });
      k += l.torchModules;
      return out;
    });
  }

  /**
   * Writes the weights to `path` as safetensors in PyTorch's layout and names (`0.weight [out,in]`,
   * `0.bias`, `2.weight`, ...), atomically, so the file loads with the eager frontend's `nn.load`
   * on `nn.Sequential(Linear, act, Linear, ...)` and with PyTorch's `load_state_dict`.
   */
  save(path: string): void {
    this.check("save");
    const tensors = new Map<string, SafeTensor>();
    for (const { name, variable } of this.stateNames()) {
      tensors.set(name, { dtype: safeDTypeOf(variable.dtype), shape: [...variable.shape], data: variable.data.slice() as Float32Array | Float64Array });
    }
    writeSafetensors(path, tensors, { format: "pt" });
  }

  /**
   * Loads weights saved by {@link save}, by the eager frontend or by PyTorch (names and shapes
   * must match exactly, as PyTorch's strict `load_state_dict`; dtypes are converted). Everything
   * is checked before any weight is written, and nothing is allocated in core before then, so a
   * bad file leaves the model as it was and leaks nothing. Every error names the file.
   */
  load(path: string): void {
    this.check("load");
    const file = readSafetensors(path);
    const own = this.stateNames();
    const ownNames = new Set(own.map((o) => o.name));
    const missing = own.filter((o) => !file.tensors.has(o.name)).map((o) => o.name);
    const unexpected = [...file.tensors.keys()].filter((k) => !ownNames.has(k));
    if (missing.length > 0 || unexpected.length > 0) {
      throw new DualgradError(`load: '${path}' does not match model '${this.name}': missing keys [${listNames(missing)}], unexpected keys [${listNames(unexpected)}]`);
    }
    const values: TypedArray[] = own.map(({ name, variable }) => {
      const t = file.tensors.get(name)!;
      if (!shapesEqual(t.shape, variable.shape)) {
        throw new DualgradError(`load: '${path}': size mismatch for ${name}: the file has shape ${formatShape(t.shape)}, the model has ${formatShape(variable.shape)} (PyTorch layout [out, in])`);
      }
      try {
        return toDTypeArray(t, variable.dtype, name);
      } catch (e) {
        if (e instanceof FormatError) throw new FormatError(`load: '${path}': ${e.message}`, { cause: e });
        throw e;
      }
    });
    own.forEach(({ variable }, i) => variable.assign(values[i]));
  }

  /** Frees the variables, the optimizer's slots and every compiled function. The model is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.forwardFn.dispose();
    if (this.compiled) {
      this.compiled.train.dispose();
      this.compiled.evaluate.dispose();
      this.compiled.optimizer.dispose();
      this.compiled = null;
    }
    for (const l of this.layers) l.dispose();
  }
}

/**
 * Creates a {@link Sequential} model from layers, as `tf.sequential({ layers })`. The first layer
 * needs `inputShape`; the rest infer their input size from the previous layer's units.
 */
export function sequential(layers: readonly Layer[], options: SequentialOptions = {}): Sequential {
  return new Sequential(layers, options);
}
