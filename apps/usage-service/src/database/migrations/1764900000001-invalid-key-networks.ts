import type { MigrationInterface, QueryRunner } from 'typeorm';

// Invalid-key bursts are counted per client network (an IPv4 /24 or IPv6 /48, networkOf), not per address: the
// ledger stores each request's network beside its address, and the rejected requests are indexed by it. Rows from
// before this migration have none and count for no network.
export class InvalidKeyNetworks1764900000001 implements MigrationInterface {
  name = 'InvalidKeyNetworks1764900000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE usage_requests ADD COLUMN client_network text`);
    await q.query(
      `CREATE INDEX usage_requests_rejected_network ON usage_requests (client_network, time) WHERE outcome = 'rejected'`,
    );
    await q.query(`DROP INDEX IF EXISTS usage_requests_rejected_ip`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX usage_requests_rejected_ip ON usage_requests (client_ip, time) WHERE outcome = 'rejected'`,
    );
    await q.query(`DROP INDEX usage_requests_rejected_network`);
    await q.query(`ALTER TABLE usage_requests DROP COLUMN client_network`);
  }
}
