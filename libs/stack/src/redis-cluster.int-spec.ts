import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { STACK_DIR } from '@keygate/testing';
import { ensureRedisCluster, stopRedisCluster, type RedisCluster } from './redis-cluster';
import { waitFor } from './wait';

// A cluster of this file's own (ports 7201..7206), never the one of `npm run up` (7001...) or of the clustered
// test runs (7101...), which may be running beside it.
const BASE_PORT = 7201;
const DIR_NAME = 'redis-cluster-int';
const log = (msg: string): void => void process.stdout.write(`[redis-cluster] ${msg}\n`);

describe('a Redis Cluster from the machine’s redis-server (ensureRedisCluster)', () => {
  let cluster: RedisCluster;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await ensureRedisCluster({ stackDir: STACK_DIR, basePort: BASE_PORT, dirName: DIR_NAME, log });
    client = new Cluster(
      cluster.nodes.map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) })),
      { redisOptions: { connectTimeout: 1_000 }, retryDelayOnFailover: 200 },
    );
    client.on('error', () => undefined); // the node killed below; the commands' own results are what is checked
  }, 40_000);

  afterAll(async () => {
    client?.disconnect();
    await stopRedisCluster(STACK_DIR, DIR_NAME);
  });

  it('has three masters with a replica each, and every slot served', async () => {
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    const replicas = await Promise.all(masters.map((m) => cluster.replicaOf(m.port)));
    const ports = [...masters.map((m) => m.port), ...replicas].sort();
    expect(ports).toEqual(cluster.nodes.map((n) => Number(n.split(':')[1])));
    for (const m of masters) expect(m.pid).toBe(cluster.pidOf(m.port));
    expect(String(await client.cluster('INFO'))).toContain('cluster_slots_ok:16384');
  });

  it('keeps every replicated key when a master is SIGKILLed: its replica takes over, the old master rejoins as a replica', async () => {
    const run = randomBytes(4).toString('hex');
    const keys = Array.from({ length: 300 }, (_, i) => `redis-cluster-int:${run}:${i}`);
    await Promise.all(keys.map((k) => client.set(k, k)));
    // Keys landed on all three masters, and each master's replica has them (replication is asynchronous).
    for (const node of client.nodes('master')) {
      expect(await node.dbsize()).toBeGreaterThan(0);
      expect(await node.call('WAIT', '1', '2000')).toBe(1);
    }

    const [victim] = await cluster.masters();
    const heir = await cluster.replicaOf(victim.port);
    expect(heir).toBeDefined();
    const t0 = Date.now();
    await cluster.crashNode(victim.port);
    expect(cluster.pidOf(victim.port)).toBeUndefined();
    await waitFor(async () => (await cluster.masters()).some((m) => m.port === heir), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: `replica ${heir} to take over from ${victim.port}`,
    });
    const failoverMs = Date.now() - t0;
    // The same client follows the new master (on a connection error it reloads the slot map).
    const values = await waitFor(async () => Promise.all(keys.map((k) => client.get(k))), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'every key to be readable again',
    });
    log(
      `master ${victim.port} SIGKILLed: replica ${heir} promoted after ${failoverMs} ms, ` +
        `every key readable after ${Date.now() - t0} ms`,
    );
    expect(values).toEqual(keys);
    expect((await cluster.masters()).map((m) => m.port)).not.toContain(victim.port);

    await cluster.restartNode(victim.port);
    expect(await cluster.replicaOf(heir!)).toBe(victim.port);
    expect(cluster.pidOf(victim.port)).toBeDefined();
  }, 60_000);
});
