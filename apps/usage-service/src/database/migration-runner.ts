import { Logger, type OnModuleInit } from '@nestjs/common';
import type { DataSource } from 'typeorm';

const MIGRATION_LOCK = 7_240_100; // pg advisory lock id

// TypeORM's migrationsRun has no lock: two instances starting together both try to run the same migration and one
// dies. This runs them while holding a session advisory lock, so the second instance waits and finds nothing to do.
// onModuleInit: before any provider's onApplicationBootstrap (the consumers) touches the tables.
export class MigrationRunner implements OnModuleInit {
  private readonly logger = new Logger('migrations');

  constructor(private readonly db: DataSource) {}

  async onModuleInit(): Promise<void> {
    const lock = this.db.createQueryRunner();
    await lock.connect();
    try {
      await lock.query(`SELECT pg_advisory_lock($1)`, [MIGRATION_LOCK]);
      const applied = await this.db.runMigrations({ transaction: 'all' });
      if (applied.length) this.logger.log(`applied ${applied.map((m) => m.name).join(', ')}`);
    } finally {
      await lock.query(`SELECT pg_advisory_unlock($1)`, [MIGRATION_LOCK]).catch(() => undefined);
      await lock.release();
    }
  }
}
