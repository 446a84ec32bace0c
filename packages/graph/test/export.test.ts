import { it, expect } from "vitest";
import { writeFileSync } from "node:fs";

it("real", async () => {
  const G = await import("../src/index.js");
  const { toJSON, fromJSON, toDot, toMermaid } = await import("../src/export/index.js");
  const l1 = new G.Linear(3, 4, { name: "l1" });
  const l2 = new G.Linear(4, 2, { name: "l2" });
  const opt = new G.Adam({ lr: 0.01 } as never);
  const step = (x: any, y: any) => {
    const h = G.linear(x, l1.weight, l1.bias).relu();
    const logits = G.linear(h, l2.weight, l2.bias);
    const loss = G.crossEntropy(logits, y);
    opt.minimize(loss, [l1.weight, l1.bias!, l2.weight, l2.bias!]);
    return loss;
  };
  const x = G.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const y = G.tensor([0, 1], [2], "int32");
  const { graph, variables } = G.traceGraph(step as never, [x, y]);
  for (const v of opt.variables()) variables.set(v.name, v);
  const lowered = G.lowerGraph(graph, variables);
  for (const [k, g] of Object.entries({ traced: lowered.traced, optimized: lowered.optimized, fused: lowered.fused })) {
    expect(fromJSON(toJSON(g))).toStrictEqual(g);
    writeFileSync(`/tmp/exp/${k}.dot`, toDot(g, { title: k }));
    writeFileSync(`/tmp/exp/${k}.mmd`, toMermaid(g));
    writeFileSync(`/tmp/exp/${k}.json`, toJSON(g));
  }
});
