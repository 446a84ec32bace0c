// Runs one compiled example: `pnpm example NAME` compiles examples/*.ts to .tmp/examples (tsc,
// against the packages' dist) and then calls this with NAME, e.g. `pnpm example keras-fit`.
import { existsSync, readdirSync } from "node:fs";
import { pathToFileURL } from "node:url";

const dir = new URL("../.tmp/examples/", import.meta.url);
const name = (process.argv[2] ?? "").replace(/^examples\//, "").replace(/\.(ts|js)$/, "");
const file = new URL(`${name}.js`, dir);
if (name === "" || !existsSync(file)) {
  const names = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".js")).map((f) => f.slice(0, -3)) : [];
  console.error(`usage: pnpm example NAME, NAME one of: ${names.join(", ") || "(none compiled)"}`);
  process.exit(2);
}
await import(pathToFileURL(file.pathname).href);
