import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Where the PyTorch peer runs: the system's Python (`/usr/bin/python3`, or `DUALGRAD_PYTHON`)
 * with its own `torch`, nothing installed by us. Its own module so that checking for it does not
 * load the runner (torch.ts), as index.ts checks every peer before running any.
 */

/** The Python the torch peer uses: `DUALGRAD_PYTHON`, else the system's. */
export function pythonPath(): string {
  return process.env.DUALGRAD_PYTHON || "/usr/bin/python3";
}

/** The script that trains and times one model in PyTorch (shipped in the package's scripts/). */
export const TORCH_SCRIPT = fileURLToPath(new URL("../../scripts/torch_peer.py", import.meta.url));

type Availability = { available: true; versions: Record<string, string> } | { available: false; note: string };

// One check per process and Python: `import torch` takes seconds, and bench asks for each of
// the four torch peers.
const checked = new Map<string, Availability>();

/** Whether `pythonPath()` can import torch: its versions, or the one-line note to print. */
export function torchAvailable(): Availability {
  const python = pythonPath();
  const hit = checked.get(python);
  if (hit) return hit;
  let status: Availability;
  if (!existsSync(python)) {
    status = { available: false, note: `peer torch skipped: no Python at ${python} (set DUALGRAD_PYTHON to a Python with PyTorch)` };
  } else {
    const run = spawnSync(python, ["-c", "import sys, torch; print(torch.__version__, sys.version.split()[0])"], { encoding: "utf8", timeout: 120_000 });
    const [torch, py] = (run.stdout ?? "").trim().split(/\s+/);
    status =
      run.status === 0 && torch
        ? { available: true, versions: { torch, python: py ?? "unknown" } }
        : { available: false, note: `peer torch skipped: ${python} cannot import torch (Debian: apt-get install python3-torch; or set DUALGRAD_PYTHON)` };
  }
  checked.set(python, status);
  return status;
}
