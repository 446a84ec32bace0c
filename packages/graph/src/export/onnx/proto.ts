import { readFileSync } from "node:fs";
import protobuf from "protobufjs";

/**
 * The ONNX message types, read from `onnx/onnx-subset.proto` (the part of the ONNX schema the
 * exporter writes, field numbers as in onnx.proto). protobufjs does the wire encoding: nothing
 * here writes varints or tags by hand. The file sits beside `src/` and `dist/` at the package
 * root, so the same relative URL finds it from the sources and from the build.
 */
const PROTO_URL = new URL("../../../onnx/onnx-subset.proto", import.meta.url);

let root: protobuf.Root | null = null;

/** The parsed schema (parsed once, on first use). */
function schema(): protobuf.Root {
  root ??= protobuf.parse(readFileSync(PROTO_URL, "utf8"), { keepCase: true }).root;
  return root;
}

/** `TensorProto.DataType` values the exporter uses (onnx.proto numbering). */
export const ONNX_DTYPE = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

/** `AttributeProto.AttributeType` values the exporter uses. */
export const ONNX_ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

/** A `TensorProto` as a plain object (snake_case field names, as in onnx.proto). */
export interface TensorMsg {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  int64_data?: number[];
}

/** An `AttributeProto` as a plain object. */
export interface AttributeMsg {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

/** A `NodeProto` as a plain object. */
export interface NodeMsg {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: AttributeMsg[];
}

/** A `ValueInfoProto` for a tensor; a dimension is a size or a symbolic name (`dim_param`). */
export interface ValueInfoMsg {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}

/** A `ModelProto` as a plain object. */
export interface ModelMsg {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  doc_string?: string;
  graph: {
    name: string;
    node: NodeMsg[];
    initializer: TensorMsg[];
    input: ValueInfoMsg[];
    output: ValueInfoMsg[];
  };
}

/** Encodes a model as ONNX protobuf bytes (`.onnx` file contents). Throws if a field does not fit the schema. */
export function encodeModel(model: ModelMsg): Uint8Array {
  const type = schema().lookupType("onnx.ModelProto");
  const problem = type.verify(model);
  if (problem) throw new Error(`ONNX export: the model does not fit onnx.ModelProto: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Decodes `.onnx` bytes into a plain object (int64 fields as numbers, enums as numbers), for inspection and tests. */
export function decodeModel(bytes: Uint8Array): ModelMsg {
  const type = schema().lookupType("onnx.ModelProto");
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false, arrays: true }) as ModelMsg;
}
