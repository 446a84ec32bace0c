/**
 * ONNX export of traced inference functions: the IR walked node by node, each primitive mapped
 * to ONNX ops (ops.ts), encoded with protobufjs against the ONNX schema (onnx/onnx-subset.proto).
 */
export { graphToOnnx, toOnnx, sequentialToOnnx, ONNX_OPSET, ONNX_IR_VERSION, ONNX_BATCH_DIM, type OnnxExportOptions } from "./export.js";
export { decodeModel as decodeOnnx, type ModelMsg as OnnxModel } from "./proto.js";
