/**
 * Composites: everything above the primitives, written once against `Emitter<T>`. The eager
 * frontend runs them (each emitted primitive executes now and is recorded by autograd); the
 * graph frontend records them (each emitted primitive is a node). The frontends keep only their
 * own public names and thin adapters, so both compute with the same operations in the same order.
 */
export * from "./arith.js";
export * from "./axes.js";
export * from "./argmax.js";
export * from "./softmax.js";
export * from "./mse.js";
export * from "./cross-entropy.js";
export * from "./bce-with-logits.js";
export * from "./probability-losses.js";
export * from "./matmul.js";
export * from "./linear.js";
export * from "./linear-init.js";
export * from "./conv.js";
export * from "./activation.js";
export * from "./update.js";
export * from "./sgd.js";
export * from "./adam.js";
export * from "./joining.js";
export * from "./rnn-init.js";
export * from "./rnn.js";
export * from "./lstm.js";
