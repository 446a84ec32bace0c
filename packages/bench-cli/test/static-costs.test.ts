import { describe, expect, it } from "vitest";
import { breakEvenSteps, cumulativeAt, recordCold, staticCosts, type StaticCosts } from "../src/runners/static-costs.js";

/** A cold run of `n` steps: the first `cold` ms (a trace where `traced`), then `steady` ms each. */
function run(n: number, cold: number, steady: number, tracedAt: number[] = []): StaticCosts {
  const times = Array.from({ length: n }, (_, i) => (i === 0 ? cold : tracedAt.includes(i) ? cold : steady));
  const traced = times.map((_, i) => (i === 0 && tracedAt.length > 0) || tracedAt.includes(i));
  return staticCosts({ times, traced }, steady);
}

describe("static costs", () => {
  it("counts traces, their cost over the steady step, and the cold first step", () => {
    const c = run(100, 50, 1, [0, 10, 20]);
    expect(c.traces).toBe(3);
    expect(c.compileMsPerTrace).toBe(49);
    expect(c.coldFirstStepMs).toBe(50);
    expect(cumulativeAt(c, 100)).toBeCloseTo(50 * 3 + 97, 9);
    // Past the measured steps the curve grows at the steady rate.
    expect(cumulativeAt(c, 200)).toBeCloseTo(50 * 3 + 97 + 100, 9);
    expect(run(10, 3, 1).compileMsPerTrace).toBeNull();
  });

  it("break-even: where the graph's total (compile included) falls below eager's, or never", () => {
    const eager = run(100, 2, 2);
    // Graph: 40 ms first step then 1 ms/step: 40 + (n-1) <= 2n from n = 39.
    expect(breakEvenSteps(eager, run(100, 40, 1, [0]))).toBe(39);
    // Beyond the measured range: 300 + (n-1) <= 2n from n = 299 (extrapolated).
    expect(breakEvenSteps(eager, run(100, 300, 1, [0]))).toBe(299);
    // A graph slower per step never catches up.
    expect(breakEvenSteps(eager, run(100, 40, 3, [0]))).toBeNull();
  });

  it("recordCold times every call and notes which traced", () => {
    let traces = 0;
    const { step, run: r } = recordCold(() => {
      if (traces === 0) traces++;
      return 0.5;
    }, () => traces);
    expect([step(), step()]).toEqual([0.5, 0.5]);
    expect(r.traced).toEqual([true, false]);
    expect(r.times).toHaveLength(2);
  });
});
