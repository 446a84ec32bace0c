/**
 * Dynamic batching, as Triton's dynamic batcher does it: when the model is free, what is waiting
 * runs at once as one call of up to `maxBatch` rows; nothing waits for company unless asked to
 * (`maxWaitMs`, Triton's max_queue_delay). Node runs the model on its one thread, so while a
 * batch computes, requests arriving meanwhile queue up and run together as the next batch: under
 * load the batches fill themselves, and a lone request pays no wait. The queue is bounded: beyond
 * `maxQueue` waiting requests, `submit` refuses (the server answers 429) rather than let latency
 * grow without limit.
 */

/** Thrown by {@link DynamicBatcher.submit} when the queue is full. */
export class QueueFullError extends Error {
  override name = "QueueFullError";
}

/** Batching settings. */
export interface BatcherOptions {
  /** Most rows in one call. */
  maxBatch: number;
  /** Group requests at all; when false every request runs alone, at once. */
  batching: boolean;
  /**
   * Longest a request waits for others to join its batch when fewer than `maxBatch` rows wait.
   * With 0 (the server's default) a batch is whatever arrived by the end of the current turn of
   * the event loop: the requests that queued up while the last batch computed.
   */
  maxWaitMs: number;
  /** Most requests waiting at once. */
  maxQueue: number;
}

interface Pending {
  x: Float32Array;
  rows: number;
  resolve: (y: Float32Array) => void;
  reject: (e: unknown) => void;
}

/** Groups concurrent requests into batched calls of `run`. */
export class DynamicBatcher {
  private readonly queue: Pending[] = [];
  /** Rows in `queue`. */
  private queuedRows = 0;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private drained: (() => void)[] = [];

  /** @param run computes `[rows, out]` outputs for `[rows, in]` inputs (rows ≤ maxBatch). */
  constructor(
    private readonly run: (x: Float32Array, rows: number) => Float32Array,
    private readonly inputSize: number,
    private readonly outputSize: number,
    readonly options: BatcherOptions,
    /** Called with the rows of every batch that ran (for metrics). */
    private readonly onBatch: (rows: number) => void = () => {},
  ) {}

  /** Requests waiting (a batch runs synchronously, so none is ever half-done between turns). */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues `rows` instances (`x` row-major); resolves with their outputs. Throws QueueFullError when full, RangeError for rows outside 1..maxBatch. */
  submit(x: Float32Array, rows: number): Promise<Float32Array> {
    if (rows < 1 || rows > this.options.maxBatch) throw new RangeError(`a request must have 1 to ${this.options.maxBatch} rows, got ${rows}`);
    if (this.queue.length >= this.options.maxQueue) throw new QueueFullError(`the queue is full (${this.options.maxQueue} requests waiting)`);
    return new Promise((resolve, reject) => {
      this.queue.push({ x, rows, resolve, reject });
      this.queuedRows += rows;
      if (!this.options.batching || this.options.maxWaitMs === 0 || this.queuedRows >= this.options.maxBatch) this.flushSoon();
      else this.timer ??= setTimeout(() => this.flushSoon(), this.options.maxWaitMs);
    });
  }

  /** Runs what is waiting now, without waiting for company, and resolves once nothing is left (a graceful shutdown). */
  drain(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    this.flushSoon();
    return new Promise((r) => this.drained.push(r));
  }

  private flushSoon(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate lets requests whose bodies already arrived join before the batch runs.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const batch: Pending[] = [];
    let rows = 0;
    const limit = this.options.batching ? Infinity : 1;
    while (this.queue.length > 0 && batch.length < limit && rows + this.queue[0].rows <= this.options.maxBatch) {
      const p = this.queue.shift()!;
      batch.push(p);
      rows += p.rows;
      this.queuedRows -= p.rows;
    }
    if (batch.length > 0) this.runBatch(batch, rows);
    // Whatever is left has waited already: run it next, without a new wait.
    if (this.queue.length > 0) this.flushSoon();
    else this.notifyIfIdle();
  }

  private runBatch(batch: Pending[], rows: number): void {
    try {
      const x = batch.length === 1 ? batch[0].x : new Float32Array(rows * this.inputSize);
      if (batch.length > 1) {
        let at = 0;
        for (const p of batch) {
          x.set(p.x, at * this.inputSize);
          at += p.rows;
        }
      }
      const y = this.run(x, rows);
      this.onBatch(rows);
      let at = 0;
      for (const p of batch) {
        p.resolve(y.slice(at * this.outputSize, (at + p.rows) * this.outputSize));
        at += p.rows;
      }
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
  }

  private notifyIfIdle(): void {
    if (this.pending > 0) return;
    const waiters = this.drained.splice(0);
    for (const w of waiters) w();
  }
}
