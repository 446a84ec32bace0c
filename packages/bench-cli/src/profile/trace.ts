import type { ProfileSpan } from "@dualgrad/core";

/** One Chrome trace event of phase `X` (a complete span); times in microseconds. */
export interface TraceEvent {
  name: string;
  cat: string;
  ph: "X";
  ts: number;
  dur: number;
  pid: number;
  tid: number;
  args: Record<string, string | number>;
}

/** One track of the trace: a frontend's spans. */
export interface TraceTrack {
  name: string;
  spans: readonly ProfileSpan[];
}

/**
 * The Chrome trace-event JSON object (`{"traceEvents": [...]}`) that Perfetto and
 * chrome://tracing open: each track on its own thread of one process, events sorted by start
 * (parents before the children they contain), times relative to the earliest span.
 */
export function toChromeTrace(tracks: readonly TraceTrack[]): { traceEvents: TraceEvent[]; displayTimeUnit: "ms" } {
  const origin = Math.min(...tracks.flatMap((t) => t.spans.map((s) => s.start)));
  const traceEvents: TraceEvent[] = [];
  tracks.forEach((track, k) => {
    const sorted = [...track.spans].sort((a, b) => a.start - b.start || b.end - a.end);
    for (const s of sorted) {
      const args: Record<string, string | number> = { frontend: track.name };
      if (s.shapes !== undefined) args.shapes = s.shapes;
      if (s.bytes !== undefined) args.bytes = s.bytes;
      // Whole nanoseconds first, so a child's interval stays inside its parent's after rounding.
      const startNs = Math.round((s.start - origin) * 1e6);
      const endNs = Math.round((s.end - origin) * 1e6);
      traceEvents.push({ name: s.name, cat: s.cat, ph: "X", ts: startNs / 1000, dur: (endNs - startNs) / 1000, pid: 1, tid: k + 1, args });
    }
  });
  return { traceEvents, displayTimeUnit: "ms" };
}
