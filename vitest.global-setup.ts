import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Builds every package's `dist/` once, before any test file runs. Tests that spawn the CLI
 * (`node packages/bench-cli/dist/cli.js`), serve it or pack it need the build to match the
 * sources; building here, not in each file's `beforeAll`, means no file ever runs while another
 * one's build has emptied `dist/` (each package build starts from an empty `dist/`, so two test
 * files rebuilding in parallel made the CLI vanish under a third).
 */
export default function buildOnce(): void {
  const root = fileURLToPath(new URL(".", import.meta.url));
  execFileSync("pnpm", ["--silent", "-r", "run", "build"], { cwd: root, stdio: "inherit" });
}
