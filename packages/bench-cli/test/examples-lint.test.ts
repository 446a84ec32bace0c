import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The examples' lint (examples/eslint.config.js: typescript-eslint's `strict-boolean-expressions`)
 * passes on examples/ and catches a tensor used as a condition, which TypeScript accepts and
 * JavaScript always takes as true. The planted file goes in a lint-fixture-<pid>/ folder, which
 * the examples runner (examples.test.ts, top-level files only) never picks up.
 */

const examples = resolve(dirname(fileURLToPath(import.meta.url)), "../../../examples");
const eslint = join(examples, "node_modules/.bin/eslint");

function lint(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(eslint, args, { cwd: examples, encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("examples lint", () => {
  it("passes on the examples", () => {
    const r = lint(["."]);
    expect(r.status, r.out).toBe(0);
  }, 120_000);

  it("catches a tensor used as a condition, eager or graph", () => {
    const planted = join(examples, `lint-fixture-${process.pid}`);
    mkdirSync(planted);
    try {
      writeFileSync(join(planted, "planted.ts"), [
        `import { tensor } from "@dualgrad/eager";`,
        `import { tensor as hostTensor } from "@dualgrad/graph";`,
        `const loss = tensor([0.5]);`,
        `const out = hostTensor([1]);`,
        `if (loss) console.log("always");`,            // line 5
        `while (out) break;`,                           // line 6
        `console.log(loss.gt(1) ? "big" : "small");`,   // line 7
        `if (loss.item() < 1) console.log("right");`,   // fine: a boolean
        "",
      ].join("\n"));
      const r = lint(["--format", "json", planted]);
      expect(r.status, r.out).toBe(1);
      const [report] = JSON.parse(r.out) as { messages: { ruleId: string | null; line: number; message: string }[] }[];
      expect(report.messages.map((m) => [m.ruleId, m.line])).toEqual([5, 6, 7].map((line) => ["@typescript-eslint/strict-boolean-expressions", line]));
    } finally {
      rmSync(planted, { recursive: true, force: true });
    }
  }, 120_000);
});
