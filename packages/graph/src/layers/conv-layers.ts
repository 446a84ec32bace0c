import {
  DualgradError, arrayConstructor, checkDropoutP, composites as C, convOutSize, fillDropoutMask, formatShape, poolAttrs, shapesEqual, toPair,
  type Attrs, type DType, type PhiloxGenerator, type IntOrPair,
} from "@dualgrad/core";
import { Conv2d, avgPool2d, flatten, maxPool2d } from "../conv.js";
import { HostTensor, type TensorData } from "../host-tensor.js";
import { composite, op, type SymbolicTensor } from "../symbolic.js";
import type { Variable } from "../variable.js";
import { ACTIVATIONS, type Activation } from "./dense.js";
import type { CallArgs, Layer } from "./layer.js";

/**
 * Keras-style image layers over the graph frontend: `conv2d`, `maxPooling2d`,
 * `averagePooling2d`, `flatten`, `dropout`. **Channels first** (`dataFormat: 'channelsFirst'`,
 * the only format): inputs are `[C, H, W]` per sample and the stored conv weight is PyTorch's
 * `[out, in, kh, kw]`, so `save`/`load` exchange files with the eager frontend and PyTorch
 * unchanged; only `getWeights`/`setWeights` speak Keras's kernel layout `[kh, kw, in, out]`.
 */

// Keras numbers auto-named layers per class and process (conv2d, conv2d_1, ...).
const autoNames = new Map<string, number>();
function autoName(base: string): string {
  const n = autoNames.get(base) ?? 0;
  autoNames.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

function checkConfig(api: string, config: unknown): Record<string, unknown> {
  if (typeof config !== "object" || config === null) throw new DualgradError(`${api}: expected a config object`);
  return config as Record<string, unknown>;
}

function checkImageShape(api: string, shape: unknown): [number, number, number] | undefined {
  if (shape === undefined) return undefined;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((v) => Number.isSafeInteger(v) && v > 0)) {
    throw new DualgradError(`${api}: inputShape must be [channels, height, width] (channels first), got ${JSON.stringify(shape)}`);
  }
  return [shape[0], shape[1], shape[2]];
}

function checkChannelsFirst(api: string, format: unknown): void {
  if (format !== undefined && format !== "channelsFirst") {
    throw new DualgradError(`${api}: dataFormat must be 'channelsFirst' (NCHW, PyTorch's layout); got ${JSON.stringify(format)}`);
  }
}

/** Shared by the layers without variables: shape checks, naming, no weights. */
abstract class ShapeLayer implements Layer {
  abstract readonly className: string;
  readonly torchModules = 1;
  readonly name: string;
  readonly inputShape: readonly number[] | undefined;
  protected outShape: number[] | null = null;
  constructor(name: string, inputShape: readonly number[] | undefined) {
    this.name = name;
    this.inputShape = inputShape;
  }
  abstract outputShapeFor(inputShape: readonly number[], api: string): number[];
  abstract apply(x: SymbolicTensor, args?: CallArgs): SymbolicTensor;
  get built(): boolean {
    return this.outShape !== null;
  }
  protected checkDeclared(inputShape: readonly number[], api: string): void {
    if (this.inputShape && !shapesEqual(this.inputShape, inputShape)) {
      throw new DualgradError(`${api}: layer '${this.name}' has inputShape ${formatShape(this.inputShape)} but its input is ${formatShape(inputShape)}`);
    }
  }
  build(inputShape: readonly number[]): void {
    if (this.built) throw new DualgradError(`layer '${this.name}' is already built (a layer can belong to one model only)`);
    this.outShape = this.outputShapeFor(inputShape, `layer '${this.name}'`);
  }
  get outputShape(): (number | null)[] {
    if (!this.outShape) throw new DualgradError(`layer '${this.name}' is not built yet: add it to a model (sequential([...])) first`);
    return [null, ...this.outShape];
  }
  parameters(): Variable[] {
    return [];
  }
  countParams(): number {
    return 0;
  }
  getWeights(): HostTensor[] {
    return [];
  }
  weightShapes(): number[][] {
    return [];
  }
  setWeights(weights: readonly TensorData[]): void {
    if (weights.length !== 0) throw new DualgradError(`setWeights: layer '${this.name}' has no weights, got ${weights.length}`);
  }
  summaryNote(): string | null {
    return null;
  }
  dispose(): void {}
}

/** Requires a `[C, H, W]` input. */
function imageInput(api: string, layer: string, cls: string, shape: readonly number[]): [number, number, number] {
  if (shape.length !== 3) throw new DualgradError(`${api}: layer '${layer}' (${cls}) takes [channels, height, width] per sample, got ${formatShape(shape)}`);
  return [shape[0], shape[1], shape[2]];
}

/** Configuration of {@link conv2d}, as `tf.layers.conv2d` (channels first). */
export interface Conv2DConfig {
  /** Output channels. */
  filters: number;
  kernelSize: IntOrPair;
  strides?: IntOrPair;
  /** `'valid'` (no padding, default), `'same'` (stride 1, symmetric) or explicit [ph, pw] / p as PyTorch. */
  padding?: "valid" | "same" | IntOrPair;
  dilationRate?: IntOrPair;
  activation?: Activation;
  useBias?: boolean;
  /** `[channels, height, width]`; required on a model's first layer. */
  inputShape?: [number, number, number];
  /** Only `'channelsFirst'`. */
  dataFormat?: "channelsFirst";
  name?: string;
}

/** A 2-D convolution layer, `activation(conv2d(x, kernel) + bias)`, PyTorch's `nn.Conv2d` init. */
export class Conv2D implements Layer {
  readonly className = "Conv2D";
  /** Conv2d plus its activation slot in the equivalent torch.nn.Sequential. */
  readonly torchModules = 2;
  readonly name: string;
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly dilationRate: [number, number];
  readonly activation: Activation;
  readonly useBias: boolean;
  readonly inputShape: [number, number, number] | undefined;
  private readonly paddingSpec: "valid" | "same" | [number, number];
  private conv: Conv2d | null = null;
  private outShape: number[] = [];

  constructor(config: Conv2DConfig) {
    const c = checkConfig("layers.conv2d", config);
    const api = "layers.conv2d";
    this.filters = toPair(api, "filters", c.filters as number, 1)[0];
    this.kernelSize = toPair(api, "kernelSize", c.kernelSize as IntOrPair, 1);
    this.strides = toPair(api, "strides", (c.strides as IntOrPair | undefined) ?? 1, 1);
    this.dilationRate = toPair(api, "dilationRate", (c.dilationRate as IntOrPair | undefined) ?? 1, 1);
    const padding = c.padding ?? "valid";
    this.paddingSpec = padding === "valid" || padding === "same" ? padding : toPair(api, "padding", padding as IntOrPair, 0);
    const activation = (c.activation as Activation | undefined) ?? "linear";
    if (!ACTIVATIONS.includes(activation)) throw new DualgradError(`${api}: unknown activation ${JSON.stringify(activation)}; valid choices: ${ACTIVATIONS.map((a) => `'${a}'`).join(", ")}`);
    this.activation = activation;
    this.useBias = (c.useBias as boolean | undefined) ?? true;
    checkChannelsFirst(api, c.dataFormat);
    this.inputShape = checkImageShape(api, c.inputShape);
    this.name = (c.name as string | undefined) ?? autoName("conv2d");
  }

  /** The [ph, pw] padding this layer applies (`same` resolved for stride 1). */
  private padding(api: string): [number, number] {
    if (this.paddingSpec === "valid") return [0, 0];
    if (this.paddingSpec !== "same") return this.paddingSpec;
    const total = this.kernelSize.map((k, i) => this.dilationRate[i] * (k - 1));
    if (this.strides.some((s) => s !== 1) || total.some((t) => t % 2 !== 0)) {
      throw new DualgradError(`${api}: layer '${this.name}': padding 'same' needs stride 1 and an odd (dilated) kernel, so that it is symmetric; give [ph, pw] instead`);
    }
    return [total[0] / 2, total[1] / 2];
  }

  get built(): boolean {
    return this.conv !== null;
  }

  outputShapeFor(inputShape: readonly number[], api: string): number[] {
    const [, h, w] = imageInput(api, this.name, this.className, inputShape);
    if (this.inputShape && !shapesEqual(this.inputShape, inputShape)) {
      throw new DualgradError(`${api}: layer '${this.name}' has inputShape ${formatShape(this.inputShape)} but its input is ${formatShape(inputShape)}`);
    }
    const [ph, pw] = this.padding(api);
    const oh = convOutSize(h, this.kernelSize[0], this.strides[0], ph, this.dilationRate[0]);
    const ow = convOutSize(w, this.kernelSize[1], this.strides[1], pw, this.dilationRate[1]);
    if (oh < 1 || ow < 1) throw new DualgradError(`${api}: layer '${this.name}': the ${this.kernelSize.join("x")} kernel does not fit its ${h}x${w} input`);
    return [this.filters, oh, ow];
  }

  build(inputShape: readonly number[], dtype: DType, generator: PhiloxGenerator): void {
    if (this.conv) throw new DualgradError(`layer '${this.name}' is already built (a layer can belong to one model only)`);
    this.outShape = this.outputShapeFor(inputShape, `layer '${this.name}'`);
    this.conv = new Conv2d(inputShape[0], this.filters, this.kernelSize, {
      stride: this.strides, padding: this.padding(`layer '${this.name}'`), dilation: this.dilationRate, bias: this.useBias, dtype, generator, name: this.name,
    });
  }

  private requireBuilt(): Conv2d {
    if (!this.conv) throw new DualgradError(`layer '${this.name}' is not built yet: add it to a model (sequential([...])) first`);
    return this.conv;
  }

  apply(x: SymbolicTensor): SymbolicTensor {
    const y = this.requireBuilt().forward(x);
    return composite([y], (b, [yi]) => C.activation(b, this.activation, yi));
  }

  get outputShape(): (number | null)[] {
    this.requireBuilt();
    return [null, ...this.outShape];
  }

  parameters(): Variable[] {
    return this.requireBuilt().parameters();
  }

  countParams(): number {
    return this.parameters().reduce((n, v) => n + v.data.length, 0);
  }

  /** Keras layout: kernel `[kh, kw, in, out]` (permuted from the stored `[out, in, kh, kw]`), then bias `[out]`. Copies. */
  getWeights(): HostTensor[] {
    const conv = this.requireBuilt();
    const w = conv.weight;
    const [o, i, kh, kw] = w.shape;
    const kernel = new (arrayConstructor(w.dtype))(w.data.length);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
      kernel[((p * kw + q) * i + b) * o + a] = w.data[((a * i + b) * kh + p) * kw + q];
    }
    const out = [new HostTensor([kh, kw, i, o], w.dtype, kernel)];
    if (conv.bias) out.push(new HostTensor([o], conv.bias.dtype, conv.bias.data.slice()));
    return out;
  }

  weightShapes(): number[][] {
    const [o, i, kh, kw] = this.requireBuilt().weight.shape;
    return this.useBias ? [[kh, kw, i, o], [o]] : [[kh, kw, i, o]];
  }

  setWeights(weights: readonly TensorData[]): void {
    const conv = this.requireBuilt();
    const expected = this.weightShapes();
    if (weights.length !== expected.length || weights.some((t, j) => !shapesEqual(t.shape, expected[j]))) {
      throw new DualgradError(`setWeights: layer '${this.name}' expects ${expected.map((s) => formatShape(s)).join(" and ")} (Keras kernel layout [kh, kw, in, out]), got ${weights.map((t) => formatShape(t.shape)).join(" and ") || "nothing"}`);
    }
    const [o, i, kh, kw] = conv.weight.shape;
    const src = weights[0].data;
    const dst = new (arrayConstructor(conv.weight.dtype))(src.length);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
      dst[((a * i + b) * kh + p) * kw + q] = src[((p * kw + q) * i + b) * o + a];
    }
    conv.weight.assign(dst);
    if (conv.bias) conv.bias.assign(weights[1].data);
  }

  summaryNote(): string | null {
    return this.activation === "linear" ? null : `activation: ${this.activation}`;
  }

  dispose(): void {
    if (this.conv) for (const v of this.conv.parameters()) v.dispose();
  }
}

/** Configuration of {@link maxPooling2d} and {@link averagePooling2d}, as `tf.layers.maxPooling2d` (channels first). */
export interface Pooling2DConfig {
  /** Window size (default 2). */
  poolSize?: IntOrPair;
  /** Default: the pool size. */
  strides?: IntOrPair;
  /** `'valid'` (default) or explicit [ph, pw] / p as PyTorch (at most half the window). */
  padding?: "valid" | IntOrPair;
  inputShape?: [number, number, number];
  dataFormat?: "channelsFirst";
  name?: string;
}

/** Max or average pooling over `[C, H, W]` (average counts the padding, PyTorch's default). */
export class Pooling2D extends ShapeLayer {
  readonly className: string;
  private readonly attrs: Attrs["max_pool2d"];
  constructor(readonly kind: "max" | "avg", config: Pooling2DConfig = {}) {
    const api = kind === "max" ? "layers.maxPooling2d" : "layers.averagePooling2d";
    const c = checkConfig(api, config);
    checkChannelsFirst(api, c.dataFormat);
    super((c.name as string | undefined) ?? autoName(kind === "max" ? "max_pooling2d" : "average_pooling2d"), checkImageShape(api, c.inputShape));
    this.className = kind === "max" ? "MaxPooling2D" : "AveragePooling2D";
    const padding = c.padding === undefined || c.padding === "valid" ? 0 : (c.padding as IntOrPair);
    this.attrs = poolAttrs(api, (c.poolSize as IntOrPair | undefined) ?? 2, { stride: (c.strides as IntOrPair | undefined) ?? null, padding });
  }

  outputShapeFor(inputShape: readonly number[], api: string): number[] {
    const [ch, h, w] = imageInput(api, this.name, this.className, inputShape);
    this.checkDeclared(inputShape, api);
    const { kernel, stride, padding } = this.attrs;
    const oh = convOutSize(h, kernel[0], stride[0], padding[0], 1);
    const ow = convOutSize(w, kernel[1], stride[1], padding[1], 1);
    if (oh < 1 || ow < 1) throw new DualgradError(`${api}: layer '${this.name}': the ${kernel.join("x")} window does not fit its ${h}x${w} input`);
    return [ch, oh, ow];
  }

  apply(x: SymbolicTensor): SymbolicTensor {
    const { kernel, stride, padding } = this.attrs;
    return this.kind === "max" ? maxPool2d(x, kernel, { stride, padding }) : avgPool2d(x, kernel, { stride, padding });
  }
}

/** Flattens each sample to `[features]` (channels-first order, as PyTorch's nn.Flatten). */
export class Flatten extends ShapeLayer {
  readonly className = "Flatten";
  constructor(config: { inputShape?: number[]; name?: string } = {}) {
    const c = checkConfig("layers.flatten", config);
    super((c.name as string | undefined) ?? autoName("flatten"), c.inputShape as number[] | undefined);
  }

  outputShapeFor(inputShape: readonly number[], api: string): number[] {
    this.checkDeclared(inputShape, api);
    return [inputShape.reduce((a, b) => a * b, 1)];
  }

  apply(x: SymbolicTensor): SymbolicTensor {
    return flatten(x);
  }
}

/**
 * Inverted dropout: with `training` (every step of `fit`, or a call that asks for it) each
 * element is zeroed with probability `rate` and the rest scaled by 1/(1-rate); otherwise (in
 * `evaluate`, `predict`) the identity. The mask is a traced input: `fit` draws a fresh one per
 * step from the layer's Philox generator ({@link maskFor}), so a compiled step stays pure.
 */
export class Dropout extends ShapeLayer {
  readonly className = "Dropout";
  readonly rate: number;
  private readonly generator: PhiloxGenerator;
  private readonly masks = new Map<number, HostTensor>();
  private dtype: DType = "float32";
  constructor(config: { rate: number; seed?: number; inputShape?: number[]; name?: string }, generator: PhiloxGenerator) {
    const c = checkConfig("layers.dropout", config);
    checkDropoutP("layers.dropout", c.rate as number);
    super((c.name as string | undefined) ?? autoName("dropout"), c.inputShape as number[] | undefined);
    this.rate = c.rate as number;
    this.generator = generator;
  }

  outputShapeFor(inputShape: readonly number[], api: string): number[] {
    this.checkDeclared(inputShape, api);
    return [...inputShape];
  }

  override build(inputShape: readonly number[], dtype?: DType): void {
    super.build(inputShape);
    this.dtype = dtype ?? "float32";
  }

  /**
   * A fresh mask for a batch of `n` samples (`[n, ...shape]`, entries 0 or 1/(1-rate)), drawn
   * from the layer's generator into a buffer reused per batch size (valid until the next call).
   */
  maskFor(n: number): HostTensor {
    const shape = [n, ...this.outputShape.slice(1)] as number[];
    let m = this.masks.get(n);
    if (!m) {
      m = new HostTensor(shape, this.dtype, new (arrayConstructor(this.dtype))(shape.reduce((a, b) => a * b, 1)));
      this.masks.set(n, m);
    }
    fillDropoutMask(this.generator, m.data as Float32Array | Float64Array, this.rate);
    return m;
  }

  /** `x * mask` with `{ training: true, mask }` (mask from {@link maskFor}, traced as an input); `x` otherwise. */
  apply(x: SymbolicTensor, args: CallArgs & { mask?: SymbolicTensor } = {}): SymbolicTensor {
    if (!args.training || this.rate === 0) return x;
    if (!args.mask) throw new DualgradError(`layer '${this.name}' (Dropout): a training call needs its mask as a traced input: apply(x, { training: true, mask }) with mask from maskFor(batch)`);
    return op("mul", [x, args.mask], {});
  }
}
