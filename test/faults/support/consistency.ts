import { Redis } from 'ioredis';
import { Client } from 'pg';

// Direct reads of the stores, to compare what each service holds after a fault: the key-service's event store
// and outbox, the gateway's Redis projection, the usage ledger.

export const sql = async <T = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> => {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
};

// Events the gateway projection applies (everything but admin tokens).
export const PROJECTED = `(type LIKE 'Key%' OR type LIKE 'Group%' OR type LIKE 'ProviderCredential%')`;

export interface StreamHead {
  stream_id: string;
  v: number;
  n: number;
}

export const streamHeads = async (keysDb: string): Promise<StreamHead[]> =>
  (
    await sql<{ stream_id: string; v: string; n: string }>(
      keysDb,
      `SELECT stream_id, max(stream_position) AS v, count(*) AS n FROM events WHERE ${PROJECTED} GROUP BY stream_id`,
    )
  ).map((r) => ({ stream_id: r.stream_id, v: Number(r.v), n: Number(r.n) }));

export const projectedEventCount = async (keysDb: string): Promise<number> =>
  Number((await sql<{ n: string }>(keysDb, `SELECT count(*) AS n FROM events WHERE ${PROJECTED}`))[0].n);

export const outboxDepth = async (keysDb: string): Promise<number> =>
  Number((await sql<{ n: string }>(keysDb, 'SELECT count(*) AS n FROM outbox'))[0].n);

const redisDocKey = (streamId: string): string | null =>
  streamId.startsWith('key_')
    ? `kg:k:${streamId}`
    : streamId.startsWith('grp_')
      ? `kg:g:${streamId}`
      : streamId.startsWith('prv_')
        ? `kg:c:${streamId}`
        : null;

// Streams whose projected document in Redis is missing or not at the store's last stream position.
export const projectionGaps = async (keysDb: string, redisUrl: string): Promise<string[]> => {
  const heads = await streamHeads(keysDb);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const gaps: string[] = [];
    for (const h of heads) {
      const k = redisDocKey(h.stream_id);
      if (!k) continue;
      const raw = await redis.get(k);
      const v = raw ? (JSON.parse(raw) as { v?: number }).v : undefined;
      if (v !== h.v) gaps.push(`${h.stream_id}: store at ${h.v}, projection at ${v ?? 'missing'}`);
    }
    return gaps;
  } finally {
    redis.disconnect();
  }
};

// Read-model rows that do not match their event stream: an event without its row, or a row behind its stream.
export const readModelGaps = async (keysDb: string): Promise<string[]> => {
  const rows = await sql<{ stream_id: string; v: string; version: string | null }>(
    keysDb,
    `SELECT e.stream_id, max(e.stream_position) AS v, k.version
       FROM events e LEFT JOIN api_keys k ON k.id = e.stream_id
      WHERE e.stream_id LIKE 'key\\_%' GROUP BY e.stream_id, k.version
     UNION ALL
     SELECT e.stream_id, max(e.stream_position) AS v, g.version
       FROM events e LEFT JOIN groups g ON g.id = e.stream_id
      WHERE e.stream_id LIKE 'grp\\_%' GROUP BY e.stream_id, g.version`,
  );
  return rows
    .filter((r) => r.version === null || Number(r.version) !== Number(r.v))
    .map((r) => `${r.stream_id}: events at ${r.v}, read model at ${r.version ?? 'missing'}`);
};

export interface LedgerTotals {
  requestIds: string[];
  promptTokens: number;
  completionTokens: number;
}

export const ledgerOf = async (usageDb: string, keyId: string): Promise<LedgerTotals> => {
  const rows = await sql<{ request_id: string; prompt_tokens: number; completion_tokens: number }>(
    usageDb,
    'SELECT request_id, prompt_tokens, completion_tokens FROM usage_requests WHERE key_id = $1',
    [keyId],
  );
  return {
    requestIds: rows.map((r) => r.request_id).sort(),
    promptTokens: rows.reduce((s, r) => s + Number(r.prompt_tokens), 0),
    completionTokens: rows.reduce((s, r) => s + Number(r.completion_tokens), 0),
  };
};

export interface UsageApiTotals {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
}

// What a user of GET /v1/usage/keys/:id sees, summed over its day buckets (the aggregates, not the raw rows).
export const usageApiTotals = async (
  usageServiceUrl: string,
  token: string,
  keyId: string,
): Promise<UsageApiTotals> => {
  const res = await fetch(`${usageServiceUrl}/v1/usage/keys/${keyId}?granularity=day`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status !== 200) throw new Error(`usage API answered ${res.status}`);
  const { data } = (await res.json()) as { data: UsageApiTotals[] };
  return data.reduce(
    (t, b) => ({
      requests: t.requests + b.requests,
      errors: t.errors + b.errors,
      promptTokens: t.promptTokens + b.promptTokens,
      completionTokens: t.completionTokens + b.completionTokens,
    }),
    { requests: 0, errors: 0, promptTokens: 0, completionTokens: 0 },
  );
};
