import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The packages as a user gets them: `npm pack` and `pnpm pack` of core, eager, graph and
 * bench-cli, the npm tarballs installed with npm into a project outside the workspace, a strict
 * `module: nodenext` consumer type-checked (with the workspace's tsc) and run against them, and
 * the installed `dualgrad` binary run. Packs the built `dist/` as it is (run `pnpm -r run build`
 * after changing sources, as for the CLI tests). The registry is used only for bench-cli's
 * third-party dependencies (npm's cache first). Skipped, saying so, where npm is not on PATH.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const PACKAGES = ["core", "eager", "graph", "bench-cli"] as const;
const tsc = join(root, "node_modules/.bin/tsc");
const hasNpm = spawnSync("npm", ["--version"], { encoding: "utf8" }).status === 0;
if (!hasNpm) console.warn("pack-install.test.ts: skipped, npm is not on PATH");

/** Runs a command; a failure throws with its output (tsc reports errors on stdout). */
function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, npm_config_update_notifier: "false" } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The files in a tarball, without npm's `package/` prefix. */
function tarFiles(tgz: string): string[] {
  return run("tar", ["-tzf", tgz], root).split("\n").filter(Boolean).map((f) => f.replace(/^package\//, "")).sort();
}

/** Every path a manifest points at: main, types, bin and each export condition. */
function manifestTargets(manifest: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (x: unknown): void => {
    if (typeof x === "string") out.push(x.replace(/^\.\//, ""));
    else if (x && typeof x === "object") Object.values(x).forEach(walk);
  };
  walk([manifest.main, manifest.types, manifest.bin, manifest.exports]);
  return out;
}

const CONSUMER = `import { allocator } from "@dualgrad/core";
import { nn, optim, tensor, tidy } from "@dualgrad/eager";
import { fn, mseLoss, Linear, SGD, tensor as hostTensor, type HostTensor, type SymbolicTensor } from "@dualgrad/graph";

const model = new nn.Linear(1, 1);
const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
const x = tensor([[1], [2]]);
const y = tensor([[5], [8]]);
let eagerLoss = 0;
for (let i = 0; i < 50; i++) {
  eagerLoss = tidy(() => {
    opt.zeroGrad();
    const loss = nn.functional.mseLoss(model.forward(x), y);
    loss.backward();
    opt.step();
    return loss.item();
  });
}

const layer = new Linear(1, 1);
const gopt = new SGD({ lr: 0.1 });
const step = fn<HostTensor>((a: SymbolicTensor, b: SymbolicTensor) => {
  const loss = mseLoss(layer.forward(a), b);
  gopt.minimize(loss, layer.parameters());
  return loss;
});
let graphLoss = 0;
for (let i = 0; i < 50; i++) graphLoss = step(hostTensor([[1], [2]]), hostTensor([[5], [8]])).item();
console.log(JSON.stringify({ eagerLoss, graphLoss, live: allocator.stats().liveBytes > 0 }));
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022", module: "nodenext", moduleResolution: "nodenext", strict: true,
    noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, outDir: "out", types: ["node"],
    skipLibCheck: false, lib: ["ES2022", "ESNext.Disposable"],
  },
  include: ["*.ts"],
};

describe.skipIf(!hasNpm)("npm-installable packages", () => {
  let dir = "";
  const npmTgz: Record<string, string> = {};
  const pnpmTgz: Record<string, string> = {};

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "dualgrad-pack-"));
    for (const [tool, out] of [["npm", npmTgz], ["pnpm", pnpmTgz]] as const) {
      const dest = join(dir, tool);
      mkdirSync(dest);
      for (const p of PACKAGES) {
        const pkg = join(root, "packages", p);
        run(tool, ["pack", "--pack-destination", dest], pkg);
        const { version } = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { version: string };
        out[p] = join(dest, `dualgrad-${p}-${version}.tgz`);
      }
    }
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const p of PACKAGES) {
    it(`${p}: both tarballs ship the same files, a LICENSE and README, no benches, and every manifest path`, () => {
      const files = tarFiles(npmTgz[p]);
      expect(tarFiles(pnpmTgz[p])).toEqual(files);
      expect(files).toContain("LICENSE");
      expect(files).toContain("README.md");
      expect(files.filter((f) => /(^|\/)bench\/|\.test\.|\.bench\./.test(f))).toEqual([]);
      for (const tgz of [npmTgz[p], pnpmTgz[p]]) {
        const manifest = JSON.parse(run("tar", ["-xzOf", tgz, "package/package.json"], root)) as Record<string, unknown>;
        expect(JSON.stringify(manifest), "a workspace: range cannot be installed").not.toContain("workspace:");
        for (const target of manifestTargets(manifest)) expect(files, `${p} points at ${target}`).toContain(target);
      }
    });
  }

  it("installs with npm outside the workspace; a strict nodenext consumer and the READMEs' examples type-check, the consumer runs, dualgrad --help runs", () => {
    const app = join(dir, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...PACKAGES.map((p) => npmTgz[p])], app);
    // Source maps must point at files that were installed with them.
    for (const p of PACKAGES) {
      const dist = join(app, "node_modules/@dualgrad", p, "dist");
      for (const map of readdirSync(dist, { recursive: true }).map(String).filter((f) => f.endsWith(".map"))) {
        const { sources } = JSON.parse(readFileSync(join(dist, map), "utf8")) as { sources: string[] };
        for (const s of sources) expect(existsSync(resolve(dirname(join(dist, map)), s)), `${p}/dist/${map} -> ${s}`).toBe(true);
      }
    }
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));
    writeFileSync(join(app, "index.ts"), CONSUMER);
    // The README's TypeScript examples must type-check as a user would compile them (not run).
    readmeBlocks().forEach((code, i) => writeFileSync(join(app, `readme-${i}.ts`), code));
    // @types/node comes from the workspace: the consumer's own node_modules has only the packages.
    symlinkTypesNode(app);
    run(tsc, ["-p", "tsconfig.json"], app);
    const result = JSON.parse(run("node", ["out/index.js"], app)) as { eagerLoss: number; graphLoss: number; live: boolean };
    expect(result.eagerLoss).toBeLessThan(0.5);
    expect(result.graphLoss).toBeLessThan(0.5);
    const help = run(join(app, "node_modules/.bin/dualgrad"), ["--help"], app);
    expect(help).toMatch(/^Usage: dualgrad/);
    expect(help).toContain("bench");
  }, 180_000);
});

/** The ```ts blocks of the README and the packages' READMEs, each made a module (so blocks do not share a global scope). */
function readmeBlocks(): string[] {
  const readmes = ["README.md", ...PACKAGES.map((p) => `packages/${p}/README.md`)].map((f) => readFileSync(join(root, f), "utf8"));
  const blocks = readmes.flatMap((readme) => [...readme.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]));
  expect(blocks.length).toBeGreaterThan(0);
  return blocks.map((b) => (/^(import|export) /m.test(b) ? b : `${b}\nexport {};\n`));
}

/** Makes the workspace's @types/node visible to the consumer (the packages' types reference Node's). */
function symlinkTypesNode(app: string): void {
  const types = join(app, "node_modules/@types");
  mkdirSync(types, { recursive: true });
  symlinkSync(join(root, "node_modules/@types/node"), join(types, "node"));
}
