import { Client } from 'pg';
import { verifyProjection } from '../../../apps/gateway/src/key-projection/verify-projection';
import type { RedisTarget } from '../../../apps/gateway/src/redis/redis-client';

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

export const projectedEventCount = async (keysDb: string): Promise<number> =>
  Number((await sql<{ n: string }>(keysDb, `SELECT count(*) AS n FROM events WHERE ${PROJECTED}`))[0].n);

export const outboxDepth = async (keysDb: string): Promise<number> =>
  Number((await sql<{ n: string }>(keysDb, 'SELECT count(*) AS n FROM outbox'))[0].n);

// Drifts between the key-service's store and the gateway's Redis projection, as `npm run verify-projection`
// reports them (after letting a lagging projection settle for settleMs).
export const projectionGaps = async (
  keysDb: string,
  redis: string | RedisTarget,
  settleMs = 0,
): Promise<string[]> => {
  const target = typeof redis === 'string' ? { REDIS_URL: redis } : redis;
  const { drifts } = await verifyProjection(keysDb, target, settleMs);
  return [...drifts].map(([id, why]) => `${id}: ${why}`);
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
