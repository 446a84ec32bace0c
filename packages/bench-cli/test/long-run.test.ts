import { describe, expect, it } from "vitest";
import { longRun } from "../src/bench/long-run.js";

/**
 * The short version of the soak test (the full one: `node packages/bench-cli/dist/bench/long-run.js 10000`):
 * live tensor bytes must not move at all between checkpoints on either frontend.
 */
describe("long run: nothing leaks", () => {
  for (const frontend of ["eager", "graph"] as const) {
    it(`${frontend}: 2,000 steps of mlp-small keep live tensor bytes flat`, () => {
      const samples = longRun(frontend, 2000, 250);
      expect(samples.length).toBe(9);
      const first = samples[0].liveTensorBytes;
      for (const s of samples) expect(s.liveTensorBytes, `step ${s.step}`).toBe(first);
    });
  }
});
