/**
 * The layering rules, checked by `pnpm test` (`depcruise` runs before vitest).
 *
 * The arrows are: core <- eager, core <- graph, {core, eager, graph} <- bench-cli. Eager and
 * graph never see each other, so the comparison is of two frontends over one core, not of one
 * frontend calling the other. Inside a package no runtime import may lead back to itself: a
 * cycle makes module initialisation order matter (a class is `undefined` when the module that
 * needs it is evaluated first). `import type` edges vanish at run time, so cycles through them
 * are allowed.
 *
 * Workspace imports (`@dualgrad/core`, ...) resolve to the packages' TypeScript sources: through
 * the `dualgrad-source` export condition (as in `tsconfig.json` and `vitest.config.ts`), and
 * through the `paths` of `tsconfig.layering.json` where a package imports one it does not
 * declare (pnpm links only declared dependencies, and an unresolved import breaks no rule).
 *
 * @type {import("dependency-cruiser").IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "core-is-the-bottom",
      comment: "core imports no frontend and not the CLI: both frontends build on it.",
      severity: "error",
      from: { path: "^packages/core/" },
      to: { path: "^packages/(eager|graph|bench-cli)/" },
    },
    {
      name: "frontends-apart",
      comment: "Eager and graph never import each other: the two frontends share only core.",
      severity: "error",
      from: { path: "^packages/(eager|graph)/" },
      // $1 is the importing frontend: any import of the other one breaks the rule.
      to: { path: "^packages/(eager|graph)/", pathNot: "^packages/$1/" },
    },
    {
      name: "libraries-not-cli",
      comment: "The libraries never import the workbench CLI: it is their user, not their part.",
      severity: "error",
      from: { path: "^packages/(core|eager|graph)/" },
      to: { path: "^packages/bench-cli/" },
    },
    {
      name: "no-runtime-cycle",
      comment:
        "No runtime import cycle inside a package (every edge of the cycle a value import; " +
        "`import type` edges are erased by the compiler and may close a loop).",
      severity: "error",
      from: { path: "^packages/[^/]+/src/" },
      to: {
        circular: true,
        dependencyTypesNot: ["type-only"],
        viaOnly: { dependencyTypesNot: ["type-only"] },
      },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(dist|node_modules)/" },
    // `import type` edges are reported as the "type-only" dependency type, which the cycle rule
    // skips; they still count for the layering rules (a type import across layers is a
    // design dependency too).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.layering.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["dualgrad-source", "import", "require", "node", "default"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
