import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { counter } from '@keygate/platform';
import { addDays, expiredPartitions, partitionDay, partitionName, utcDay } from './retention';

const PARTITION_LOCK = 7_240_101; // pg advisory lock: one instance at a time changes partitions
const MAINTENANCE_MS = 3_600_000;
const dropped = counter('keygate_usage_partitions_dropped_total', 'Daily usage_requests partitions dropped');

// Daily partitions of usage_requests: created ahead of time (today + 2 days) and on demand for any admitted day,
// dropped once older than USAGE_RETENTION_DAYS. Aggregates (usage_minute, usage_day) are never touched.
export class LedgerPartitions implements OnApplicationShutdown {
  private readonly logger = new Logger('partitions');
  private readonly known = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly db: DataSource,
    private readonly retentionDays: number,
    private readonly clock: () => number = Date.now,
  ) {}

  // Called by the ingest consumer before it starts consuming.
  async prepare(): Promise<void> {
    await this.maintain();
    this.timer = setInterval(
      () => void this.maintain().catch((e: unknown) => this.logger.warn(`maintenance failed: ${String(e)}`)),
      MAINTENANCE_MS,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async maintain(): Promise<void> {
    const today = utcDay(this.clock());
    await this.ensure([today, addDays(today, 1), addDays(today, 2)]);
    await this.dropExpired();
  }

  async ensure(days: string[]): Promise<void> {
    const missing = [...new Set(days)].filter((d) => !this.known.has(d));
    if (missing.length === 0) return;
    await this.db.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock($1)`, [PARTITION_LOCK]);
      for (const day of missing) {
        await m.query(
          `CREATE TABLE IF NOT EXISTS ${partitionName(day)} PARTITION OF usage_requests
           FOR VALUES FROM ('${day} 00:00:00+00') TO ('${addDays(day, 1)} 00:00:00+00')`,
        );
      }
    });
    for (const day of missing) this.known.add(day);
  }

  async dropExpired(): Promise<string[]> {
    const names = await this.list();
    const expired = expiredPartitions(names, this.clock(), this.retentionDays);
    if (expired.length === 0) return [];
    await this.db.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock($1)`, [PARTITION_LOCK]);
      for (const name of expired) await m.query(`DROP TABLE IF EXISTS ${name}`);
    });
    for (const name of expired) this.known.delete(partitionDay(name)!);
    dropped.inc(expired.length);
    this.logger.log(`dropped ${expired.length} expired partition(s): ${expired.join(', ')}`);
    return expired;
  }

  async list(): Promise<string[]> {
    const rows: { name: string }[] = await this.db.query(
      `SELECT c.relname AS name FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relname = 'usage_requests' ORDER BY 1`,
    );
    return rows.map((r) => r.name);
  }
}
