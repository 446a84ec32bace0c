// Lints the examples for the one mistake the type checker lets through: a tensor used as a
// condition. In JavaScript every object is truthy, so `if (loss)` or `while (mask)` is always
// true whatever the tensor holds; `strict-boolean-expressions` rejects any non-boolean
// condition (objects always, nullable values and numbers too, so intent is spelled out).
// typescript-eslint needs the TypeScript 5 compiler API, hence this package's own typescript.
import tseslint from "typescript-eslint";

export default [
  { ignores: ["dist/**", "node_modules/**"] },
  {
    files: ["**/*.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        // tsconfig.json covers examples/*.ts; a lint-fixture-*/ file (planted by
        // packages/bench-cli/test/examples-lint.test.ts) is checked with the same options.
        projectService: { allowDefaultProject: ["lint-fixture-*/*.ts"], defaultProject: "tsconfig.json" },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      "@typescript-eslint/strict-boolean-expressions": ["error", { allowString: false, allowNumber: false, allowNullableObject: false }],
    },
  },
];
