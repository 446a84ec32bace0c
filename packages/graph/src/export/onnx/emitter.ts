import { DualgradError, type DType } from "@dualgrad/core";
import { ONNX_ATTR, ONNX_DTYPE, type AttributeMsg, type NodeMsg, type TensorMsg } from "./proto.js";

/** The ONNX element type of a dualgrad dtype. */
export function onnxDType(dtype: DType): number {
  if (dtype === "float32") return ONNX_DTYPE.FLOAT;
  if (dtype === "float64") return ONNX_DTYPE.DOUBLE;
  if (dtype === "int32") return ONNX_DTYPE.INT32;
  throw new DualgradError(`ONNX export: dtype ${String(dtype)} has no ONNX mapping`);
}

/** An attribute value, tagged with its ONNX kind (a JS number alone cannot say int or float). */
export type AttrValue = { int: number } | { ints: readonly number[] } | { float: number } | { string: string };

function attribute(name: string, v: AttrValue): AttributeMsg {
  if ("int" in v) return { name, type: ONNX_ATTR.INT, i: v.int };
  if ("ints" in v) return { name, type: ONNX_ATTR.INTS, ints: [...v.ints] };
  if ("float" in v) return { name, type: ONNX_ATTR.FLOAT, f: v.float };
  return { name, type: ONNX_ATTR.STRING, s: new TextEncoder().encode(v.string) };
}

function rawBytes(dtype: DType, values: ArrayLike<number>): Uint8Array {
  const typed = dtype === "float64" ? Float64Array.from(values) : dtype === "int32" ? Int32Array.from(values) : Float32Array.from(values);
  // raw_data is little-endian by the ONNX spec; typed arrays use the platform's order, which
  // Node supports only on little-endian machines.
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

/**
 * Collects the ONNX nodes and initializers of one graph. Every name it makes is unique, so
 * rules can create helper values (shape tensors, casts) without thinking about collisions.
 */
export class OnnxEmitter {
  readonly nodes: NodeMsg[] = [];
  readonly initializers: TensorMsg[] = [];
  private counter = 0;

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /** Adds a node and returns the name of its (single) output. */
  node(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    const out = output ?? this.fresh(opType.toLowerCase());
    this.nodes.push({
      name: `${opType}_${this.nodes.length}`,
      op_type: opType,
      input: [...inputs],
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** Adds a tensor initializer (weights, constants) and returns its name. */
  tensor(name: string, dtype: DType, dims: readonly number[], values: ArrayLike<number>): string {
    this.initializers.push({ name, dims: [...dims], data_type: onnxDType(dtype), raw_data: rawBytes(dtype, values) });
    return name;
  }

  /** Adds a 1-D int64 initializer (the shape, axes, starts/ends operands ONNX takes as tensors). */
  int64s(prefix: string, values: readonly number[]): string {
    const name = this.fresh(prefix);
    this.initializers.push({ name, dims: [values.length], data_type: ONNX_DTYPE.INT64, int64_data: [...values] });
    return name;
  }

  /** Adds a scalar initializer of `dtype`. */
  scalar(prefix: string, dtype: DType, value: number): string {
    return this.tensor(this.fresh(prefix), dtype, [], [value]);
  }
}
