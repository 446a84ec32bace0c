import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// Tests run against the TypeScript sources of every workspace package, so no build step is
// needed first (the type check in `pnpm test` resolves them the same way, through the
// `dualgrad-source` export condition).
export default defineConfig({
  resolve: {
    alias: {
      "@dualgrad/core": src("core"),
      "@dualgrad/eager": src("eager"),
      "@dualgrad/graph": src("graph"),
      "@dualgrad/bench-cli": src("bench-cli"),
    },
  },
  test: {
    include: ["packages/*/test/**/*.test.ts"],
    setupFiles: ["./vitest.setup.ts"],
    // The packages are built once, before any test file: CLI, serve and pack tests use dist/.
    globalSetup: ["./vitest.global-setup.ts"],
    benchmark: { include: ["packages/*/test/**/*.bench.ts"] },
    testTimeout: 60_000,
  },
});
