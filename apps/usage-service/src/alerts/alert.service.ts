import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { hasPrefix, newId, type AlertType } from '@keygate/contracts';
import { counter } from '@keygate/platform';
import { toAlert, type AlertInput, type AlertRecord, type AlertRow } from './alert';

const raised = counter('keygate_usage_alerts_total', 'Alerts raised', ['type']);
const suppressed = counter('keygate_usage_alerts_suppressed_total', 'Alerts suppressed as duplicates', [
  'type',
]);

export type Raise = (input: AlertInput) => Promise<AlertRecord | null>;

export interface AlertFilter {
  keyId?: string;
  type?: AlertType;
  since?: Date;
  cursor?: string;
  limit: number;
}

// Raises alerts inside the caller's transaction, so the state change that caused an alert (a network first seen,
// a last-used time moved) and the alert commit together or not at all. The alert row doubles as the outbox of its
// usage.alerts event and its webhook deliveries; the publisher and dispatcher are woken after the commit.
export class AlertService {
  private readonly logger = new Logger('alerts');
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly db: DataSource,
    private readonly clock: () => number = Date.now,
  ) {}

  onRaised(listener: () => void): void {
    this.listeners.push(listener);
  }

  async transaction<T>(work: (m: EntityManager, raise: Raise) => Promise<T>): Promise<T> {
    const fresh: AlertRecord[] = [];
    const result = await this.db.transaction(async (m) =>
      work(m, async (input) => {
        const alert = await this.raiseIn(m, input);
        if (alert) fresh.push(alert);
        return alert;
      }),
    );
    if (fresh.length) {
      for (const a of fresh) this.logger.log({ alertId: a.id, type: a.type, subject: a.subject }, a.message);
      for (const l of this.listeners) l();
    }
    return result;
  }

  async raiseAll(inputs: AlertInput[]): Promise<AlertRecord[]> {
    if (inputs.length === 0) return [];
    return this.transaction(async (_m, raise) => {
      const out: AlertRecord[] = [];
      for (const i of inputs) {
        const a = await raise(i);
        if (a) out.push(a);
      }
      return out;
    });
  }

  private async raiseIn(m: EntityManager, input: AlertInput): Promise<AlertRecord | null> {
    const now = new Date(this.clock());
    // Serialises raisers of the same dedupe key (two instances, or two listeners) until this transaction ends.
    await m.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [input.dedupeKey]);
    const open: unknown[] = await m.query(
      `SELECT 1 FROM alerts WHERE dedupe_key = $1 AND dedupe_until > $2 LIMIT 1`,
      [input.dedupeKey, now],
    );
    if (open.length) {
      suppressed.inc({ type: input.type });
      return null;
    }
    const until =
      input.dedupeSeconds === null ? 'infinity' : new Date(now.getTime() + input.dedupeSeconds * 1000);
    const [row]: AlertRow[] = await m.query(
      `INSERT INTO alerts (id, event_id, key_id, subject, type, severity, message, details, raised_at, dedupe_key,
         dedupe_until)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
      [
        newId('alr', now.getTime()),
        randomUUID(),
        input.keyId,
        input.subject,
        input.type,
        input.severity,
        input.message,
        JSON.stringify(input.details),
        now,
        input.dedupeKey,
        until,
      ],
    );
    await m.query(
      `INSERT INTO webhook_deliveries (id, webhook_id, alert_id)
       SELECT gen_random_uuid(), id, $1 FROM webhooks
       WHERE deleted_at IS NULL AND (types IS NULL OR $2 = ANY (types))
         AND (owner_ids IS NULL OR EXISTS (
           SELECT 1 FROM key_directory d WHERE d.key_id = $3 AND d.owner_id = ANY (owner_ids)))`,
      [row.id, input.type, input.keyId],
    );
    raised.inc({ type: input.type });
    return toAlert(row);
  }

  async list(f: AlertFilter): Promise<{ data: AlertRecord[]; nextCursor: string | null }> {
    // Ids are time-ordered (newId): newest first, the cursor is the last id of the page.
    const rows: AlertRow[] = await this.db.query(
      `SELECT * FROM alerts
       WHERE ($1::text IS NULL OR key_id = $1) AND ($2::text IS NULL OR type = $2)
         AND ($3::timestamptz IS NULL OR raised_at >= $3) AND ($4::text IS NULL OR id COLLATE "C" < $4)
       ORDER BY id COLLATE "C" DESC LIMIT $5`,
      [f.keyId ?? null, f.type ?? null, f.since ?? null, f.cursor ?? null, f.limit + 1],
    );
    const page = rows.slice(0, f.limit).map(toAlert);
    return { data: page, nextCursor: rows.length > f.limit ? page[page.length - 1].id : null };
  }

  // null when there is no such alert (an id that is not an alert id never reaches the database).
  async acknowledge(id: string, actor: string): Promise<AlertRecord | null> {
    if (!hasPrefix(id, 'alr')) return null;
    const rows: AlertRow[] = await this.db.query(
      // In a CTE: TypeORM answers a top-level UPDATE with [rows, count] instead of the rows.
      `WITH acked AS (
         UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, now()),
           acknowledged_by = coalesce(acknowledged_by, $2)
         WHERE id = $1 RETURNING *
       )
       SELECT * FROM acked`,
      [id, actor],
    );
    return rows[0] ? toAlert(rows[0]) : null;
  }
}
