import { Logger } from '@nestjs/common';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

// The gateway's Redis: one server (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES, seed nodes). Everything the
// gateway stores is cluster-correct by construction: the projection lives under one hash tag (key-projection.store),
// a key's limits and budget under `{keyId}` and a group's under `{grp:<id>}` (admission), the cool-down table under
// `{kg:cooldown}`; change notices are sharded pub/sub on a channel in the slot of what they announce (SPUBLISH,
// SSUBSCRIBE: delivered by the node that owns the slot, never broadcast to every node). So the same commands and
// scripts run on either. ioredis's Cluster runs every command Redis does (both are its Commander): it is typed as
// `Redis` here, and the three things that differ — SCAN (per master), the subscriber's events and its reconnect
// signal — go through the helpers below.
export interface RedisTarget {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: string[];
}

export interface RedisClientOptions {
  // A connection for SSUBSCRIBE only (in a cluster: one per master that owns a subscribed channel).
  subscriber?: boolean;
  // Commands of the same event-loop turn leave in one write (admission.ts: its calls while many are in flight).
  autoPipelining?: boolean;
  // false: a command fails at once while Redis is away (the request path decides what an outage means).
  offlineQueue?: boolean;
  maxRetriesPerRequest?: number;
  lazyConnect?: boolean;
}

export const isCluster = (client: Redis): boolean => (client as unknown) instanceof Cluster;

// REDIS_URL's credentials and TLS, for every node of a cluster (a cluster has no numbered databases).
const urlOptions = (url: string): RedisOptions => {
  const u = new URL(url);
  return {
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:' ? {} : undefined,
  };
};

export const createRedis = (target: RedisTarget, options: RedisClientOptions = {}): Redis => {
  const common: RedisOptions = {
    enableOfflineQueue: options.offlineQueue ?? true,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 1,
    connectTimeout: 2000,
    lazyConnect: options.lazyConnect,
  };
  const retry = (times: number) => Math.min(times * 200, 2000);
  if (!target.REDIS_CLUSTER_NODES?.length)
    return new Redis(target.REDIS_URL, {
      ...common,
      enableAutoPipelining: options.autoPipelining ?? false,
      retryStrategy: retry,
    });
  const cluster = new Cluster(
    target.REDIS_CLUSTER_NODES.map((node) => {
      const at = node.lastIndexOf(':');
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
    }),
    {
      redisOptions: {
        ...urlOptions(target.REDIS_URL),
        connectTimeout: common.connectTimeout,
        maxRetriesPerRequest: common.maxRetriesPerRequest,
      },
      enableOfflineQueue: common.enableOfflineQueue,
      enableAutoPipelining: options.autoPipelining ?? false,
      shardedSubscribers: options.subscriber ?? false,
      lazyConnect: options.lazyConnect,
      clusterRetryStrategy: retry,
      // A master that died is replaced by its replica within the cluster's node timeout: ask again soon.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      slotsRefreshTimeout: 2000,
    },
  );
  return cluster as unknown as Redis;
};

// A client that has answered once (start-up begins from a reachable Redis), logging one line per outage, not
// ioredis's stack trace per failed reconnect.
export const connectRedis = async (target: RedisTarget, options: RedisClientOptions = {}): Promise<Redis> => {
  const redis = createRedis(target, options);
  const logger = new Logger('redis');
  let down = false;
  const lost = (e: Error) => {
    if (!down) logger.warn(`Redis unavailable, reconnecting: ${e.message}`);
    down = true;
  };
  redis.on('error', lost);
  redis.on('node error', lost);
  redis.on('ready', () => {
    if (down) logger.log('Redis reachable again');
    down = false;
  });
  const where = target.REDIS_CLUSTER_NODES?.join(',') ?? target.REDIS_URL.replace(/\/\/[^@]*@/, '//');
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', () => resolve());
    setTimeout(() => reject(new Error(`Redis at ${where} did not answer`)), 10_000).unref();
  });
  return redis;
};

// Every key matching `pattern`, a batch at a time: SCAN on each master of a cluster (a cluster client's own SCAN
// would ask one node at random).
export const scanKeys = async (
  client: Redis,
  pattern: string,
  onBatch: (keys: string[]) => Promise<void>,
): Promise<void> => {
  const nodes = isCluster(client) ? (client as unknown as Cluster).nodes('master') : [client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await onBatch(keys);
    } while (cursor !== '0');
  }
};

// Sharded pub/sub: `onMessage` for each notice on `channel`.
export const subscribe = async (
  subscriber: Redis,
  channel: string,
  onMessage: (message: string) => void,
): Promise<void> => {
  subscriber.on('smessage', (from: string, message: string) => {
    if (from === channel) onMessage(message);
  });
  await subscriber.ssubscribe(channel);
};

// `fn` whenever the subscription was re-established (notices may have been missed meanwhile): the server's
// reconnect, or in a cluster the sharded subscribers' reset (a failover, a new topology) once their channels are
// subscribed again — not at '+subscriber', which ioredis emits before it resubscribes: a reload run then could
// read before a change whose notice still fell into the gap (seen in CI: a new group unknown to a gateway).
export const onResubscribed = (subscriber: Redis, fn: () => void): void => {
  subscriber.on('ready', fn);
  if (isCluster(subscriber)) subscriber.on('subscribersReady', fn);
};
