import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DORMANT_SUSPENSION_PREFIX } from '@keygate/contracts';
import { counter } from '@keygate/platform';
import type { AlertService } from '../alerts/alert.service';
import type { KeyServiceClient } from '../budgets/key-service.client';

const suspensions = counter('keygate_usage_dormant_suspensions_total', 'Dormant keys suspended', ['outcome']);
const BATCH = 100;

interface DormantRow {
  key_id: string;
  name: string;
  owner_id: string;
  days: number;
  since: Date;
  last_used_at: Date | null;
}

// Suspends keys left unused past their dormancy policy (their own dormantAfterDays, else the deployment's default;
// 0 = never) through key-service's SuspendKey, as budgets do, and raises key_dormant_suspended (alert + webhooks).
// Disuse counts from the last request, or from creation for a key never used, or from an admin's reactivation;
// only an admin reactivates. The clock is injected: tests move it days ahead instead of waiting.
export class DormancySweep {
  private readonly logger = new Logger('dormancy');

  constructor(
    private readonly db: DataSource,
    private readonly alerts: AlertService,
    private readonly keys: KeyServiceClient,
    private readonly defaultDays: number,
    private readonly clock: () => number = Date.now,
  ) {}

  // True when there may be more to do right away.
  async runOnce(): Promise<boolean> {
    const now = new Date(this.clock());
    const rows: DormantRow[] = await this.db.query(
      `SELECT d.key_id, d.name, d.owner_id, p.days, a.last_used_at,
              greatest(a.last_used_at, d.created_at, d.reactivated_at) AS since
       FROM key_directory d LEFT JOIN key_activity a USING (key_id)
       CROSS JOIN LATERAL (SELECT coalesce(d.dormant_after_days, $2::int) AS days) p
       WHERE d.status = 'active' AND d.deleted_at IS NULL AND p.days > 0
         AND (d.expires_at IS NULL OR d.expires_at > $1)
         AND greatest(a.last_used_at, d.created_at, d.reactivated_at) < $1::timestamptz - make_interval(days => p.days)
       ORDER BY since LIMIT $3`,
      [now, this.defaultDays, BATCH],
    );
    for (const r of rows) await this.suspend(r);
    return rows.length === BATCH;
  }

  private async suspend(r: DormantRow): Promise<void> {
    const since = r.since.toISOString();
    const reason = `${DORMANT_SUSPENSION_PREFIX} unused for ${r.days} days (since ${since})`;
    const outcome = await this.keys.suspend(r.key_id, reason);
    suspensions.inc({ outcome: outcome.kind });
    // 'already': someone suspended it meanwhile; 'gone': revoked or deleted. Neither is ours to report.
    if (outcome.kind === 'retry') {
      this.logger.warn({ keyId: r.key_id }, `SuspendKey failed, next sweep retries: ${outcome.error}`);
      return;
    }
    if (outcome.kind !== 'done') return;
    this.logger.log({ keyId: r.key_id }, reason);
    await this.alerts.raiseAll([
      {
        type: 'key_dormant_suspended',
        keyId: r.key_id,
        subject: r.key_id,
        severity: 'warning',
        message: `key ${r.name} suspended: unused for ${r.days} days; an admin can reactivate it`,
        details: {
          ownerId: r.owner_id || null,
          dormantAfterDays: r.days,
          unusedSince: since,
          lastUsedAt: r.last_used_at?.toISOString() ?? null,
        },
        // Once per stretch of disuse: a key reactivated and left unused again is reported again.
        dedupeKey: `key_dormant_suspended:${r.key_id}:${since}`,
        dedupeSeconds: null,
      },
    ]);
  }
}
