/**
 * A typed array that grows as values are appended, for columns whose row count is known only at
 * the end of a file. Doubling keeps appends amortised O(1); the values stay in a typed array of
 * the final dtype (4 or 8 bytes each), never in JS objects.
 */
export class GrowableArray<A extends Float32Array | Float64Array> {
  private data: A;
  /** How many values have been appended. */
  length = 0;

  /** @param make allocates an array of the element type, e.g. `(n) => new Float32Array(n)`. */
  constructor(private readonly make: (n: number) => A) {
    this.data = make(1024);
  }

  /** Appends one value. */
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = this.make(2 * this.data.length);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }

  /** The values appended, as an array of exactly `length` (a copy, so the slack is freed). */
  toArray(): A {
    return this.data.slice(0, this.length) as A;
  }
}
