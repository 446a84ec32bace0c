import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// Every examples/*.ts runs here, shortened (DUALGRAD_EXAMPLE_QUICK=1 cuts epochs and steps), by
// importing it: vitest resolves @dualgrad/* to the packages' sources, so no build is needed, and
// the shared leak hook checks that each example frees every tensor it made. The type check is
// strict tsc over examples/tsconfig.json. Each example checks its own result and throws if it is
// off; examples this file does not know (added by others) must still run and print.

const root = fileURLToPath(new URL("../../../", import.meta.url));
const examples = readdirSync(`${root}examples`).filter((f) => f.endsWith(".ts")).sort();

/**
 * The final line of each example written with this test. The examples check their own bounds
 * (a loss, an accuracy, the cross-frontend difference) and throw when one is missed; this only
 * checks that each got to the end and reported.
 */
const FINAL: Record<string, RegExp> = {
  "pytorch-linear-regression.ts": /^Learned weight \S+, bias \S+ \(true: 2, 1\)$/,
  "keras-fit.ts": /^final loss \S+$/,
  "mnist-mlp.ts": /^test accuracy: eager \S+, graph \S+$/,
  "csv-regression.ts": /^test RMSE \S+ /,
  "cross-frontend-weights.ts": /^max difference across frontends: 0$/,
  "tf-linear-regression.ts": /^learned y = \S+ x \+ \S+ /,
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

  it.each(examples)("%s runs shortened, passes its own checks and reports last", async (file) => {
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
    try {
      // An example either runs at import, or exports `main` and runs only when executed directly
      // (so a test of its own can call it with options): run that one through `main`.
      const mod = (await import(pathToFileURL(`${root}examples/${file}`).href)) as { main?: (options: { epochs?: number }) => unknown };
      if (lines.length === 0 && typeof mod.main === "function") mod.main({ epochs: 20 });
    } finally {
      log.mockRestore();
    }
    expect(lines.length, `${file} printed nothing`).toBeGreaterThan(0);
    if (FINAL[file]) expect(lines[lines.length - 1]).toMatch(FINAL[file]);
  });
});
