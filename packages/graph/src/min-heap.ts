/**
 * A binary min-heap of integers (node ids): push and pop in O(log n). The scheduling pass uses
 * it to always emit the lowest-numbered ready node, which keeps its order deterministic and
 * close to the traced order without rescanning every candidate after each placement.
 */
export class MinHeap {
  private readonly items: number[] = [];

  /** Number of items. */
  get size(): number {
    return this.items.length;
  }

  /** Adds `x`. */
  push(x: number): void {
    const a = this.items;
    let i = a.push(x) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent] <= x) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = x;
  }

  /** Removes and returns the smallest item (undefined when empty). */
  pop(): number | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const c = l + 1 < a.length && a[l + 1] < a[l] ? l + 1 : l;
      if (a[c] >= last) break;
      a[i] = a[c];
      i = c;
    }
    a[i] = last;
    return top;
  }
}
