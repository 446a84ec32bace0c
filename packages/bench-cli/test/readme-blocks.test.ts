import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Every ```ts block of the README must type-check as written: each becomes its own module in
// .tmp/readme-blocks/ (inside the repository, so `@dualgrad/*` resolve through the workspace
// links to the packages' sources) and strict tsc checks them all at once.

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** The ```ts blocks of a Markdown text, with the line each starts on. */
export function tsBlocks(markdown: string): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```ts") continue;
    const start = i + 1;
    while (i + 1 < lines.length && lines[i + 1].trim() !== "```") i++;
    out.push({ line: start + 1, code: lines.slice(start, i + 1).join("\n") });
    i++;
  }
  return out;
}

describe("README.md", () => {
  it("finds the blocks (the extractor itself)", () => {
    expect(tsBlocks("a\n```ts\nconst x = 1;\n```\n```sh\nls\n```\n```ts\nlet y;\n```")).toEqual([
      { line: 3, code: "const x = 1;" },
      { line: 9, code: "let y;" },
    ]);
  });

  it("every ```ts block type-checks strictly", () => {
    const blocks = tsBlocks(readFileSync(`${root}README.md`, "utf8"));
    expect(blocks.length).toBeGreaterThan(0);
    const dir = `${root}.tmp/readme-blocks/`;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const { line, code } of blocks) {
      // `export {}` makes a block without imports a module too, so blocks never share names.
      writeFileSync(`${dir}README-line-${line}.ts`, `${code}\nexport {};\n`);
    }
    writeFileSync(
      `${dir}tsconfig.json`,
      JSON.stringify({
        extends: "../../tsconfig.base.json",
        compilerOptions: { noEmit: true, strict: true, customConditions: ["dualgrad-source"], declaration: false, declarationMap: false },
        include: ["*.ts"],
      }),
    );
    const r = spawnSync(`${root}node_modules/.bin/tsc`, ["-p", dir], { cwd: root, encoding: "utf8" });
    // Errors name the file README-line-N.ts: N is the block's first line in README.md.
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
