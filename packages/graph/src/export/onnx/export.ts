import { DualgradError, type TypedArray } from "@dualgrad/core";
import { traceGraph, type InputSpec } from "../../function.js";
import type { Graph } from "../../ir.js";
import type { Sequential } from "../../layers/sequential.js";
import { optimize } from "../../passes/pipeline.js";
import type { SymbolicTensor } from "../../symbolic.js";
import type { Variable } from "../../variable.js";
import { OnnxEmitter, onnxDType } from "./emitter.js";
import { emitPrimitive, unsupported } from "./ops.js";
import { encodeModel, type ValueInfoMsg } from "./proto.js";

/** The ONNX operator set the exporter targets (Reduce* take their axes as inputs from 18 on). */
export const ONNX_OPSET = 18;
/** The ONNX IR version written (8 is the first that opset 18 may use). */
export const ONNX_IR_VERSION = 8;
/** The symbolic name of the batch dimension in exported inputs and outputs. */
export const ONNX_BATCH_DIM = "batch";

/** Options of {@link graphToOnnx}, {@link toOnnx} and {@link sequentialToOnnx}. */
export interface OnnxExportOptions {
  /** The ONNX graph's name (default "dualgrad"). */
  name?: string;
  /** Names of the graph inputs (default `input` for one, else `input_0`, `input_1`, ...). */
  inputNames?: readonly string[];
  /** Names of the graph outputs (default `output` / `output_0`, ...). */
  outputNames?: readonly string[];
  /**
   * Make axis 0 of every input a symbolic `batch` dimension (default true), so the model runs on
   * any batch size; attributes that bake in the traced batch size are rewritten, and a graph
   * where that is impossible is an error naming the primitive.
   */
  dynamicBatch?: boolean;
  /** Free text stored as the model's doc_string. */
  docString?: string;
}

function defaultNames(prefix: string, n: number, given: readonly string[] | undefined): string[] {
  if (given) {
    if (given.length !== n) throw new DualgradError(`ONNX export: ${given.length} ${prefix} names given for ${n} ${prefix}s`);
    return [...given];
  }
  return n === 1 ? [prefix] : Array.from({ length: n }, (_, i) => `${prefix}_${i}`);
}

function valueInfo(name: string, dtype: Parameters<typeof onnxDType>[0], shape: readonly number[], batchAxis: number): ValueInfoMsg {
  const dim = shape.map((d, i) => (i === batchAxis ? { dim_param: ONNX_BATCH_DIM } : { dim_value: d }));
  return { name, type: { tensor_type: { elem_type: onnxDType(dtype), shape: { dim } } } };
}

/**
 * Encodes an IR graph (before fusion) as an ONNX model: placeholders become graph inputs,
 * variables and constants initializers, and each primitive node the ONNX ops of its rule
 * (ops.ts). `variableData` gives each variable's current values. Updates (assigns) are training
 * state and cannot be exported.
 */
export function graphToOnnx(graph: Graph, variableData: (name: string) => TypedArray, options: OnnxExportOptions = {}): Uint8Array {
  if (graph.updates.length > 0) throw new DualgradError("ONNX export: the graph assigns variables (a training step); export an inference function");
  const dynamic = options.dynamicBatch ?? true;
  const emit = new OnnxEmitter();
  const names: string[] = [];
  const batchAxes: number[] = [];
  const inputNames = defaultNames("input", graph.inputs.length, options.inputNames);
  const inputs: ValueInfoMsg[] = [];
  graph.inputs.forEach((id, k) => {
    const n = graph.nodes[id];
    names[id] = inputNames[k];
    batchAxes[id] = dynamic && n.shape.length > 0 ? 0 : -1;
    inputs.push(valueInfo(inputNames[k], n.dtype, n.shape, batchAxes[id]));
  });
  for (const n of graph.nodes) {
    if (n.op === "input") continue;
    if (n.op === "variable" || n.op === "constant") {
      const values = n.op === "variable" ? variableData(n.name!) : n.value!;
      names[n.id] = emit.tensor(n.op === "variable" ? n.name! : emit.fresh("const"), n.dtype, n.shape, values);
      batchAxes[n.id] = -1;
      continue;
    }
    if (n.op === "fused") throw unsupported(n, "fused kernels are not exported; export the graph before the fusion pass");
    if (n.op === "scan" || n.op === "cond" || n.op === "while" || n.op === "get") {
      throw unsupported(n, "control flow (scan, cond, whileLoop) is not exported to ONNX yet (ONNX Loop/If/Scan are not mapped)");
    }
    names[n.id] = `v${n.id}`;
    const operands = n.inputs.map((i) => ({ name: names[i], shape: graph.nodes[i].shape, dtype: graph.nodes[i].dtype, batchAxis: batchAxes[i] }));
    batchAxes[n.id] = emitPrimitive({ node: n, attrs: n.attrs as never, inputs: operands, emit, out: names[n.id] });
  }
  const outputNames = defaultNames("output", graph.outputs.length, options.outputNames);
  // Identity gives each output its public name even when it is an input, a weight or repeated.
  const outputs = graph.outputs.map((id, k) => {
    emit.node("Identity", [names[id]], {}, outputNames[k]);
    return valueInfo(outputNames[k], graph.nodes[id].dtype, graph.nodes[id].shape, batchAxes[id]);
  });
  return encodeModel({
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: "", version: ONNX_OPSET }],
    producer_name: "dualgrad",
    producer_version: "0.1.0",
    doc_string: options.docString,
    graph: { name: options.name ?? "dualgrad", node: emit.nodes, initializer: emit.initializers, input: inputs, output: outputs },
  });
}

/**
 * `toOnnx(f, inputSpecs)`: traces the inference function `f` (as `fn` would, weights read from the
 * variables it closes over, at their current values), runs the optimisation passes (not fusion)
 * and encodes the result as ONNX bytes. Axis 0 of each input is exported as a dynamic batch
 * dimension unless `dynamicBatch: false`.
 */
export function toOnnx(
  f: (...args: SymbolicTensor[]) => SymbolicTensor | readonly SymbolicTensor[],
  inputSpecs: readonly InputSpec[],
  options: OnnxExportOptions = {},
): Uint8Array {
  // Tracing reads only shapes and dtypes; the data stays empty.
  const args = inputSpecs.map((s) => ({ shape: [...s.shape], dtype: s.dtype ?? "float32", data: s.dtype === "float64" ? new Float64Array(0) : s.dtype === "int32" ? new Int32Array(0) : new Float32Array(0) }));
  const { graph, variables } = traceGraph(f as never, args);
  const data = (name: string) => (variables.get(name) as Variable).data;
  return graphToOnnx(optimize(graph), data, options);
}

/** Exports a Keras-style {@link Sequential} model's forward pass (`[batch, inputSize]` in, `[batch, outputSize]` out). */
export function sequentialToOnnx(model: Sequential, options: OnnxExportOptions = {}): Uint8Array {
  return toOnnx((x) => model.forward(x), [{ shape: [1, model.inputSize], dtype: model.dtype }], { name: model.name, ...options });
}
