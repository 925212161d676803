import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { Pool } from 'undici';
import {
  generateApiKey,
  hashApiKey,
  lastFour,
  makeEnvelope,
  newId,
  Topics,
  type KeyCreatedData,
} from '@keygate/contracts';
import { createKafka } from '@keygate/messaging';
import { tailFile } from '@keygate/stack';
import { freeTestPort } from '@keygate/testing/stack/test-stack';
import { round } from '../lib/load';
import { log, ROOT, spawnProc, startService, type Proc } from '../lib/processes';

// A million keys: a gateway's start-up on the empty projection, then KeyCreated envelopes produced straight into
// the private broker's keys.events (as the outbox relay would publish them), the projection rebuilt from the topic
// into an empty Redis with the real command, then one gateway (its start-up timed again) with 100,000 of those
// keys hot in its in-process cache.

export interface ProducedKeys {
  total: number;
  hotKeys: string[]; // plaintext of the first `hot` keys, to request them
  produceSeconds: number;
  bytes: number;
}

export const produceKeyEvents = async (
  brokers: string,
  total: number,
  hot: number,
): Promise<ProducedKeys> => {
  const kafka = createKafka('keygate-bench-keys', [brokers]);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const groupId = newId('grp');
  const hotKeys: string[] = [];
  let bytes = 0;
  let global = 0;
  const envelope = (type: 'KeyCreated' | 'GroupCreated', subject: string, data: unknown) =>
    JSON.stringify(
      makeEnvelope({
        type,
        source: 'key-service',
        subject,
        streamPosition: 1,
        globalPosition: ++global,
        data,
      }),
    );
  try {
    const t0 = performance.now();
    await producer.send({
      topic: Topics.keysEvents,
      acks: -1,
      messages: [
        {
          key: groupId,
          value: envelope('GroupCreated', groupId, {
            groupId,
            name: 'bench',
            description: '',
            routes: ['gpt-4o-mini'],
          }),
        },
      ],
    });
    const BATCH = 5000;
    const createdAt = new Date().toISOString();
    for (let i = 0; i < total; i += BATCH) {
      const messages = [];
      for (let j = i; j < Math.min(total, i + BATCH); j++) {
        const keyId = newId('key');
        // Only the hot keys need a real secret (they are requested); the rest need a hash, nothing else.
        let hash: string;
        let last4: string;
        if (j < hot) {
          const key = generateApiKey('live');
          hotKeys.push(key);
          hash = hashApiKey(key);
          last4 = lastFour(key);
        } else {
          hash = randomBytes(32).toString('hex');
          last4 = hash.slice(-4);
        }
        const data: KeyCreatedData = {
          keyId,
          name: `bench key ${j}`,
          description: '',
          ownerId: `team-${j % 1000}`,
          environment: 'live',
          hash,
          last4,
          groupIds: [groupId],
          metadata: {},
          rotationPeriodDays: null,
          createdAt,
          expiresAt: null,
          ipAllow: [],
          ipDeny: [],
          rateLimit: { requestsPerMinute: 600 },
          budget: null,
        };
        const value = envelope('KeyCreated', keyId, data);
        bytes += value.length;
        messages.push({ key: keyId, value });
      }
      await producer.send({ topic: Topics.keysEvents, acks: -1, messages });
      if ((i + BATCH) % 100_000 === 0) log(`keys: produced ${i + BATCH}`);
    }
    return { total, hotKeys, produceSeconds: round((performance.now() - t0) / 1000, 1), bytes };
  } finally {
    await producer.disconnect();
  }
};

export interface RebuildStats {
  nodeArgs?: string; // BENCH_REBUILD_NODE_ARGS, when the command ran with any
  events: number | null;
  seconds: number;
  eventsPerSecond: number | null;
  commandRssMaxMiB: number;
}

// `npm run gateway:rebuild-projection` (dist/apps/gateway/src/key-projection/rebuild-projection.js), timed.
export const rebuildProjection = async (
  env: Record<string, string>,
  logDir: string,
  timeoutSeconds: number,
): Promise<RebuildStats> => {
  const t0 = performance.now();
  // e.g. BENCH_REBUILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=.stack/prof" to see where the time goes
  const nodeArgs = (process.env.BENCH_REBUILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawnProc(
    'rebuild-projection',
    process.execPath,
    [...nodeArgs, join(ROOT, 'dist', 'apps', 'gateway', 'src', 'key-projection', 'rebuild-projection.js')],
    { env, logDir },
  );
  let rssMax = 0;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, proc.rssMiB() || 0)), 500);
  // A replay whose batch keeps failing never exits (its consumer restarts and fetches the batch again): bounded.
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    proc.exited.then(() => false),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutSeconds * 1000))),
  ]);
  clearTimeout(timer);
  clearInterval(sampler);
  const seconds = round((performance.now() - t0) / 1000, 1);
  if (timedOut) {
    await proc.stop();
    const last = (await tailFile(proc.logFile, 1)).slice(0, 300);
    throw new Error(
      `rebuild-projection did not finish within ${timeoutSeconds} s (BENCH_REBUILD_TIMEOUT_S); its last line: ${last}; see ${proc.logFile}`,
    );
  }
  if (proc.exitCode() !== 0)
    throw new Error(`rebuild-projection exited ${proc.exitCode()}; see ${proc.logFile}`);
  const events = Number(/applied (\d+) events/.exec(readFileSync(proc.logFile, 'utf8'))?.[1] ?? NaN);
  return {
    ...(nodeArgs.length && { nodeArgs: nodeArgs.join(' ') }),
    events: Number.isFinite(events) ? events : null,
    seconds,
    eventsPerSecond: Number.isFinite(events) ? Math.round(events / seconds) : null,
    commandRssMaxMiB: rssMax,
  };
};

export interface HotCacheStats {
  cacheMax: number;
  hot: number;
  startSeconds: number; // spawn to /health/ready: start-up reads every group and credential from Redis
  rssIdleMiB: number;
  rssHotMiB: number;
  warmSeconds: number;
  warmRequestsPerSecond: number;
  statuses: Record<string, number>;
  lookups: Record<string, number>; // keygate_auth_lookups_total by source, after the warm-up and a second pass
}

// A gateway on whatever projection Redis holds, its projection consumer group starting at the topic's end (so it
// folds none of the bench's events): spawn → /health/ready is its start-up, which reads every group and credential
// of the projection from Redis (their id sets: no SCAN, nothing per API key).
const startGatewayOnProjection = async (
  name: string,
  env: Record<string, string>,
  brokers: string,
  cacheMax: number,
  logDir: string,
): Promise<{ gateway: Proc; url: string; startSeconds: number }> => {
  const port = await freeTestPort();
  const group = `gateway-projection-bench-${name}-${randomBytes(4).toString('hex')}`;
  const admin = createKafka('keygate-bench-admin', [brokers]).admin();
  await admin.connect();
  await admin.resetOffsets({ groupId: group, topic: Topics.keysEvents, earliest: false });
  await admin.disconnect();
  const url = `http://127.0.0.1:${port}`;
  const gateway: Proc = await startService(
    'gateway',
    `gateway-${name}`,
    {
      ...env,
      GATEWAY_PORT: String(port),
      GATEWAY_PROJECTION_GROUP: group,
      AUTH_CACHE_MAX: String(cacheMax),
      AUTH_CACHE_TTL_MS: '3600000',
    },
    `${url}/health/ready`,
    logDir,
    [],
    15 * 60_000,
  );
  const startSeconds = round((Date.now() - gateway.startedAt) / 1000, 1);
  log(`${name}: gateway ready after ${startSeconds} s`);
  return { gateway, url, startSeconds };
};

// Start-up against the projection as it is now (e.g. empty, just after a flush: the healer's replay runs in the
// background and does not delay readiness), `starts` times one after the other, each gateway stopped once ready.
export const gatewayStartSeconds = async (
  env: Record<string, string>,
  brokers: string,
  cacheMax: number,
  logDir: string,
  starts: number,
): Promise<number[]> => {
  const seconds: number[] = [];
  for (let i = 0; i < starts; i++) {
    const { gateway, startSeconds } = await startGatewayOnProjection('start', env, brokers, cacheMax, logDir);
    await gateway.stop();
    seconds.push(startSeconds);
  }
  return seconds;
};

// One gateway with AUTH_CACHE_MAX = hot on the projection the rebuild wrote; every hot key requested once
// (GET /v1/models: auth only), then once more from cache.
export const hotCacheRss = async (
  env: Record<string, string>,
  brokers: string,
  hotKeys: string[],
  logDir: string,
): Promise<HotCacheStats> => {
  const { gateway, url, startSeconds } = await startGatewayOnProjection(
    'rss',
    env,
    brokers,
    hotKeys.length,
    logDir,
  );
  try {
    await new Promise((r) => setTimeout(r, 2000));
    const rssIdleMiB = gateway.rssMiB();
    const pool = new Pool(url, { connections: 16, keepAliveTimeout: 60_000 });
    const statuses: Record<string, number> = {};
    const pass = async (keys: string[]) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < keys.length) {
            const key = keys[next++];
            const res = await pool.request({
              method: 'GET',
              path: '/v1/models',
              headers: { authorization: `Bearer ${key}` },
            });
            await res.body.dump();
            statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          }
        }),
      );
    };
    log(`rss: warming ${hotKeys.length} keys`);
    const t0 = performance.now();
    await pass(hotKeys);
    const warmSeconds = (performance.now() - t0) / 1000;
    await pass(hotKeys.slice(0, 10_000));
    await pool.close();
    await new Promise((r) => setTimeout(r, 2000));
    const rssHotMiB = gateway.rssMiB();
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const lookups: Record<string, number> = {};
    for (const m of metrics.matchAll(/^keygate_auth_lookups_total\{[^}]*source="(\w+)"[^}]*\} (\S+)$/gm))
      lookups[m[1]] = (lookups[m[1]] ?? 0) + Number(m[2]);
    return {
      cacheMax: hotKeys.length,
      hot: hotKeys.length,
      startSeconds,
      rssIdleMiB,
      rssHotMiB,
      warmSeconds: round(warmSeconds, 1),
      warmRequestsPerSecond: Math.round(hotKeys.length / warmSeconds),
      statuses,
      lookups,
    };
  } finally {
    await gateway.stop();
  }
};
