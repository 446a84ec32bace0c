/**
 * @dualgrad/bench-cli as a library: model specs, the per-frontend trainers, the measurement
 * harness and the report renderers that the `dualgrad` CLI is built from.
 * @packageDocumentation
 */
export * from "./models.js";
export { syntheticBatch, type Batch } from "./datasets/synthetic.js";
export { resolveDataset, loadMnist, loadCsv, shuffleGenerator, type Dataset, type MnistOptions, type CsvOptions } from "./datasets/index.js";
export { makeTrainer, FRONTENDS, type Frontend, type Trainer, type TrainerOptions } from "./runners/index.js";
export { measure } from "./runners/measure.js";
export type { MeasureOptions } from "./runners/timing.js";
export { agreement, differences } from "./runners/agreement.js";
export type { BenchReport, BenchResult, PeerResult, AgreementResult, MachineInfo } from "./report/types.js";
export { toMarkdown } from "./report/markdown.js";
export { toHtml } from "./report/html.js";
export { writeReports } from "./report/write.js";
export { readReport } from "./report/read.js";
export { main, buildProgram } from "./cli.js";
export { exportModelOnnx } from "./commands/export.js";
export { startServer, type RunningServer, type ServeOptions } from "./serve/server.js";
export { makePredictor, graphBuckets, type Predictor } from "./serve/predictor.js";
export { modelSource, readWeights, type ModelSource } from "./serve/model-source.js";
