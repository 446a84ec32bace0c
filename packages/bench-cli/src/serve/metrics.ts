/**
 * The server's counters in the Prometheus text exposition format (version 0.0.4): predict
 * requests by status code, a request latency histogram, a batch size histogram, the queue depth
 * and the process's CPU time. Small enough to keep here rather than pull in a metrics client.
 */

/** A cumulative histogram with fixed upper bounds, rendered as `_bucket{le=...}`, `_sum`, `_count`. */
class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= this.bounds[i]) this.counts[i]++;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.bounds.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines;
  }
}

/** CPU time of the whole process (every thread, the gemm workers included). */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** What `/metrics` reports. */
export class ServerMetrics {
  private readonly byCode = new Map<number, number>();
  readonly latency = new Histogram(
    "dualgrad_request_duration_seconds",
    "Time from a predict request's arrival to its response, in seconds.",
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  );
  readonly batchSize = new Histogram("dualgrad_batch_size", "Rows per batched model call.", [1, 2, 4, 8, 16, 32, 64, 128, 256]);

  constructor(private readonly queueDepth: () => number) {}

  /** Records one finished predict request. */
  request(code: number, seconds: number): void {
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
    this.latency.observe(seconds);
  }

  /** The exposition text. */
  render(): string {
    const codes = [...this.byCode.entries()].sort((a, b) => a[0] - b[0]);
    const errors = codes.filter(([c]) => c >= 400).reduce((n, [, v]) => n + v, 0);
    return [
      "# HELP dualgrad_requests_total Predict requests answered, by HTTP status code.",
      "# TYPE dualgrad_requests_total counter",
      ...codes.map(([c, v]) => `dualgrad_requests_total{code="${c}"} ${v}`),
      "# HELP dualgrad_request_errors_total Predict requests answered with a 4xx or 5xx status.",
      "# TYPE dualgrad_request_errors_total counter",
      `dualgrad_request_errors_total ${errors}`,
      ...this.latency.render(),
      ...this.batchSize.render(),
      // The standard process metric, so a load test can divide the server's CPU by its requests.
      "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
      "# TYPE process_cpu_seconds_total counter",
      `process_cpu_seconds_total ${cpuSeconds()}`,
      "# HELP dualgrad_queue_depth Predict requests waiting for a batch.",
      "# TYPE dualgrad_queue_depth gauge",
      `dualgrad_queue_depth ${this.queueDepth()}`,
      "",
    ].join("\n");
  }
}
