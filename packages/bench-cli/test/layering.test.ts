import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The layering rules of `.dependency-cruiser.cjs` (run over the real repository by `pnpm test`
// before vitest) applied to a miniature workspace: clean, it passes; with one planted violation
// per rule, each is reported and depcruise exits non-zero. This proves the check can fail.

const root = fileURLToPath(new URL("../../..", import.meta.url));
const depcruise = join(root, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs");
const config = join(root, ".dependency-cruiser.cjs");
const PACKAGES = { core: [], eager: ["core"], graph: ["core"], "bench-cli": ["core", "eager", "graph"] } as const;

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** Writes `files` (path relative to the workspace -> contents) under `dir`, creating folders. */
function write(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

/**
 * A workspace shaped like ours: packages exporting their sources under the `dualgrad-source`
 * condition, linked into each other's node_modules as pnpm does, each `src/index.ts` importing
 * what it depends on, so the clean workspace exercises the workspace resolution too.
 */
function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), "dualgrad-layering-"));
  copyFileSync(join(root, "tsconfig.layering.json"), join(dir, "tsconfig.layering.json"));
  for (const [name, deps] of Object.entries(PACKAGES)) {
    const manifest = { name: `@dualgrad/${name}`, type: "module", exports: { ".": { "dualgrad-source": "./src/index.ts", default: "./dist/index.js" } } };
    write(dir, {
      [`packages/${name}/package.json`]: JSON.stringify(manifest),
      [`packages/${name}/src/index.ts`]: [...deps.map((d) => `import "@dualgrad/${d}";`), `export const ${name.replace("-", "")} = 1;`].join("\n"),
    });
    for (const dep of deps) {
      mkdirSync(join(dir, `packages/${name}/node_modules/@dualgrad`), { recursive: true });
      symlinkSync(join(dir, `packages/${dep}`), join(dir, `packages/${name}/node_modules/@dualgrad/${dep}`), "dir");
    }
  }
  return dir;
}

/** Runs depcruise with the repository's config over `dir`'s packages, as `pnpm run layering` does. */
function run(dir: string, outputType: "err" | "json"): { status: number | null; stdout: string } {
  const out = spawnSync(process.execPath, [depcruise, "packages", "--config", config, "--output-type", outputType], { cwd: dir, encoding: "utf8" });
  if (out.error) throw out.error;
  return { status: out.status, stdout: out.stdout };
}

/** The violations depcruise finds in `dir`, as "rule: from -> to", sorted. */
function violations(dir: string): string[] {
  const report = JSON.parse(run(dir, "json").stdout) as { summary: { violations: Violation[] } };
  return report.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
}

describe("layering check (dependency-cruiser)", () => {
  let clean: string;
  let planted: string;
  beforeAll(() => {
    clean = workspace();
    planted = workspace();
    write(planted, {
      "packages/core/src/bad.ts": `import { eager } from "@dualgrad/eager";\nexport const x = eager;`,
      "packages/eager/src/bad.ts": `import { graph } from "@dualgrad/graph";\nimport { benchcli } from "../../bench-cli/src/index.js";\nexport const x = graph + benchcli;`,
      "packages/graph/src/bad.ts": `import { eager } from "../../eager/src/index.js";\nexport const x = eager;`,
      // A runtime cycle (reported) and a cycle closed by an `import type` (allowed).
      "packages/bench-cli/src/a.ts": `import { b } from "./b.js";\nexport const a = () => b;`,
      "packages/bench-cli/src/b.ts": `import { a } from "./a.js";\nexport const b = () => a;`,
      "packages/bench-cli/src/c.ts": `import type { D } from "./d.js";\nexport class C { d?: D }`,
      "packages/bench-cli/src/d.ts": `import { C } from "./c.js";\nexport class D extends C {}`,
    });
  }, 60_000);
  afterAll(() => {
    rmSync(clean, { recursive: true, force: true });
    rmSync(planted, { recursive: true, force: true });
  });

  it("passes a workspace that keeps the layers", () => {
    expect(violations(clean)).toEqual([]);
    expect(run(clean, "err").status).toBe(0);
  });

  it("reports each planted violation and exits non-zero", () => {
    expect(violations(planted)).toEqual([
      "core-is-the-bottom: packages/core/src/bad.ts -> packages/eager/src/index.ts",
      "frontends-apart: packages/eager/src/bad.ts -> packages/graph/src/index.ts",
      "frontends-apart: packages/graph/src/bad.ts -> packages/eager/src/index.ts",
      "libraries-not-cli: packages/eager/src/bad.ts -> packages/bench-cli/src/index.ts",
      // One entry per cycle; the c.ts <-> d.ts cycle closes through `import type` and is allowed.
      "no-runtime-cycle: packages/bench-cli/src/a.ts -> packages/bench-cli/src/b.ts",
    ]);
    // The check `pnpm test` runs (the err reporter) fails the run.
    const check = run(planted, "err");
    expect(check.status).not.toBe(0);
    expect(check.stdout).toContain("error core-is-the-bottom");
  });
});
