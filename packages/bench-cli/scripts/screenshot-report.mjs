#!/usr/bin/env node
/**
 * Renders an HTML report to a PNG with headless Chromium, to look at the charts without a
 * desktop (and to check in tests that the page renders at all).
 *
 *   node packages/bench-cli/scripts/screenshot-report.mjs report.html report.png
 *
 * Options (environment): CHROMIUM (default /usr/bin/chromium), SCREENSHOT_TIMEOUT_MS (default
 * 90000), SCREENSHOT_WINDOW (default 1280,2000).
 *
 * Exit codes: 0 written; 1 Chromium ran but no valid PNG came out (or it timed out); 2 bad
 * arguments or Chromium missing. Node built-ins only, so it runs before `pnpm install`.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function fail(code, message) {
  process.stderr.write(`screenshot-report: ${message}\n`);
  process.exit(code);
}

const [htmlArg, pngArg] = process.argv.slice(2);
if (!htmlArg || !pngArg) fail(2, "usage: screenshot-report.mjs <report.html> <out.png>");

const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const timeoutMs = Number(process.env.SCREENSHOT_TIMEOUT_MS || 90_000);
const windowSize = process.env.SCREENSHOT_WINDOW || "1280,2000";
const html = resolve(htmlArg);
const png = resolve(pngArg);

if (!existsSync(chromium)) fail(2, `${chromium} not found; install Chromium (e.g. 'apt-get install -y chromium') or set CHROMIUM`);
if (!existsSync(html) || !statSync(html).isFile()) fail(2, `'${htmlArg}' is not a file`);

// A stale PNG from an earlier run would make a failed render look like a success.
rmSync(png, { force: true });
// A fresh profile each run: no first-run state, no lock held by another Chromium.
const profile = mkdtempSync(join(tmpdir(), "dualgrad-chromium-"));

const args = [
  "--headless",
  "--no-sandbox", // containers and root lack the user namespaces the sandbox needs
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  `--user-data-dir=${profile}`,
  `--screenshot=${png}`,
  `--window-size=${windowSize}`,
  // pathToFileURL percent-encodes spaces, '#' and '?' that a bare "file://" + path would break on.
  pathToFileURL(html).href,
];

const result = await new Promise((done) => {
  // detached: Chromium forks helpers (zygote, GPU, network); on timeout the whole process
  // group must go, or the helpers outlive this script.
  const child = spawn(chromium, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const keep = (d) => {
    output = (output + d).slice(-4000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  }, timeoutMs);
  child.on("error", (e) => {
    clearTimeout(timer);
    done({ code: null, output: String(e), timedOut });
  });
  child.on("close", (code) => {
    clearTimeout(timer);
    done({ code, output, timedOut });
  });
});

rmSync(profile, { recursive: true, force: true });

const tail = result.output.trim().split("\n").slice(-8).join("\n");
if (result.timedOut) fail(1, `Chromium did not finish within ${timeoutMs} ms\n${tail}`);
let bytes;
try {
  bytes = readFileSync(png);
} catch {
  fail(1, `Chromium exited with ${result.code} and wrote no PNG to '${pngArg}'\n${tail}`);
}
if (bytes.length < PNG_SIGNATURE.length || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
  fail(1, `'${pngArg}' is not a PNG (${bytes.length} bytes)`);
}
process.stdout.write(`${png} (${bytes.length} bytes)\n`);
