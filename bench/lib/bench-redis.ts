import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ensureRedisCluster, stopRedisCluster } from '@keygate/stack';
import { round } from './load';
import { BENCH_STACK_DIR, envNumber, log, onCleanup } from './processes';
import { startPrivateRedis } from './private-infra';

// The bench's own Redis, as the services are given it: one redis-server (BENCH_REDIS=single, the default) or a
// six-node Redis Cluster (BENCH_REDIS=cluster: 3 masters + 3 replicas from @keygate/stack, on ports
// BENCH_REDIS_CLUSTER_PORT..+5, 7501 by default, away from the 7001.. of `npm run up -- --cluster` and the tests;
// node directories and logs in .stack/bench-<run>/redis-cluster/). Stopped at the end like the rest.

export type RedisKind = 'single' | 'cluster';

export interface RedisFootprint {
  keys: number;
  usedMemoryMiB: number;
  // Each master's share, on a cluster (the projection is one hash-tag slot: one master holds all of it).
  perMaster?: { port: number; keys: number; usedMemoryMiB: number }[];
}

export interface BenchRedis {
  kind: RedisKind;
  // 'one redis-server' or 'Redis Cluster, 3 masters + 3 replicas': what the figures ran on.
  description: string;
  // The services' environment: on a cluster REDIS_CLUSTER_NODES, and REDIS_URL only lends its credentials (none).
  env: { REDIS_URL: string; REDIS_CLUSTER_NODES?: string };
  // Every master emptied (a replica follows its master).
  flushall(): Promise<void>;
  // INFO memory's used_memory and DBSIZE, summed over the masters.
  footprint(): Promise<RedisFootprint>;
}

export const benchRedisKind = (): RedisKind => {
  const kind = process.env.BENCH_REDIS ?? 'single';
  if (kind !== 'single' && kind !== 'cluster')
    throw new Error(`BENCH_REDIS must be "single" or "cluster", not "${kind}"`);
  return kind;
};

// One plain connection per master: FLUSHALL, INFO and DBSIZE answer for the node they are sent to.
const onEachMaster = async <T>(ports: number[], fn: (node: Redis) => Promise<T>): Promise<T[]> =>
  Promise.all(
    ports.map(async (port) => {
      const node = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
      try {
        return await fn(node);
      } finally {
        node.disconnect();
      }
    }),
  );

const benchRedis = (
  kind: RedisKind,
  description: string,
  env: BenchRedis['env'],
  masters: () => Promise<number[]>,
): BenchRedis => ({
  kind,
  description,
  env,
  flushall: async () => void (await onEachMaster(await masters(), (node) => node.flushall())),
  footprint: async () => {
    const ports = await masters();
    const perMaster = await onEachMaster(ports, async (node) => ({
      port: Number(node.options.port),
      keys: await node.dbsize(),
      usedMemoryMiB: round(
        Number(/^used_memory:(\d+)/m.exec(await node.info('memory'))?.[1] ?? NaN) / 2 ** 20,
        1,
      ),
    }));
    return {
      keys: perMaster.reduce((sum, m) => sum + m.keys, 0),
      usedMemoryMiB: round(
        perMaster.reduce((sum, m) => sum + m.usedMemoryMiB, 0),
        1,
      ),
      ...(kind === 'cluster' && { perMaster }),
    };
  },
});

export const startBenchRedis = async (kind: RedisKind, run: string, logDir: string): Promise<BenchRedis> => {
  if (kind === 'single') {
    const { url } = await startPrivateRedis(run, logDir);
    const port = Number(new URL(url).port);
    return benchRedis(kind, 'one redis-server', { REDIS_URL: url }, async () => [port]);
  }
  const basePort = envNumber('BENCH_REDIS_CLUSTER_PORT', 7501);
  const dirName = join(`bench-${run}`, 'redis-cluster');
  // Registered first: nodes started by a call that then fails are stopped too.
  onCleanup('private Redis Cluster', () => stopRedisCluster(BENCH_STACK_DIR, dirName));
  const cluster = await ensureRedisCluster({ stackDir: BENCH_STACK_DIR, basePort, dirName, log });
  // A cluster that already answered on these ports is someone else's (another run): its data would be flushed.
  if (!cluster.started)
    throw new Error(
      `a Redis Cluster already answers on ports ${basePort}..${basePort + 5}; stop it or set BENCH_REDIS_CLUSTER_PORT`,
    );
  const masters = await cluster.masters();
  log(`private Redis Cluster at ${cluster.nodesEnv} (masters ${masters.map((m) => m.port).join(', ')})`);
  return benchRedis(
    kind,
    `Redis Cluster, ${masters.length} masters + ${cluster.nodes.length - masters.length} replicas`,
    { REDIS_URL: `redis://${cluster.nodes[0]}`, REDIS_CLUSTER_NODES: cluster.nodesEnv },
    async () => (await cluster.masters()).map((m) => m.port),
  );
};
