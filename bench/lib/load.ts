import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';
import { envNumber } from './processes';

// Load generation: autocannon (closed loop, keep-alive connections) with every response time kept at full
// resolution (autocannon's own histogram has whole milliseconds, too coarse for sub-millisecond overheads), and a
// sequential streaming probe for time to first token.

export interface Target {
  name: string;
  url: string; // e.g. http://127.0.0.1:8080/v1/chat/completions
  headers: Record<string, string>;
  pid?: number; // the gateway process, for CPU per request and RSS
}

export interface LoadStats {
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  errors: number; // connection errors, timeouts and non-2xx answers
  errorRate: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  cpuUsPerRequest: number | null; // the target process's CPU time per answered request
}

export const quantile = (sorted: Float64Array | number[], q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];

/** The middle value (the mean of the two middle ones for an even count), ignoring what is not a number. */
export const median = (xs: number[]): number => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

export const round = (x: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

const cpuTicks = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime, in USER_HZ (100/s)
  } catch {
    return NaN;
  }
};

// A process's CPU by thread kind: its main thread, V8's helper threads (garbage collection, the optimizing
// compiler), worker threads (the gateway's Kafka producer) and the rest (libuv's pool), in USER_HZ ticks.
export type ThreadTicks = Record<'main' | 'v8' | 'workers' | 'other', number>;

export const threadTicks = (pid: number): ThreadTicks => {
  const ticks: ThreadTicks = { main: 0, v8: 0, workers: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const kind =
        tid === String(pid)
          ? 'main'
          : comm === 'V8Worker'
            ? 'v8'
            : comm === 'WorkerThread'
              ? 'workers'
              : 'other';
      ticks[kind] += Number(f[11]) + Number(f[12]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ticks;
};

export const chatBody = (stream = false): string =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'how fast is this gateway' }],
    ...(stream ? { stream: true } : {}),
  });

// Chat completions over keep-alive connections for `seconds`.
const chatLoad = (target: Target, connections: number, seconds: number) => ({
  url: target.url,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json', ...target.headers },
  body: chatBody(),
  connections,
  duration: seconds,
  timeout: 10,
});

export const runLoad = (target: Target, connections: number, seconds: number): Promise<LoadStats> =>
  new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16);
    let n = 0;
    const ticks0 = target.pid ? cpuTicks(target.pid) : NaN;
    const instance = autocannon(chatLoad(target, connections, seconds), (err, result) => {
      if (err) return reject(err);
      const ticks = target.pid ? cpuTicks(target.pid) - ticks0 : NaN;
      const sorted = latencies.subarray(0, n).sort();
      let sum = 0;
      for (let i = 0; i < n; i++) sum += sorted[i];
      const errors = result.errors + result.non2xx;
      const attempted = n + errors;
      resolve({
        connections,
        seconds: result.duration,
        requests: n,
        rps: round(n / result.duration, 1),
        errors,
        errorRate: attempted ? errors / attempted : 0,
        mean: round(sum / Math.max(1, n), 3),
        p50: round(quantile(sorted, 0.5), 3),
        p90: round(quantile(sorted, 0.9), 3),
        p99: round(quantile(sorted, 0.99), 3),
        p999: round(quantile(sorted, 0.999), 3),
        max: round(sorted[n - 1] ?? NaN, 3),
        cpuUsPerRequest: Number.isFinite(ticks) && n > 0 ? Math.round((ticks * 10_000) / n) : null,
      });
    });
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status < 200 || status >= 300) return;
      if (n === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[n++] = ms;
    });
  });

// The target's CPU per thread kind over an open-loop load of `rate` requests per second (autocannon's overallRate
// over `connections` keep-alive connections), and the requests answered. Several targets loaded at once, far below
// what saturates the machine, share its state (other tenants, frequency, the other processes): their ratios within
// one window move a few percent where sequential runs of one build move 1.6-2x (bench/ab-gateway.ts).
export const cpuAtRate = (
  target: Target,
  rate: number,
  seconds: number,
  connections = 10,
): Promise<{ requests: number; ticks: ThreadTicks }> =>
  new Promise((resolve, reject) => {
    const ticks0 = threadTicks(target.pid!);
    let ok = 0;
    const instance = autocannon({ ...chatLoad(target, connections, seconds), overallRate: rate }, (err) => {
      if (err) return reject(err);
      const ticks1 = threadTicks(target.pid!);
      const kinds = Object.keys(ticks0) as (keyof ThreadTicks)[];
      resolve({
        requests: ok,
        ticks: Object.fromEntries(kinds.map((k) => [k, ticks1[k] - ticks0[k]])) as ThreadTicks,
      });
    });
    instance.on('response', (_client: unknown, status: number) => {
      if (status >= 200 && status < 300) ok++;
    });
  });

/** CPU µs per request from ticks (USER_HZ, 100 a second). */
export const usPerRequest = (ticks: number, requests: number): number =>
  (ticks * 10_000) / Math.max(requests, 1);

export interface TtftStats {
  samples: number;
  errors: number;
  p50: number;
  p99: number;
  error?: string;
}

// Time from sending a streaming chat request to the first body bytes (the first SSE event), one request at a
// time over a keep-alive connection; each stream is read to its end before the next starts.
export const measureTtft = async (target: Target, samples: number): Promise<TtftStats> => {
  const agent = new Agent({ connections: 1, keepAliveTimeout: 30_000 });
  const times: number[] = [];
  let errors = 0;
  let error: string | undefined;
  try {
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      try {
        const res = await request(target.url, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', ...target.headers },
          body: chatBody(true),
        });
        let first = NaN;
        let text = '';
        for await (const chunk of res.body) {
          if (Number.isNaN(first)) first = performance.now() - t0;
          if (text.length < 200) text += (chunk as Buffer).toString('utf8');
        }
        if (res.statusCode !== 200 || !text.startsWith('data:')) {
          errors++;
          error ??= `HTTP ${res.statusCode}: ${text.slice(0, 160)}`;
        } else times.push(first);
      } catch (e) {
        errors++;
        error ??= (e as Error).message;
      }
    }
  } finally {
    await agent.close();
  }
  times.sort((a, b) => a - b);
  return {
    samples: times.length,
    errors,
    p50: round(quantile(times, 0.5), 3),
    p99: round(quantile(times, 0.99), 3),
    ...(error ? { error } : {}),
  };
};

// A few seconds of traffic before measuring: JIT, connection pools, caches.
// Long enough for V8 to have optimized most of the request path (BENCH_WARMUP_SECONDS, default 10): at 3 s a gateway
// was still compiling through the measured rounds, a sixth of its CPU in V8's compiler threads, which a process
// serving for hours does not spend.
export const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 10);

export const warmUp = async (target: Target, seconds = WARMUP_SECONDS): Promise<void> => {
  await runLoad(target, 10, seconds);
};
