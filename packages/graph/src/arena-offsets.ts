/**
 * Arena offsets for buffers whose lifetimes are all known in advance, "greedy by size" (as
 * TFLite's planner): the biggest buffers are placed first, each at the lowest offset that does
 * not overlap any placed buffer live at the same time. Placing by size rather than by time avoids
 * the fragmentation a first-come free list leaves behind.
 *
 * The placed buffers are kept in lanes, one per distinct offset, ordered by offset. Two buffers
 * at the same offset cannot be live at the same time, so a lane's buffers are disjoint in time
 * and sorted by start, and whether a lane clashes with a lifetime is a binary search. Placing one
 * buffer scans the lanes below the offset it ends up at, so the cost is O(n·w·log n) for n
 * buffers at most w of which are live at once, instead of comparing every pair (with a sort per
 * buffer) as the textbook version does: a 100k-op chain has w of 2 or 3, and the 3,000-layer
 * training step's w is its 3,000 saved activations.
 */

/** A buffer's memory needs: bytes, and the steps it is live for (inclusive); `offset` is the result. */
export interface Lifetime {
  bytes: number;
  start: number;
  end: number;
  offset: number;
}

/** The buffers placed at one offset: disjoint in time, sorted by start (so their ends are sorted too). */
interface Lane {
  offset: number;
  items: Lifetime[];
  minStart: number;
  maxEnd: number;
}

/** The first index in [0, length) where `reached` holds (length when none); `reached` must be monotone. */
function firstIndex(length: number, reached: (i: number) => boolean): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (reached(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Index of the first item whose end is at or after `t` (items.length when none). */
const firstEndingFrom = (items: readonly Lifetime[], t: number) => firstIndex(items.length, (i) => items[i].end >= t);

/** The end (offset + bytes) of the largest buffer in `lane` live during [start, end], or -1 when none is. */
function laneReach(lane: Lane, start: number, end: number): number {
  if (lane.minStart > end || lane.maxEnd < start) return -1;
  const items = lane.items;
  let reach = -1;
  for (let i = firstEndingFrom(items, start); i < items.length && items[i].start <= end; i++) {
    reach = Math.max(reach, lane.offset + items[i].bytes);
  }
  return reach;
}

/** Sets every lifetime's `offset` and returns the arena size. */
export function assignOffsets(lifetimes: readonly Lifetime[]): number {
  const order = [...lifetimes].sort((a, b) => b.bytes - a.bytes || a.start - b.start);
  const lanes: Lane[] = [];
  let size = 0;
  for (const l of order) {
    // First fit: step over every lane holding a buffer live at the same time, lowest offset first.
    let offset = 0;
    for (const lane of lanes) {
      if (offset + l.bytes <= lane.offset) break;
      offset = Math.max(offset, laneReach(lane, l.start, l.end));
    }
    l.offset = offset;
    size = Math.max(size, offset + l.bytes);
    const at = firstIndex(lanes.length, (i) => lanes[i].offset >= offset);
    let lane = lanes[at];
    if (lane === undefined || lane.offset !== offset) {
      lane = { offset, items: [], minStart: l.start, maxEnd: l.end };
      lanes.splice(at, 0, lane);
    }
    lane.items.splice(firstEndingFrom(lane.items, l.start), 0, l);
    lane.minStart = Math.min(lane.minStart, l.start);
    lane.maxEnd = Math.max(lane.maxEnd, l.end);
  }
  return size;
}
