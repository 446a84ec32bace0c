import { sameGraph, type Graph } from "../ir.js";
import { constantFolding } from "./constant-folding.js";
import { commonSubexpressionElimination } from "./cse.js";
import { deadCodeElimination } from "./dce.js";
import { algebraicSimplification } from "./simplify.js";
import { matmulTransposeFlags } from "./transpose-flags.js";
import { unrollScans } from "./unroll-scan.js";

/**
 * The optimisation pipeline over the IR (fusion and memory planning are separate stages that
 * run after it). Every pass is a pure Graph -> Graph function, so the pipeline is just repeated
 * composition, and any pass can be switched off to see (or rule out) its effect.
 */

/** Names of the switchable passes, as used on the command line (`--disable cse,constfold`). */
export type PassName = "unrollScan" | "constfold" | "cse" | "simplify" | "transposeFlags" | "dce";

/**
 * The order one round runs the passes in. Unrolling first (the rest then see straight-line code),
 * simplify next (it exposes the rest), DCE last (it sweeps up).
 */
export const PASS_ORDER: readonly PassName[] = ["unrollScan", "simplify", "transposeFlags", "constfold", "cse", "dce"];

/** Each pass by name, with default options. */
export const PASSES: Record<PassName, (g: Graph) => Graph> = {
  unrollScan: (g) => unrollScans(g),
  simplify: algebraicSimplification,
  transposeFlags: matmulTransposeFlags,
  constfold: (g) => constantFolding(g),
  cse: commonSubexpressionElimination,
  dce: deadCodeElimination,
};

const DESCRIPTIONS: Record<PassName, string> = {
  unrollScan: "unroll scans with a static trip count into straight-line code: short ones fully (length x body nodes <= 4096), or as their `unroll` option says",
  simplify: "algebraic identities: x*1, x+0, neg(neg x), transpose/reshape chains, no-op reshape/cast, sums over size-1 axes",
  transposeFlags: "fold transposes of the last two axes into matmul's transA/transB flags",
  constfold: "evaluate ops whose inputs are all constants (up to 4096 elements) at compile time",
  cse: "merge nodes computing the same op on the same inputs with the same attributes",
  dce: "remove nodes that no output or update depends on (inputs are kept)",
};

/** A one-line description of a pass, for `--help` text. */
export function describePass(name: PassName): string {
  return DESCRIPTIONS[name];
}

/** Options of {@link optimize}. */
export interface OptimizeOptions {
  /** Passes to skip. */
  disable?: readonly PassName[];
}

/**
 * Runs unrollScan, simplify, transposeFlags, constfold, cse and dce (minus the disabled ones) in rounds until
 * a round leaves the graph unchanged ({@link sameGraph}), at most 10 rounds: one pass's output is often
 * another's opportunity (folding makes constants CSE can merge, CSE makes `neg(neg x)` visible).
 * With every pass disabled the graph comes back unchanged.
 */
export function optimize(g: Graph, options: OptimizeOptions = {}): Graph {
  const disabled = new Set(options.disable ?? []);
  const passes = PASS_ORDER.filter((p) => !disabled.has(p)).map((p) => PASSES[p]);
  let current = g;
  for (let round = 0; round < 10; round++) {
    const next = passes.reduce((acc, pass) => pass(acc), current);
    const done = sameGraph(next, current);
    current = next;
    if (done) break;
  }
  return current;
}
