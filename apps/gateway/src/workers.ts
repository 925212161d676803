import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { serveMetricsFromPrimary } from '@keygate/platform/cluster/cluster-metrics';

// GATEWAY_WORKERS (default: the machine's cores) gateway processes on one port, through Node's cluster module:
// the primary only forks and watches; each worker is a full gateway (its own key cache and Redis connections, a
// member of the shared projection consumer group, its own usage journal), accepting connections from the one
// listening socket. A worker that crashes is replaced; one that cannot start stops the whole gateway (a
// configuration error would only crash again). SIGTERM/SIGINT stop every worker gracefully, then the primary.

export const gatewayWorkers = (env: NodeJS.ProcessEnv): number => {
  const raw = env.GATEWAY_WORKERS;
  if (raw === undefined || raw === '') return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new Error(`GATEWAY_WORKERS must be an integer from 1 to 64 (got '${raw}')`);
  return n;
};

export const WORKER_READY = 'kg-worker-ready';

const log = (line: string): void =>
  void process.stdout.write(
    `${JSON.stringify({ level: 'info', context: 'gateway-workers', msg: line, time: new Date().toISOString() })}\n`,
  );

export const runPrimary = (count: number): void => {
  // The workers accept from the shared socket themselves: with the default round-robin the primary hands
  // connections over, and those it hands to a worker that just died hang until the client gives up.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  serveMetricsFromPrimary();
  let stopping = false;
  const ready = new Set<number>();
  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
  const stopAll = (code: number): void => {
    stopping = true;
    process.exitCode = code;
    for (const w of live()) w.process.kill('SIGTERM');
    if (live().length === 0) process.exit(code);
  };
  const fork = (index: number): void => {
    const w = cluster.fork({ GATEWAY_WORKER_INDEX: String(index) });
    w.on('message', (m: unknown) => {
      if ((m as { kind?: string } | null)?.kind === WORKER_READY) ready.add(index);
    });
    w.on('exit', (code, signal) => {
      if (stopping) {
        if (live().length === 0) process.exit(process.exitCode ?? 0);
        return;
      }
      if (!ready.has(index)) {
        log(`worker ${index} exited (${signal ?? code}) before it was ready: stopping the gateway`);
        return stopAll(1);
      }
      ready.delete(index);
      if (code === 0 && !signal) {
        log(`worker ${index} stopped`);
        if (live().length === 0) process.exit(0);
        return;
      }
      log(`worker ${index} exited (${signal ?? code}); starting another`);
      setTimeout(() => !stopping && fork(index), 500);
    });
  };
  for (let i = 0; i < count; i++) fork(i);
  log(`${count} gateway workers starting (GATEWAY_WORKERS)`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stopAll(0));
};
