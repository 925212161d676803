import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Admin, Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { Topics } from '@keygate/contracts';
import { counter } from '@keygate/platform';

const POLL_MS = 10;
const waits = counter('keygate_projection_fence_total', 'Revocations and rotations waited for the gateways', [
  'result',
]);

// A revocation, rotation, suspension or deletion answers only once the gateways' projection holds it: the API's
// 200 means "this secret no longer works anywhere". The change is first published (its outbox rows are gone), then
// the fence waits until each gateway projection group has committed past the topic's end as it was then — a
// gateway commits an offset only after its Redis write and the change notice to every instance. Bounded by
// `timeoutMs` (the change still applies later, through Kafka); a group that never committed anything (no gateway
// deployed) is not waited for.
export class ProjectionFence implements OnApplicationShutdown {
  private readonly logger = new Logger('projection-fence');
  private admin?: Promise<Admin>;

  constructor(
    private readonly db: DataSource,
    private readonly kafka: Kafka,
    private readonly groups: string[],
    private readonly timeoutMs: number,
  ) {}

  async waitApplied(aggregateId: string): Promise<boolean> {
    if (this.timeoutMs === 0 || this.groups.length === 0) return true;
    const deadline = Date.now() + this.timeoutMs;
    try {
      while (await this.unpublished(aggregateId)) {
        if (Date.now() > deadline) return this.timedOut(aggregateId, 'publish');
        await sleep(POLL_MS);
      }
      const admin = await this.connect();
      const ends = new Map(
        (await admin.fetchTopicOffsets(Topics.keysEvents)).map((p) => [p.partition, BigInt(p.high)]),
      );
      for (const groupId of this.groups) {
        for (;;) {
          const [topic] = await admin.fetchOffsets({ groupId, topics: [Topics.keysEvents] });
          const committed = (topic?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)] as const);
          if (caughtUp(committed, ends)) break;
          if (Date.now() > deadline) return this.timedOut(aggregateId, groupId);
          await sleep(POLL_MS);
        }
      }
      waits.inc({ result: 'applied' });
      return true;
    } catch (e) {
      this.admin = undefined;
      this.logger.warn(`could not confirm the gateways applied ${aggregateId}: ${(e as Error).message}`);
      waits.inc({ result: 'error' });
      return false;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    const admin = await this.admin?.catch(() => undefined);
    this.admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }

  private async unpublished(aggregateId: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query('SELECT 1 FROM outbox WHERE message_key = $1 LIMIT 1', [
      aggregateId,
    ]);
    return rows.length > 0;
  }

  private connect(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })();
    return this.admin;
  }

  private timedOut(aggregateId: string, stage: string): false {
    waits.inc({ result: 'timeout' });
    this.logger.warn(
      `${aggregateId}: the gateways did not confirm within ${this.timeoutMs} ms (${stage}); it applies when they catch up`,
    );
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Whether a group has committed every partition up to `ends` (offset -1: nothing committed there). A group that
// committed nothing anywhere has no gateway behind it; a partition that has never held an event needs no commit
// (before, a fresh stack's empty partitions made every revocation wait out the whole timeout).
export const caughtUp = (
  committed: readonly (readonly [partition: number, offset: bigint])[],
  ends: ReadonlyMap<number, bigint>,
): boolean =>
  committed.every(([, offset]) => offset < 0n) ||
  committed.every(([p, offset]) => {
    const end = ends.get(p) ?? 0n;
    return end === 0n || offset >= end;
  });
