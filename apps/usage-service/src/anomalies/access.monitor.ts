import type { DataSource } from 'typeorm';
import type { AlertInput } from '../alerts/alert';
import type { AlertService } from '../alerts/alert.service';
import {
  AUTH_FAILURE_CODES,
  isAuthFailure,
  isKeyUse,
  type AfterIngest,
  type UsageRow,
} from '../ingest/usage-row';
import type { AnomalyConfig } from './anomaly-config';
import { dormantDays } from './dormancy';

const maxBy = <T>(items: T[], key: (t: T) => string, value: (t: T) => number): Map<string, number> => {
  const out = new Map<string, number>();
  for (const i of items) out.set(key(i), Math.max(out.get(key(i)) ?? -Infinity, value(i)));
  return out;
};

// Who uses a key and from where: auth-failure bursts per key, invalid-key bursts per client network, a key used from a network it was
// never used from, a dormant key used again, and the key's last-used time (hygiene reports). Each state change
// commits in the same transaction as the alert it causes, so a crash cannot lose the alert while keeping the
// change; a redelivered batch finds the state already moved and raises nothing new.
export class AccessMonitor implements AfterIngest {
  readonly name = 'access';

  constructor(
    private readonly db: DataSource,
    private readonly alerts: AlertService,
    private readonly cfg: AnomalyConfig,
  ) {}

  async afterIngest(rows: UsageRow[]): Promise<void> {
    await this.authBursts(rows.filter(isAuthFailure));
    const uses = rows.filter(isKeyUse);
    if (uses.length === 0) return;
    await this.lastUsed(uses);
    if (this.cfg.newNetwork) await this.newNetworks(uses);
  }

  // Per key: a key (revoked, expired) presented again and again. Per client network: invalid, malformed, revoked or
  // expired keys from one /24 (IPv6 /48), where guessing and stuffing show even with no key id to hang them on.
  private async authBursts(failures: UsageRow[]): Promise<void> {
    if (failures.length === 0) return;
    const latest = (subject: (f: UsageRow) => string | null): Map<string, number> =>
      maxBy(
        failures.filter((f) => subject(f) !== null),
        (f) => subject(f)!,
        (f) => f.timeMs,
      );
    const count = async (column: 'key_id' | 'client_network', at: Map<string, number>) =>
      at.size === 0
        ? []
        : ((await this.db.query(
            `SELECT k.v AS subject, count(*)::int AS n, (array_agg(DISTINCT r.client_ip))[1:5] AS ips
             FROM unnest($1::text[], $2::timestamptz[]) AS k(v, t)
             JOIN usage_requests r ON r.${column} = k.v AND r.time > k.t - make_interval(secs => $3) AND r.time <= k.t
             WHERE r.outcome = 'rejected' AND r.error_code = ANY ($4)
             GROUP BY 1 HAVING count(*) >= $5`,
            [
              [...at.keys()],
              [...at.values()].map((t) => new Date(t)),
              this.cfg.authWindowSeconds,
              [...AUTH_FAILURE_CODES],
              this.cfg.authFailures,
            ],
          )) as { subject: string; n: number; ips: (string | null)[] }[]);
    const alerts: AlertInput[] = [];
    for (const { subject, n } of await count(
      'key_id',
      latest((f) => f.keyId),
    ))
      alerts.push(this.keyBurst(subject, n));
    for (const { subject, n, ips } of await count(
      'client_network',
      latest((f) => f.clientNetwork),
    ))
      alerts.push(this.networkBurst(subject, n, ips));
    await this.alerts.raiseAll(alerts);
  }

  private keyBurst(keyId: string, n: number): AlertInput {
    const window = this.cfg.authWindowSeconds;
    return {
      type: 'auth_failure_burst',
      keyId,
      subject: keyId,
      severity: 'warning',
      message: `${n} authentication failures for key ${keyId} within ${window} s`,
      details: { failures: n, windowSeconds: window },
      dedupeKey: `auth_failure_burst:${keyId}`,
      dedupeSeconds: this.cfg.dedupeSeconds,
    };
  }

  private networkBurst(network: string, n: number, ips: (string | null)[]): AlertInput {
    const window = this.cfg.authWindowSeconds;
    return {
      type: 'invalid_key_burst',
      keyId: null,
      subject: `net:${network}`,
      severity: 'warning',
      message: `${n} requests with invalid API keys from network ${network} within ${window} s`,
      details: {
        network,
        failures: n,
        windowSeconds: window,
        clientIps: ips.filter((ip): ip is string => ip !== null),
      },
      dedupeKey: `invalid_key_burst:${network}`,
      dedupeSeconds: this.cfg.dedupeSeconds,
    };
  }

  private async lastUsed(uses: (UsageRow & { keyId: string })[]): Promise<void> {
    const first = new Map<string, number>();
    for (const u of uses) first.set(u.keyId, Math.min(first.get(u.keyId) ?? Infinity, u.timeMs));
    const last = maxBy(
      uses,
      (u) => u.keyId,
      (u) => u.timeMs,
    );
    const keys = [...first.keys()].sort();
    await this.alerts.transaction(async (m, raise) => {
      // Every CTE sees the table as it was before the statement: `prev` is the last use before this batch.
      const rows: { key_id: string; first_t: Date; prev_last: Date | null; created_at: Date | null }[] =
        await m.query(
          `WITH b AS (SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS b(key_id, first_t, last_t)),
           prev AS (SELECT key_id, last_used_at FROM key_activity WHERE key_id IN (SELECT key_id FROM b)),
           up AS (
             INSERT INTO key_activity (key_id, first_used_at, last_used_at) SELECT key_id, first_t, last_t FROM b
             ON CONFLICT (key_id) DO UPDATE SET
               first_used_at = LEAST(key_activity.first_used_at, excluded.first_used_at),
               last_used_at = GREATEST(key_activity.last_used_at, excluded.last_used_at)
           )
           SELECT b.key_id, b.first_t, prev.last_used_at AS prev_last, d.created_at
           FROM b LEFT JOIN prev USING (key_id) LEFT JOIN key_directory d USING (key_id)`,
          [keys, keys.map((k) => new Date(first.get(k)!)), keys.map((k) => new Date(last.get(k)!))],
        );
      for (const r of rows) {
        const reference = r.prev_last ?? r.created_at;
        const idle = dormantDays(reference?.getTime() ?? null, r.first_t.getTime(), this.cfg.dormantDays);
        if (idle === null) continue;
        await raise({
          type: 'dormant_key_used',
          keyId: r.key_id,
          subject: r.key_id,
          severity: 'warning',
          message: `dormant key ${r.key_id} used again after ${idle} days ${r.prev_last ? 'without use' : 'unused since creation'}`,
          details: {
            idleDays: idle,
            lastUsedAt: r.prev_last?.toISOString() ?? null,
            createdAt: r.created_at?.toISOString() ?? null,
            usedAt: r.first_t.toISOString(),
          },
          dedupeKey: `dormant_key_used:${r.key_id}`,
          dedupeSeconds: this.cfg.dedupeSeconds,
        });
      }
    });
  }

  private async newNetworks(uses: (UsageRow & { keyId: string })[]): Promise<void> {
    const seen = new Map<string, { keyId: string; network: string; ip: string; timeMs: number }>();
    for (const u of uses) {
      const network = u.clientNetwork;
      if (!network) continue;
      const id = `${u.keyId} ${network}`;
      const was = seen.get(id);
      if (!was || u.timeMs < was.timeMs)
        seen.set(id, { keyId: u.keyId, network, ip: u.clientIp!, timeMs: u.timeMs });
    }
    if (seen.size === 0) return;
    const items = [...seen.values()].sort((a, b) => (a.keyId + a.network < b.keyId + b.network ? -1 : 1));
    await this.alerts.transaction(async (m, raise) => {
      const fresh: { key_id: string; network: string; first_seen_at: Date; had_networks: boolean }[] =
        await m.query(
          `WITH b AS (SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS b(key_id, network, seen)),
         known AS (SELECT DISTINCT key_id FROM key_networks WHERE key_id IN (SELECT key_id FROM b)),
         ins AS (
           INSERT INTO key_networks (key_id, network, first_seen_at) SELECT key_id, network, seen FROM b
           ON CONFLICT DO NOTHING RETURNING key_id, network, first_seen_at
         )
         SELECT ins.*, (known.key_id IS NOT NULL) AS had_networks FROM ins LEFT JOIN known USING (key_id)`,
          [items.map((i) => i.keyId), items.map((i) => i.network), items.map((i) => new Date(i.timeMs))],
        );
      // A key's very first network is its baseline, not an anomaly.
      for (const f of fresh.filter((x) => x.had_networks)) {
        const ip = seen.get(`${f.key_id} ${f.network}`)?.ip;
        await raise({
          type: 'new_network',
          keyId: f.key_id,
          subject: f.key_id,
          severity: 'warning',
          message: `key ${f.key_id} used from a network it was never used from: ${f.network}`,
          details: { network: f.network, clientIp: ip ?? null, firstSeenAt: f.first_seen_at.toISOString() },
          dedupeKey: `new_network:${f.key_id}`,
          dedupeSeconds: this.cfg.dedupeSeconds,
        });
      }
    });
  }
}
