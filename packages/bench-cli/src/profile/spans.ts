import type { ProfileSpan } from "@dualgrad/core";

/** A span with its nesting worked out: its parent's index (or -1) and its self time. */
export interface NestedSpan extends ProfileSpan {
  parent: number;
  /** Duration minus the durations of its direct children (ms). */
  selfMs: number;
}

/**
 * Orders spans by start (a parent before the children it contains: longer first on a tie) and
 * links each to the innermost span containing it. Spans come from one thread's nested calls, so
 * any two either nest or are disjoint; the recorder adds children before parents, hence the sort.
 */
export function nestSpans(spans: readonly ProfileSpan[]): NestedSpan[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const out: NestedSpan[] = [];
  const stack: number[] = [];
  for (const s of sorted) {
    while (stack.length > 0 && out[stack[stack.length - 1]].end < s.end) stack.pop();
    const parent = stack.length > 0 ? stack[stack.length - 1] : -1;
    const i = out.push({ ...s, parent, selfMs: s.end - s.start }) - 1;
    if (parent >= 0) out[parent].selfMs -= s.end - s.start;
    stack.push(i);
  }
  return out;
}
