import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../src/builder.js";
import { isPrimNode, type GraphNode } from "../src/ir.js";

describe("graph nodes are typed by their op", () => {
  it("a node whose attributes are not its primitive's does not compile", () => {
    // @ts-expect-error: transpose's attribute is `perm`; `shape` is reshape's.
    const transpose: GraphNode = { id: 0, op: "transpose", inputs: [], attrs: { shape: [2, 2] }, shape: [2, 2], dtype: "float32" };
    // @ts-expect-error: a fused node's attributes are an elementwise program.
    const fused: GraphNode = { id: 0, op: "fused", inputs: [], attrs: {}, shape: [2], dtype: "float32" };
    expect([transpose.op, fused.op]).toEqual(["transpose", "fused"]);
  });

  it("testing op types the attributes, with no cast", () => {
    const b = new GraphBuilder();
    const x = b.input("x", [2, 3], "float32");
    const t = b.emit("transpose", [x], { perm: [1, 0] });
    const s = b.emit("sum", [t], { axes: [0], keepdims: true });
    const seen: string[] = [];
    for (const n of b.graph.nodes) {
      if (n.op === "transpose") seen.push(`perm ${n.attrs.perm.join(",")}`);
      else if (n.op === "sum") seen.push(`axes ${n.attrs.axes?.join(",")} keepdims ${n.attrs.keepdims}`);
      else if (n.op === "input") seen.push(`input ${n.name}`);
    }
    expect(seen).toEqual(["input x", "perm 1,0", "axes 0 keepdims true"]);
    expect(b.graph.nodes.map(isPrimNode)).toEqual([false, true, true]);
    expect(s).toBe(2);
  });
});
