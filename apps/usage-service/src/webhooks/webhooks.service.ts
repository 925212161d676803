import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { newId, type AlertType } from '@keygate/contracts';
import { OutboundAddressError, OutboundPolicy } from '@keygate/platform';
import { UsageError } from '../usage-errors';
import { SecretBox } from './secret-box';

export interface WebhookInput {
  url: string;
  secret: string;
  types?: AlertType[];
  description?: string;
  ownerIds?: string[];
}

interface WebhookRow {
  id: string;
  url: string;
  types: AlertType[] | null;
  owner_ids: string[] | null;
  description: string;
  created_at: Date;
  created_by: string;
}

interface DeliveryRow {
  id: string;
  alert_id: string;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  delivered_at: Date | null;
  log: {
    attempt: number;
    startedAt: string;
    durationMs: number;
    statusCode: number | null;
    error: string | null;
  }[];
}

// The secret is sealed on the way in and never comes back out: not in a response, a log line or an error.
const present = (r: WebhookRow) => ({
  id: r.id,
  url: r.url,
  types: r.types,
  ownerIds: r.owner_ids,
  description: r.description,
  createdAt: r.created_at.toISOString(),
  createdBy: r.created_by,
});

const presentDelivery = (r: DeliveryRow) => ({
  id: r.id,
  alertId: r.alert_id,
  status: r.status,
  attempts: r.log,
  nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
  createdAt: r.created_at.toISOString(),
  deliveredAt: r.delivered_at?.toISOString() ?? null,
});

const notFound = (id: string) => new UsageError('WEBHOOK_NOT_FOUND', `webhook ${id.slice(0, 64)} not found`);

// Webhook subscriptions and their delivery log (the dispatcher delivers).
@Injectable()
export class WebhooksService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly box: SecretBox,
    private readonly outbound: OutboundPolicy,
  ) {}

  // Refused here, before anything is stored or sent; the dispatcher's connections are checked again.
  private async checkUrl(url: string): Promise<void> {
    try {
      await this.outbound.check(url);
    } catch (e) {
      if (!(e instanceof OutboundAddressError)) throw e;
      throw new UsageError(e.code === 'INVALID_URL' ? 'VALIDATION_FAILED' : e.code, `url ${e.message}`);
    }
  }

  async create(input: WebhookInput, createdBy: string) {
    await this.checkUrl(input.url);
    const [row]: WebhookRow[] = await this.db.query(
      `INSERT INTO webhooks (id, url, secret_ciphertext, types, description, created_by, owner_ids)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [
        newId('whk'),
        input.url,
        this.box.seal(input.secret),
        input.types?.length ? [...new Set(input.types)] : null,
        input.description ?? '',
        createdBy,
        input.ownerIds?.length ? [...new Set(input.ownerIds)] : null,
      ],
    );
    return present(row);
  }

  async list() {
    const rows: WebhookRow[] = await this.db.query(
      `SELECT * FROM webhooks WHERE deleted_at IS NULL ORDER BY id COLLATE "C"`,
    );
    return { data: rows.map(present), nextCursor: null };
  }

  async remove(id: string): Promise<void> {
    // Soft delete: the delivery log keeps pointing at it; pending deliveries are cancelled by the dispatcher.
    const rows: unknown[] = await this.db.query(
      // In a CTE: TypeORM answers a top-level UPDATE with [rows, count] instead of the rows.
      `WITH gone AS (UPDATE webhooks SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id)
       SELECT id FROM gone`,
      [id],
    );
    if (rows.length === 0) throw notFound(id);
  }

  // The delivery log of one webhook: newest deliveries first, each with its attempts.
  async deliveries(id: string) {
    const exists: unknown[] = await this.db.query(`SELECT 1 FROM webhooks WHERE id = $1`, [id]);
    if (exists.length === 0) throw notFound(id);
    const rows: DeliveryRow[] = await this.db.query(
      `SELECT d.*, coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'startedAt', a.started_at,
                'durationMs', a.duration_ms, 'statusCode', a.status_code, 'error', a.error) ORDER BY a.attempt)
              FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS log
       FROM webhook_deliveries d WHERE d.webhook_id = $1 ORDER BY d.created_at DESC LIMIT 200`,
      [id],
    );
    return { data: rows.map(presentDelivery), nextCursor: null };
  }
}
