import { backward } from "./autograd.js";
import * as ops from "./ops.js";
import * as indexingOps from "./ops-indexing.js";
import { installTensorMethods } from "./tensor.js";

/**
 * Connects `Tensor`'s methods (`x.add(y)`, `loss.backward()`) to the functional API and
 * autograd. Those modules create Tensors, so tensor.ts only knows their types; importing this
 * module for its effect (the package index does, first) is what makes the methods work, and
 * keeps every runtime import inside the package one-way.
 */
installTensorMethods({ ...ops, ...indexingOps, backward });
