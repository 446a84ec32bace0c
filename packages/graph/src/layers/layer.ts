import type { DType, PhiloxGenerator } from "@dualgrad/core";
import type { HostTensor, TensorData } from "../host-tensor.js";
import type { SymbolicTensor } from "../symbolic.js";
import type { Variable } from "../variable.js";

/** How a layer is being called: `training` turns dropout on (fit's steps, or a call that asks for it). */
export interface CallArgs {
  training?: boolean;
}

/**
 * What {@link Sequential} needs from a layer (Dense, Conv2D, pooling, Flatten, Dropout). Shapes
 * are per sample (no batch dimension), channels first for images: `[C, H, W]`.
 */
export interface Layer {
  /** Layer name, shown by `summary()` and used as the variables' name prefix. */
  readonly name: string;
  /** Keras class name for `summary()` (`Dense`, `Conv2D`, ...). */
  readonly className: string;
  /** The declared per-sample input shape, if any (required on a model's first layer). */
  readonly inputShape: readonly number[] | undefined;
  /** True once built (variables created, shapes fixed). */
  readonly built: boolean;
  /**
   * How many modules of the equivalent `torch.nn.Sequential` this layer stands for (a layer with
   * an activation slot is 2: the module and its activation), so saved names match PyTorch's.
   */
  readonly torchModules: number;
  /** The per-sample output shape for a per-sample input shape, or a DualgradError naming the layer (`api` prefixes it). */
  outputShapeFor(inputShape: readonly number[], api: string): number[];
  /** Creates the variables for `inputShape`. @internal Called by the model that owns the layer. */
  build(inputShape: readonly number[], dtype: DType, generator: PhiloxGenerator): void;
  /** Applies the layer inside a trace. */
  apply(x: SymbolicTensor, args?: CallArgs): SymbolicTensor;
  /** Keras's output shape, `[null, ...]` (null: any batch size); known once built. */
  readonly outputShape: (number | null)[];
  /** Trainable variables (weight, then bias), PyTorch layout. */
  parameters(): Variable[];
  /** Number of scalar parameters. */
  countParams(): number;
  /** Keras-layout weights (copies). */
  getWeights(): HostTensor[];
  /** The shapes {@link setWeights} expects, Keras layout. */
  weightShapes(): number[][];
  /** Sets the weights from Keras-layout tensors, all shapes checked before any write. */
  setWeights(weights: readonly TensorData[]): void;
  /** A line under the layer's row in `summary()` (e.g. its activation), or null. */
  summaryNote(): string | null;
  /** Releases the variables. */
  dispose(): void;
}
