import type { DataSource } from 'typeorm';
import type { UsageRow } from './usage-row';

const RETRYABLE = new Set(['40P01', '40001']); // deadlock, serialization failure

// The exactly-once core: one statement inserts the batch's new rows (dedupe on (request_id, time)) and adds only
// those to the per-minute and per-day aggregates. Rows are sorted by request id and aggregate groups by their key,
// so two instances writing overlapping batches during a rebalance take locks in the same order.
export class LedgerWriter {
  constructor(
    private readonly db: DataSource,
    private readonly priceVersion: string,
  ) {}

  async write(rows: UsageRow[]): Promise<number> {
    const sorted = [...rows].sort((a, b) =>
      a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0,
    );
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.insert(sorted);
      } catch (e) {
        if (attempt >= 5 || !RETRYABLE.has((e as { code?: string }).code ?? '')) throw e;
        await new Promise((r) => setTimeout(r, 20 * attempt));
      }
    }
  }

  private async insert(rows: UsageRow[]): Promise<number> {
    const col = <T>(f: (r: UsageRow) => T) => rows.map(f);
    const result: { inserted: string }[] = await this.db.query(
      `WITH ins AS (
         INSERT INTO usage_requests (request_id, key_id, route, provider, upstream_model, endpoint, status, outcome,
           error_code, prompt_tokens, completion_tokens, streamed, latency_ms, client_ip, cost_usd, price_version, time,
           client_network)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
           $8::text[], $9::text[], $10::int[], $11::int[], $12::bool[], $13::int[], $14::text[], $15::numeric[],
           $16::text[], $17::timestamptz[], $18::text[])
         ON CONFLICT (request_id, time) DO NOTHING
         RETURNING key_id, time, route, provider, upstream_model, error_code, status, prompt_tokens,
           completion_tokens, cost_usd
       ), minute AS (
         INSERT INTO usage_minute (key_id, bucket, route, provider, upstream_model, error_code, requests, errors,
           prompt_tokens, completion_tokens, cost_usd)
         SELECT key_id, date_trunc('minute', time, 'UTC'), coalesce(route, ''), coalesce(provider, ''),
                coalesce(upstream_model, ''), coalesce(error_code, ''), count(*), count(*) FILTER (WHERE status >= 400),
                sum(prompt_tokens), sum(completion_tokens), sum(cost_usd)
         FROM ins WHERE key_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
         ON CONFLICT (key_id, bucket, route, provider, upstream_model, error_code) DO UPDATE SET
           requests = usage_minute.requests + excluded.requests,
           errors = usage_minute.errors + excluded.errors,
           prompt_tokens = usage_minute.prompt_tokens + excluded.prompt_tokens,
           completion_tokens = usage_minute.completion_tokens + excluded.completion_tokens,
           cost_usd = usage_minute.cost_usd + excluded.cost_usd
       ), day AS (
         INSERT INTO usage_day (key_id, day, requests, cost_usd)
         SELECT key_id, (time AT TIME ZONE 'UTC')::date, count(*), sum(cost_usd)
         FROM ins WHERE key_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
         ON CONFLICT (key_id, day) DO UPDATE SET
           requests = usage_day.requests + excluded.requests,
           cost_usd = usage_day.cost_usd + excluded.cost_usd
       )
       SELECT count(*) AS inserted FROM ins`,
      [
        col((r) => r.requestId),
        col((r) => r.keyId),
        col((r) => r.route),
        col((r) => r.provider),
        col((r) => r.upstreamModel),
        col((r) => r.endpoint),
        col((r) => r.status),
        col((r) => r.outcome),
        col((r) => r.errorCode),
        col((r) => r.promptTokens),
        col((r) => r.completionTokens),
        col((r) => r.streamed),
        col((r) => r.latencyMs),
        col((r) => r.clientIp),
        col((r) => r.costUsd),
        col(() => this.priceVersion),
        col((r) => r.time),
        col((r) => r.clientNetwork),
      ],
    );
    return Number(result[0].inserted);
  }
}
