// The part of autocannon's API the benches use (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';
  interface Options {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    connections?: number;
    duration?: number;
    amount?: number;
    pipelining?: number;
    timeout?: number;
    overallRate?: number;
  }
  interface Histogram {
    average: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
  }
  interface Result {
    latency: Histogram;
    requests: { average: number; total: number; sent: number };
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
  }
  // 'response' (client, statusCode, bytes, responseTimeMs): the time is fractional, unlike the result's
  // histogram (whole milliseconds), which is too coarse for sub-millisecond overheads.
  interface Instance extends EventEmitter {
    stop(): void;
  }
  function autocannon(options: Options, done: (err: Error | null, result: Result) => void): Instance;
  // Last, so ReturnType<typeof autocannon> is the promise form.
  function autocannon(options: Options): Promise<Result>;
  export = autocannon;
}
