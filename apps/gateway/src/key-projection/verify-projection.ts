// `npm run verify-projection`: compares the gateway's Redis projection with the key-service's own store (its
// PostgreSQL event store, not Kafka). Every key, group and provider credential stream is folded with the gateway's
// own evolve functions and compared field by field with its Redis document; every secret that should authenticate
// must have its hash entry. Prints each drift and exits 1 when there is one (a drift still present after
// --settle seconds: a projection a few milliseconds behind a live system is not a drift).
// Environment: KEYS_DATABASE_URL and REDIS_URL or REDIS_CLUSTER_NODES (the defaults of DESIGN.md).
import { isDeepStrictEqual } from 'node:util';
import type { Redis } from 'ioredis';
import { Client } from 'pg';
import { AGGREGATE_EVENT_TYPES, aggregateOf, type DomainEvent } from '@keygate/contracts';
import { evolvers } from './key-projection.consumer';
import { KeyProjectionStore, redisKeys } from './key-projection.store';
import { createRedis, type RedisTarget } from '../redis/redis-client';

const PAGE = 5000;
const PROJECTED = [
  ...AGGREGATE_EVENT_TYPES.apiKey,
  ...AGGREGATE_EVENT_TYPES.group,
  ...AGGREGATE_EVENT_TYPES.providerCredential,
];

type Doc = { v: number };
type Evolve = (doc: Doc | null, event: DomainEvent, v: number) => Doc | null;

interface EventRow {
  stream_id: string;
  stream_position: number;
  type: string;
  data: unknown;
}

// Folds event rows (ordered by stream and position) into documents, as the projection would store them.
const fold = (rows: EventRow[]): Map<string, Doc> => {
  const docs = new Map<string, Doc>();
  for (const r of rows) {
    const event = { type: r.type, data: r.data } as DomainEvent;
    const aggregate = aggregateOf(event);
    if (!aggregate || aggregate.kind === 'adminToken') continue;
    const evolve = evolvers[aggregate.kind] as Evolve;
    const next = evolve(docs.get(r.stream_id) ?? null, event, r.stream_position);
    if (next) docs.set(r.stream_id, next);
  }
  // As stored: JSON drops undefined fields.
  return new Map([...docs].map(([id, doc]) => [id, JSON.parse(JSON.stringify(doc)) as Doc]));
};

const COLUMNS = 'SELECT stream_id, stream_position, type, data FROM events WHERE type = ANY($1)';

// Every projected stream of the event store, folded, in pages of whole streams.
async function* expectedDocs(db: Client): AsyncGenerator<Map<string, Doc>> {
  let after = '';
  for (;;) {
    const { rows } = await db.query<EventRow>(
      `${COLUMNS} AND stream_id IN (
          SELECT DISTINCT stream_id FROM events WHERE type = ANY($1) AND stream_id > $2 ORDER BY stream_id LIMIT $3)
        ORDER BY stream_id, stream_position`,
      [PROJECTED, after, PAGE],
    );
    if (rows.length === 0) return;
    after = rows[rows.length - 1].stream_id;
    yield fold(rows);
  }
}

const streamsNow = async (db: Client, ids: string[]): Promise<Map<string, Doc>> =>
  fold(
    (
      await db.query<EventRow>(`${COLUMNS} AND stream_id = ANY($2) ORDER BY stream_id, stream_position`, [
        PROJECTED,
        ids,
      ])
    ).rows,
  );

const redisKeyOf = (id: string): string =>
  id.startsWith('key_')
    ? redisKeys.key(id)
    : id.startsWith('grp_')
      ? redisKeys.group(id)
      : redisKeys.credential(id);

// The drifts of one page: documents missing or different, secrets without their hash entry.
const pageDrifts = async (
  redis: Redis,
  expected: Map<string, Doc>,
  now: number,
): Promise<Map<string, string>> => {
  const drifts = new Map<string, string>();
  const ids = [...expected.keys()];
  const raws = await redis.mget(...ids.map(redisKeyOf));
  const hashes: [id: string, hash: string][] = [];
  ids.forEach((id, i) => {
    const want = expected.get(id)!;
    const raw = raws[i];
    const have = raw ? (JSON.parse(raw) as Doc) : null;
    if (!have) drifts.set(id, `missing from the projection (store at v${want.v})`);
    else if (have.v !== want.v) drifts.set(id, `projection at v${have.v}, store at v${want.v}`);
    else if (!isDeepStrictEqual(have, want)) drifts.set(id, `differs at v${want.v}: ${diff(want, have)}`);
    const key = want as Doc & { hash?: string; previous?: { hash: string; validUntil: string } | null };
    if (id.startsWith('key_') && key.hash) {
      hashes.push([id, key.hash]);
      // A rotated-out secret's entry lingers a day past its grace; near that edge it may be gone any moment.
      if (key.previous && Date.parse(key.previous.validUntil) + 86_300_000 > now)
        hashes.push([id, key.previous.hash]);
    }
  });
  const entries = await new KeyProjectionStore(redis).hashEntries(hashes.map(([, h]) => h));
  for (const [id, hash] of hashes) {
    const entry = entries.get(hash);
    if (entry?.keyId !== id)
      drifts.set(
        id,
        `${drifts.get(id) ?? ''}${drifts.has(id) ? '; ' : ''}secret …${hash.slice(-8)} has no hash entry`,
      );
  }
  return drifts;
};

const diff = (want: object, have: object): string =>
  [...new Set([...Object.keys(want), ...Object.keys(have)])]
    .filter(
      (k) => !isDeepStrictEqual((want as Record<string, unknown>)[k], (have as Record<string, unknown>)[k]),
    )
    .map(
      (k) =>
        `${k} ${JSON.stringify((have as Record<string, unknown>)[k])} ≠ ${JSON.stringify((want as Record<string, unknown>)[k])}`,
    )
    .join(', ');

export interface VerifyResult {
  checked: number;
  drifts: Map<string, string>;
}

export const verifyProjection = async (
  keysDatabaseUrl: string,
  target: RedisTarget,
  settleMs = 5000,
): Promise<VerifyResult> => {
  const db = new Client({ connectionString: keysDatabaseUrl });
  const redis = createRedis(target, { maxRetriesPerRequest: 2, lazyConnect: true });
  await db.connect();
  await redis.connect();
  try {
    let checked = 0;
    let suspects = new Set<string>();
    let drifts = new Map<string, string>();
    const now = Date.now();
    for await (const page of expectedDocs(db)) {
      checked += page.size;
      for (const [id, why] of await pageDrifts(redis, page, now)) {
        suspects.add(id);
        drifts.set(id, why);
      }
    }
    // Re-read what drifted from both stores until it settles or the time is up.
    const deadline = Date.now() + settleMs;
    while (drifts.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      const again = await streamsNow(db, [...suspects.keys()]);
      drifts = await pageDrifts(redis, again, Date.now());
      suspects = new Set(drifts.keys());
    }
    return { checked, drifts };
  } finally {
    await db.end().catch(() => undefined);
    redis.disconnect();
  }
};

if (require.main === module) {
  const settle = process.argv.indexOf('--settle');
  const env = process.env;
  verifyProjection(
    env.KEYS_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/keygate_keys',
    {
      REDIS_URL: env.REDIS_URL ?? 'redis://127.0.0.1:6379/0',
      REDIS_CLUSTER_NODES: env.REDIS_CLUSTER_NODES?.split(',').filter(Boolean),
    },
    settle > 0 ? Number(process.argv[settle + 1]) * 1000 : 5000,
  )
    .then(({ checked, drifts }) => {
      for (const [id, why] of drifts) process.stdout.write(`drift ${id}: ${why}\n`);
      process.stdout.write(`[verify-projection] ${checked} streams checked, ${drifts.size} drifted\n`);
      process.exit(drifts.size > 0 ? 1 : 0);
    })
    .catch((e: unknown) => {
      process.stderr.write(`[verify-projection] failed: ${(e as Error).message}\n`);
      process.exit(2);
    });
}
