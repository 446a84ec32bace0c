import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// Every examples/*.ts runs here, shortened (DUALGRAD_EXAMPLE_QUICK=1 cuts epochs and steps), by
// importing it: vitest resolves @dualgrad/* to the packages' sources, so no build is needed, and
// the shared leak hook checks that each example frees every tensor it made. The type check is
// strict tsc over examples/tsconfig.json. Examples this file does not know (added by others)
// must still run and print; the known ones must reach their bound on their final line.

const root = fileURLToPath(new URL("../../../", import.meta.url));
const examples = readdirSync(`${root}examples`).filter((f) => f.endsWith(".ts")).sort();

/** Final-line checks of the examples written with this test. */
const FINAL: Record<string, (line: string) => void> = {
  "pytorch-linear-regression.ts": (line) => {
    const [, w, b] = line.match(/^Learned weight (\S+), bias (\S+)/) ?? [];
    expect(Math.abs(Number(w) - 2)).toBeLessThan(0.1);
    expect(Math.abs(Number(b) - 1)).toBeLessThan(0.1);
  },
  "keras-fit.ts": (line) => expect(Number(line.match(/^final loss (\S+)$/)?.[1])).toBeLessThan(0.2),
  "mnist-mlp.ts": (line) => {
    const [, eager, graph] = line.match(/^test accuracy: eager (\S+), graph (\S+)$/) ?? [];
    expect(Number(eager)).toBeGreaterThan(0.7);
    expect(Number(graph)).toBeGreaterThan(0.7);
  },
  "csv-regression.ts": (line) => expect(Number(line.match(/^test RMSE (\S+) /)?.[1])).toBeLessThan(15),
  "cross-frontend-weights.ts": (line) => expect(line).toBe("max difference across frontends: 0"),
};

describe("examples/", () => {
  let before: string | undefined;
  beforeAll(() => {
    before = process.env.DUALGRAD_EXAMPLE_QUICK;
    process.env.DUALGRAD_EXAMPLE_QUICK = "1";
  });
  afterAll(() => {
    if (before === undefined) delete process.env.DUALGRAD_EXAMPLE_QUICK;
    else process.env.DUALGRAD_EXAMPLE_QUICK = before;
  });

  it("type-check strictly (tsc -p examples/tsconfig.json)", () => {
    const r = spawnSync(`${root}node_modules/.bin/tsc`, ["-p", "examples/tsconfig.json"], { cwd: root, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("include the ones written with this test", () => {
    expect(examples).toEqual(expect.arrayContaining(Object.keys(FINAL)));
  });

  it.each(examples)("%s runs shortened and reaches its bound", async (file) => {
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
    try {
      await import(pathToFileURL(`${root}examples/${file}`).href);
    } finally {
      log.mockRestore();
    }
    expect(lines.length, `${file} printed nothing`).toBeGreaterThan(0);
    FINAL[file]?.(lines[lines.length - 1]);
  });
});
