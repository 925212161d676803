import type { DataSource } from 'typeorm';
import type { AlertType } from '@keygate/contracts';
import type { AlertService } from '../alerts/alert.service';

const BATCH = 100;
const DAY_MS = 86_400_000;

interface DueRow {
  key_id: string;
  name: string;
  owner_id: string;
  rotation_period_days: number;
  due: Date;
  kind: Extract<AlertType, 'rotation_due' | 'rotation_overdue'>;
}

// The alert's dedupe key: one rotation_due and one rotation_overdue per key and rotation period (a rotation moves
// the due instant, and with it the key). The SQL below builds the same string to skip keys already told.
const dedupeKey = "kind || ':' || d.key_id || ':' || floor(extract(epoch FROM x.due) * 1000)::bigint";

// Keys with a rotation period raise rotation_due `dueDays` before it ends and rotation_overdue once it has, each
// once; the alert names the owner, so webhooks filtered by owner tell the owner, not only the admin.
export class RotationSweep {
  constructor(
    private readonly db: DataSource,
    private readonly alerts: AlertService,
    private readonly dueDays: number,
    private readonly clock: () => number = Date.now,
  ) {}

  async runOnce(): Promise<boolean> {
    const now = new Date(this.clock());
    const rows: DueRow[] = await this.db.query(
      `SELECT d.key_id, d.name, d.owner_id, d.rotation_period_days, x.due, k.kind
       FROM key_directory d
       CROSS JOIN LATERAL (
         SELECT coalesce(d.rotated_at, d.created_at) + make_interval(days => d.rotation_period_days) AS due) x
       CROSS JOIN LATERAL (
         SELECT CASE WHEN x.due <= $1 THEN 'rotation_overdue' ELSE 'rotation_due' END AS kind) k
       WHERE d.status <> 'revoked' AND d.deleted_at IS NULL AND d.rotation_period_days IS NOT NULL
         AND x.due - make_interval(days => $2) <= $1
         AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.dedupe_key = ${dedupeKey})
       ORDER BY x.due LIMIT $3`,
      [now, this.dueDays, BATCH],
    );
    await this.alerts.raiseAll(
      rows.map((r) => {
        const daysLeft = Math.ceil((r.due.getTime() - now.getTime()) / DAY_MS);
        return {
          type: r.kind,
          keyId: r.key_id,
          subject: r.key_id,
          severity: r.kind === 'rotation_overdue' ? ('warning' as const) : ('info' as const),
          message:
            r.kind === 'rotation_overdue'
              ? `key ${r.name} is due for rotation since ${r.due.toISOString()} (every ${r.rotation_period_days} days)`
              : `key ${r.name} is due for rotation in ${daysLeft} day(s), on ${r.due.toISOString()}`,
          details: {
            ownerId: r.owner_id || null,
            rotationPeriodDays: r.rotation_period_days,
            rotationDueAt: r.due.toISOString(),
            ...(r.kind === 'rotation_due' ? { daysLeft } : {}),
          },
          dedupeKey: `${r.kind}:${r.key_id}:${r.due.getTime()}`,
          dedupeSeconds: null,
        };
      }),
    );
    return rows.length === BATCH;
  }
}
