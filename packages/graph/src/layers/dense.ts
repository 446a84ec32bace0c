import { DualgradError, arrayConstructor, composites as C, formatShape, shapesEqual, type DType, type PhiloxGenerator } from "@dualgrad/core";
import { HostTensor, type TensorData } from "../host-tensor.js";
import { Linear } from "../nn.js";
import { composite, type SymbolicTensor } from "../symbolic.js";
import type { Variable } from "../variable.js";

/**
 * A Keras `Dense` layer over the graph frontend's {@link Linear}. The parameters live in
 * PyTorch's layout (`weight [out, in]`) because that is what the traced `linear` (a matmul with
 * the transB flag), the safetensors files and the eager frontend all use; only the Keras-facing
 * `getWeights`/`setWeights` speak the Keras layout (`kernel [in, out]`), transposing on the host.
 */

/** Activations a {@link Dense} layer accepts, by their Keras names (core's activation composites). */
export type Activation = C.Activation;

/** The valid {@link Activation} names, for validation and error messages. */
export const ACTIVATIONS: readonly Activation[] = C.ACTIVATIONS;

/** Configuration of {@link layers.dense}, as in `tf.layers.dense`. */
export interface DenseConfig {
  /** Number of output features. */
  units: number;
  /** Applied after the affine map (default `"linear"`, i.e. none). */
  activation?: Activation;
  /** `[inFeatures]`; required on the first layer of a model, checked against the previous layer elsewhere. */
  inputShape?: [number];
  /** Whether the layer has a bias (default true). */
  useBias?: boolean;
  /** Layer name (default `dense`, `dense_1`, ... unique in the process, as Keras does). */
  name?: string;
}

// Keras numbers auto-named layers per process (dense, dense_1, ...); names only need to be
// readable and distinct, the variables' own names are made unique by Variable.
let autoNameCount = 0;
function autoName(): string {
  const n = autoNameCount++;
  return n === 0 ? "dense" : `dense_${n}`;
}

function checkPositiveInt(what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    throw new DualgradError(`${what} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

/** Copies a row-major `[rows, cols]` matrix into `dst` as its `[cols, rows]` transpose. */
function transposeInto(src: ArrayLike<number>, rows: number, cols: number, dst: { [i: number]: number }): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
  }
}

/**
 * A densely connected layer, `activation(x · kernel + bias)`. Created unbuilt; a model builds it
 * (creates its variables) once the input size is known, so later layers need no `inputShape`.
 */
export class Dense {
  /** Layer name, shown by `summary()` and used as the variables' name prefix. */
  readonly name: string;
  /** Output features. */
  readonly units: number;
  /** The activation applied after the affine map. */
  readonly activation: Activation;
  /** Whether the layer has a bias. */
  readonly useBias: boolean;
  /** The declared input shape (`[inFeatures]`), if any. */
  readonly inputShape: [number] | undefined;
  private linear: Linear | null = null;

  constructor(config: DenseConfig) {
    if (typeof config !== "object" || config === null) throw new DualgradError("layers.dense: expected a config object { units, ... }");
    this.units = checkPositiveInt("layers.dense: units", config.units);
    const activation = config.activation ?? "linear";
    if (!ACTIVATIONS.includes(activation)) {
      throw new DualgradError(`layers.dense: unknown activation ${JSON.stringify(activation)}; valid choices: ${ACTIVATIONS.map((a) => `'${a}'`).join(", ")}`);
    }
    this.activation = activation;
    this.useBias = config.useBias ?? true;
    if (config.inputShape !== undefined) {
      if (!Array.isArray(config.inputShape) || config.inputShape.length !== 1) {
        throw new DualgradError(`layers.dense: inputShape must be [inFeatures] (a dense layer takes rank-2 input [batch, in]), got ${JSON.stringify(config.inputShape)}`);
      }
      checkPositiveInt("layers.dense: inputShape[0]", config.inputShape[0]);
      this.inputShape = [config.inputShape[0]];
    }
    this.name = config.name ?? autoName();
  }

  /** True once the variables exist. */
  get built(): boolean {
    return this.linear !== null;
  }

  /** Input features (known once built, or from `inputShape`). */
  get inFeatures(): number | undefined {
    return this.linear?.inFeatures ?? this.inputShape?.[0];
  }

  /** Keras class name, for `summary()`. */
  readonly className = "Dense";
  /** Linear plus its activation slot in the equivalent torch.nn.Sequential (an nn.Identity for 'linear'). */
  readonly torchModules = 2;

  /** `[units]` for a `[inFeatures]` input; the input must be flat (add layers.flatten() after images). */
  outputShapeFor(inputShape: readonly number[], api: string): number[] {
    if (inputShape.length !== 1) {
      throw new DualgradError(`${api}: layer '${this.name}' (Dense) takes [features] per sample, but its input is [${inputShape.join(",")}]; add layers.flatten() before it`);
    }
    if (this.inputShape && this.inputShape[0] !== inputShape[0]) {
      throw new DualgradError(`${api}: layer '${this.name}' has inputShape [${this.inputShape[0]}] but the previous layer outputs ${inputShape[0]} units`);
    }
    return [this.units];
  }

  /**
   * Creates the variables for a `[inFeatures]` input, drawing weight then bias from `generator`
   * (PyTorch's `nn.Linear` init, the same draws as the eager frontend's Linear).
   * @internal Called by the model that owns the layer.
   */
  build(inputShape: readonly number[], dtype: DType, generator: PhiloxGenerator): void {
    if (this.linear) throw new DualgradError(`layer '${this.name}' is already built (a layer can belong to one model only)`);
    this.outputShapeFor(inputShape, `layer '${this.name}'`);
    this.linear = new Linear(inputShape[0], this.units, { bias: this.useBias, dtype, generator, name: this.name });
  }

  /** The activation, shown under the layer in `summary()` (null for 'linear'). */
  summaryNote(): string | null {
    return this.activation === "linear" ? null : `activation: ${this.activation}`;
  }

  private requireBuilt(): Linear {
    if (!this.linear) throw new DualgradError(`layer '${this.name}' is not built yet: add it to a model (sequential([...])) first`);
    return this.linear;
  }

  /** The PyTorch-layout weight variable `[out, in]`. */
  get weight(): Variable {
    return this.requireBuilt().weight;
  }

  /** The bias variable `[out]`, or null without bias. */
  get bias(): Variable | null {
    return this.requireBuilt().bias;
  }

  /** Applies the layer inside a trace: `x W^T + b` (a matmul flag, no transpose op), then the activation. */
  apply(x: SymbolicTensor): SymbolicTensor {
    const y = this.requireBuilt().forward(x);
    return composite([y], (b, [yi]) => C.activation(b, this.activation, yi));
  }

  /** The trainable variables (weight, then bias). */
  parameters(): Variable[] {
    return this.requireBuilt().parameters();
  }

  /** Number of scalar parameters (`in * out + out` with bias). */
  countParams(): number {
    const inF = this.requireBuilt().inFeatures;
    return inF * this.units + (this.useBias ? this.units : 0);
  }

  /** Keras's output shape, `[null, units]` (null: any batch size). */
  get outputShape(): [null, number] {
    return [null, this.units];
  }

  /** Keras-layout weights: kernel `[in, out]` (the transpose of the stored weight), then bias `[out]` if any. Copies. */
  getWeights(): HostTensor[] {
    const lin = this.requireBuilt();
    const w = lin.weight;
    const kernel = new (arrayConstructor(w.dtype))(w.data.length);
    transposeInto(w.data, lin.outFeatures, lin.inFeatures, kernel);
    const out = [new HostTensor([lin.inFeatures, lin.outFeatures], w.dtype, kernel)];
    if (lin.bias) out.push(new HostTensor([lin.outFeatures], lin.bias.dtype, lin.bias.data.slice()));
    return out;
  }

  /** The shapes {@link setWeights} expects, in Keras layout. */
  weightShapes(): number[][] {
    const lin = this.requireBuilt();
    return lin.bias ? [[lin.inFeatures, lin.outFeatures], [lin.outFeatures]] : [[lin.inFeatures, lin.outFeatures]];
  }

  /**
   * Sets the weights from Keras-layout tensors (kernel `[in, out]`, then bias `[out]` if the layer
   * has one). Every shape is checked before anything is written, so a bad call changes nothing.
   */
  setWeights(weights: readonly TensorData[]): void {
    const lin = this.requireBuilt();
    const expected = this.weightShapes();
    const names = ["kernel", "bias"];
    if (weights.length !== expected.length) {
      throw new DualgradError(
        `setWeights: layer '${this.name}' expects ${expected.length} tensors (${expected.map((s, i) => `${names[i]} ${formatShape(s)}`).join(", ")}), got ${weights.length}`,
      );
    }
    weights.forEach((t, i) => {
      if (!shapesEqual(t.shape, expected[i])) {
        throw new DualgradError(
          `setWeights: layer '${this.name}' ${names[i]} must have shape ${formatShape(expected[i])}${i === 0 ? " (Keras layout [in, out])" : ""}, got ${formatShape(t.shape)}`,
        );
      }
    });
    transposeInto(weights[0].data, lin.inFeatures, lin.outFeatures, lin.weight.data);
    if (lin.bias) lin.bias.assign(weights[1].data);
  }

  /** Releases the variables (the layer cannot be used afterwards). */
  dispose(): void {
    if (!this.linear) return;
    for (const v of this.linear.parameters()) v.dispose();
  }
}

/** Creates a {@link Dense} layer, as `tf.layers.dense(config)`. */
export function dense(config: DenseConfig): Dense {
  return new Dense(config);
}
