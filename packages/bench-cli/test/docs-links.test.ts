import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The repository's documents link only to files inside the repository, and every such link
// resolves: a reader of a fresh clone must be able to follow each one.

const root = fileURLToPath(new URL("../../..", import.meta.url));
const DOCS = ["README.md", "CONTRIBUTING.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** Relative link targets of a Markdown text (inline links; URLs with a scheme and pure anchors left out). */
function relativeLinks(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1];
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
    out.push(target.split("#")[0]);
  }
  return out;
}

describe("documentation links", () => {
  it("finds relative links and skips URLs and anchors", () => {
    expect(relativeLinks('see [a](docs/A.md#x), [b](https://x.org/y), [c](#here) and [d](../out.md "t")')).toEqual(["docs/A.md", "../out.md"]);
  });

  for (const doc of DOCS) {
    it(`${doc} links only to files inside the repository, all present`, () => {
      const text = readFileSync(join(root, doc), "utf8");
      const broken: string[] = [];
      for (const link of relativeLinks(text)) {
        const target = resolve(dirname(join(root, doc)), link);
        const inside = !relative(root, target).startsWith("..");
        if (!inside || !existsSync(target)) broken.push(link);
      }
      expect(broken).toEqual([]);
      // Plain-text pointers outside the repository count too (e.g. "see ../shared/DESIGN.md").
      expect(text).not.toMatch(/\.\.\/shared\//);
    });
  }
});
