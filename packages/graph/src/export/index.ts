/**
 * Exporters of the SSA IR (docs/ARCHITECTURE.md principle 5, "plans are data"): Graphviz DOT and Mermaid for
 * looking at a graph, versioned JSON for saving and reloading one. Only the public entry points
 * are re-exported; the label helpers shared by the two drawers stay internal.
 */
export { toDot } from "./dot.js";
export { toMermaid } from "./mermaid.js";
export { toJSON, fromJSON, GRAPH_JSON_FORMAT, GRAPH_JSON_VERSION } from "./json.js";
export * from "./onnx/index.js";
