import { newId } from '@keygate/contracts';
import { createKafka, EventProducer } from '@keygate/messaging';
import { eventually } from '@keygate/testing';
import type { EntityManager } from 'typeorm';
import type { ApiKeyCommand } from '../../apps/key-service/src/api-keys/api-key.decider';
import {
  EventStore,
  toEnvelope,
  toStored,
  type StreamAppend,
} from '../../apps/key-service/src/event-store/event-store';
import { OutboxRelay } from '../../apps/key-service/src/outbox/outbox-relay';
import {
  byStream,
  commandHandler,
  createKeyCommand,
  isVersionConflict,
  KAFKA_BROKERS,
  outboxCount,
  renameCommand,
  runKeyCommand,
  storedEvents,
  tailKeysEvents,
  throwawayKeysDb,
  type KeysEventsTail,
  type ThrowawayDb,
} from './key-service-write-side.helper';

// The event store keeps its transaction open for a random while after the append, i.e. after the
// global_position (a sequence) was taken: commits land out of global-position order, the case in which a
// "max position seen" cursor skips events for good.
class SlowCommitEventStore extends EventStore {
  override async appendMany(m: EntityManager, appends: StreamAppend[]) {
    const stored = await super.appendMany(m, appends);
    await m.query(`SELECT pg_sleep($1)`, [Math.random() * 0.06]);
    return stored;
  }
}

const WRITERS = 50;
const OPS_PER_WRITER = 6;
const HOT_KEYS = 5; // shared by every writer, so streams see contention as well as interleaving

describe('key-service outbox: 50 concurrent writers, commits out of global order', () => {
  let t: ThrowawayDb;
  let tail: KeysEventsTail;
  let relay: OutboxRelay;
  let producer: EventProducer;

  beforeAll(async () => {
    t = await throwawayKeysDb('ordering', WRITERS + 10);
    tail = await tailKeysEvents('ordering');
    producer = new EventProducer(createKafka('it-ordering', KAFKA_BROKERS));
    relay = new OutboxRelay(t.db, producer, 20);
    relay.onApplicationBootstrap();
  });

  afterAll(async () => {
    await relay?.beforeApplicationShutdown();
    await producer?.disconnect().catch(() => undefined);
    await tail?.stop();
    await t?.drop();
  });

  it('publishes exactly the stored events, in stream order per key, while the relay runs alongside', async () => {
    const handler = commandHandler(t.db, new SlowCommitEventStore(t.db));
    const hot = Array.from({ length: HOT_KEYS }, () => newId('key'));
    await Promise.all(hot.map((k) => runKeyCommand(handler, k, createKeyCommand(k))));

    // Global positions in the order their transactions returned (≈ commit order).
    const commitOrder: number[] = [];
    let conflicts = 0;
    const attempt = async (keyId: string, command: ApiKeyCommand): Promise<void> => {
      for (;;) {
        try {
          const { events } = await runKeyCommand(handler, keyId, command);
          commitOrder.push(...events.map((e) => e.globalPosition));
          return;
        } catch (e) {
          if (!isVersionConflict(e)) throw e;
          conflicts++;
        }
      }
    };
    const writer = async (w: number): Promise<void> => {
      const own = newId('key');
      await attempt(own, createKeyCommand(own, `writer ${w}`));
      for (let i = 0; i < OPS_PER_WRITER; i++) {
        const target = Math.random() < 0.5 ? own : hot[Math.floor(Math.random() * HOT_KEYS)];
        const command: ApiKeyCommand =
          i % 2 === 0
            ? renameCommand(target, `w${w} op${i}`)
            : { type: 'ChangeKeyRestrictions', data: { keyId: target, ipAllow: [`10.${w}.${i}.0/24`] } };
        await attempt(target, command);
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));

    // The scenario really happened: some transaction committed after one with a higher global position.
    let max = 0;
    const inversions = commitOrder.filter((gp) => {
      const inverted = gp < max;
      max = Math.max(max, gp);
      return inverted;
    }).length;
    expect(inversions).toBeGreaterThan(0);
    expect(conflicts).toBeGreaterThan(0);

    const stored = await storedEvents(t.db);
    expect(stored).toHaveLength(HOT_KEYS + WRITERS * (1 + OPS_PER_WRITER));
    const subjects = new Set(stored.map((e) => e.stream_id));
    await tail.waitForIds(stored.map((e) => e.event_id));
    // The relay deletes a batch's rows once the broker acknowledged it: a consumer can read the last batch a moment
    // before that delete commits.
    expect(
      await eventually(
        () => outboxCount(t.db),
        (n) => n === 0,
        { timeoutMs: 10_000, intervalMs: 50 },
      ),
    ).toBe(0);

    // Set equality by event id: nothing lost, nothing extra.
    const published = tail.of(subjects).map((r) => r.envelope);
    expect(new Set(published.map((e) => e.id))).toEqual(new Set(stored.map((e) => e.event_id)));
    expect(published).toHaveLength(stored.length); // no fault injected here, so no duplicate either

    // Per key, the topic carries 1, 2, 3, … in order (one key → one partition → one order).
    const publishedByKey = byStream(published, (e) => e.subject);
    for (const [keyId, events] of byStream(stored, (e) => e.stream_id)) {
      const positions = publishedByKey.get(keyId)?.map((e) => e.streamPosition);
      expect({ keyId, positions }).toEqual({ keyId, positions: events.map((_, i) => i + 1) });
    }
    // Each message is exactly the envelope of the stored event (time, positions, correlation id, data).
    const storedById = new Map(stored.map((e) => [e.event_id, e]));
    for (const e of published) expect(e).toEqual(toEnvelope(toStored(storedById.get(e.id)!)));

    // The read model, updated in the append's transaction, is at the stream's version for every key.
    const versions: { id: string; version: number }[] = await t.db.query(`SELECT id, version FROM api_keys`);
    const counts = byStream(stored, (e) => e.stream_id);
    for (const { id, version } of versions) expect([id, version]).toEqual([id, counts.get(id)!.length]);
  }, 180_000);
});
