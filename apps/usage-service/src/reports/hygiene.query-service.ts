import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

interface HygieneRow {
  key_id: string;
  name: string;
  owner_id: string;
  environment: string;
  status: string;
  created_at: Date;
  rotated_at: Date | null;
  rotation_period_days: number | null;
  last_used_at: Date | null;
  rotation_due_at?: Date;
}

export interface HygienePage {
  limit: number;
  cursor?: string;
}

const present = (r: HygieneRow) => ({
  keyId: r.key_id,
  name: r.name,
  ownerId: r.owner_id,
  environment: r.environment,
  state: r.status,
  createdAt: r.created_at.toISOString(),
  rotatedAt: r.rotated_at?.toISOString() ?? null,
  rotationPeriodDays: r.rotation_period_days,
  lastUsedAt: r.last_used_at?.toISOString() ?? null,
  ...(r.rotation_due_at ? { rotationDueAt: r.rotation_due_at.toISOString() } : {}),
});

const page = (rows: HygieneRow[], limit: number) => ({
  data: rows.slice(0, limit).map(present),
  nextCursor: rows.length > limit ? rows[limit - 1].key_id : null,
});

// Key hygiene reports over live keys (not revoked, not deleted). "Used" means a request the key authenticated for,
// as recorded by the ledger (key_activity outlives raw-row retention); a key never used counts from its creation.
@Injectable()
export class HygieneQueryService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async unused(days: number, { limit, cursor }: HygienePage) {
    const rows: HygieneRow[] = await this.db.query(
      `SELECT d.*, a.last_used_at FROM key_directory d LEFT JOIN key_activity a USING (key_id)
       WHERE d.status <> 'revoked' AND d.deleted_at IS NULL
         AND coalesce(a.last_used_at, d.created_at) < now() - make_interval(hours => $1 * 24)
         AND ($2::text IS NULL OR d.key_id COLLATE "C" > $2)
       ORDER BY d.key_id COLLATE "C" LIMIT $3`,
      [days, cursor ?? null, limit + 1],
    );
    return page(rows, limit);
  }

  // Keys older than their rotation period.
  async stale({ limit, cursor }: HygienePage) {
    const rows: HygieneRow[] = await this.db.query(
      `SELECT d.*, a.last_used_at,
              coalesce(d.rotated_at, d.created_at) + make_interval(hours => d.rotation_period_days * 24) AS rotation_due_at
       FROM key_directory d LEFT JOIN key_activity a USING (key_id)
       WHERE d.status <> 'revoked' AND d.deleted_at IS NULL AND d.rotation_period_days IS NOT NULL
         AND coalesce(d.rotated_at, d.created_at) + make_interval(hours => d.rotation_period_days * 24) < now()
         AND ($1::text IS NULL OR d.key_id COLLATE "C" > $1)
       ORDER BY d.key_id COLLATE "C" LIMIT $2`,
      [cursor ?? null, limit + 1],
    );
    return page(rows, limit);
  }
}
