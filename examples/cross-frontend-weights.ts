/**
 * Weights saved by one frontend and loaded by the other. Both write safetensors with PyTorch's
 * names and layout (`0.weight [out, in]`, `0.bias`, `2.weight`, ...), so an eager
 * `nn.Sequential(Linear, Tanh, Linear)` and a graph `sequential([dense(tanh), dense])` read each
 * other's files (and PyTorch's `load_state_dict` reads both). The two then predict the same bits.
 *
 * Run: pnpm example cross-frontend-weights
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PhiloxGenerator, nn, noGrad, optim, randn, tensor, tidy } from "@dualgrad/eager";
import { layers, sequential, tensor as graphTensor } from "@dualgrad/graph";

const QUICK = process.env.DUALGRAD_EXAMPLE_QUICK === "1";
const dir = mkdtempSync(join(tmpdir(), "dualgrad-weights-example-"));
const gen = new PhiloxGenerator(7);

// Train a small eager model for a few steps, then save it.
const eager = new nn.Sequential(new nn.Linear(4, 8, { generator: gen }), new nn.Tanh(), new nn.Linear(8, 1, { generator: gen }));
const x = randn([32, 4], { generator: gen });
const y = tidy(() => x.sum({ axis: 1, keepdims: true }).tanh());
const opt = new optim.SGD(eager.parameters(), { lr: 0.1 });
for (let step = 0; step < (QUICK ? 20 : 200); step++) {
  tidy(() => {
    opt.zeroGrad();
    nn.mseLoss(eager.forward(x), y).backward();
    opt.step();
  });
}
const eagerFile = join(dir, "eager.safetensors");
nn.save(eager, eagerFile);

// Load it into the graph frontend's Keras-style model and compare predictions.
const graph = sequential([layers.dense({ units: 8, activation: "tanh", inputShape: [4] }), layers.dense({ units: 1 })], { seed: 99 });
graph.load(eagerFile);
const probe = Array.from(x.data);
const eagerOut = noGrad(() => tidy(() => Array.from(eager.forward(x).data)));
const graphOut = Array.from(graph.predict(graphTensor(probe, [32, 4])).data);
const diff1 = Math.max(...eagerOut.map((v, i) => Math.abs(v - graphOut[i])));
console.log(`eager -> graph: max |eager - graph| over 32 predictions = ${diff1}`);

// And back: save from the graph model, load into a fresh eager model.
const graphFile = join(dir, "graph.safetensors");
graph.save(graphFile);
const fresh = new nn.Sequential(new nn.Linear(4, 8), new nn.Tanh(), new nn.Linear(8, 1));
nn.load(fresh, graphFile);
const freshOut = noGrad(() => tidy(() => Array.from(fresh.forward(tensor(probe, { shape: [32, 4] })).data)));
const diff2 = Math.max(...freshOut.map((v, i) => Math.abs(v - graphOut[i])));
console.log(`graph -> eager: max |eager - graph| = ${diff2}`);

opt.dispose();
for (const m of [eager, fresh]) m.dispose();
graph.dispose();
x.dispose();
y.dispose();
rmSync(dir, { recursive: true, force: true });
console.log(`max difference across frontends: ${Math.max(diff1, diff2)}`);
// The example checks itself: the same weights give the same bits on both frontends.
if (diff1 !== 0 || diff2 !== 0) throw new Error(`the frontends disagree: ${diff1}, ${diff2}`);
