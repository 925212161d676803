import { newId, type DomainEvent } from '@keygate/contracts';
import { createKafka, EventProducer } from '@keygate/messaging';
import { apiKeyDecider, type ApiKeyCommand } from '../../apps/key-service/src/api-keys/api-key.decider';
import type { CommandHandler } from '../../apps/key-service/src/event-store/command-handler';
import { EventStore } from '../../apps/key-service/src/event-store/event-store';
import { OutboxRelay } from '../../apps/key-service/src/outbox/outbox-relay';
import {
  commandHandler,
  createKeyCommand,
  isVersionConflict,
  KAFKA_BROKERS,
  keyContext,
  outboxCount,
  meta,
  renameCommand,
  runKeyCommand,
  sleep,
  storedEvents,
  tailKeysEvents,
  throwawayKeysDb,
  type KeysEventsTail,
  type ThrowawayDb,
} from './key-service-write-side.helper';

// Optimistic concurrency on one key, against the real PostgreSQL: the (stream_id, stream_position) primary key
// lets exactly one of several concurrent writers append; the others get VERSION_CONFLICT (REST: 412).
describe('key-service event store: concurrent writers on one key', () => {
  let t: ThrowawayDb;
  let tail: KeysEventsTail;
  let relay: OutboxRelay;
  let producer: EventProducer;

  beforeAll(async () => {
    t = await throwawayKeysDb('concurrency');
    tail = await tailKeysEvents('concurrency');
    producer = new EventProducer(createKafka('it-concurrency', KAFKA_BROKERS));
    relay = new OutboxRelay(t.db, producer, 20);
    relay.onApplicationBootstrap();
  });

  afterAll(async () => {
    await relay?.beforeApplicationShutdown();
    await producer?.disconnect().catch(() => undefined);
    await tail?.stop();
    await t?.drop();
  });

  const settle = <T>(ps: Promise<T>[]) => Promise.allSettled(ps);

  it('lets exactly one of ten writers that read the same version win; the rest get VERSION_CONFLICT', async () => {
    const handler = commandHandler(t.db);
    const keyId = newId('key');
    await runKeyCommand(handler, keyId, createKeyCommand(keyId));

    // Every writer has loaded the stream (version 1) before any of them appends: a real race, not a queue.
    const writers = 10;
    let arrived = 0;
    let release!: () => void;
    const allLoaded = new Promise<void>((r) => (release = r));
    const barrier = async () => {
      if (++arrived === writers) release();
      await allLoaded;
    };
    const results = await settle(
      Array.from({ length: writers }, (_, i) =>
        runKeyCommand(handler, keyId, renameCommand(keyId, `writer ${i}`), { beforeDecide: barrier }),
      ),
    );

    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(writers - 1);
    for (const r of lost) expect(isVersionConflict(r.reason)).toBe(true);

    const events = (await storedEvents(t.db)).filter((e) => e.stream_id === keyId);
    expect(events.map((e) => [e.stream_position, e.type])).toEqual([
      [1, 'KeyCreated'],
      [2, 'KeyUpdated'],
    ]);
    const winner = (won[0] as PromiseFulfilledResult<{ state: { version: number } }>).value;
    expect(winner.state.version).toBe(2);
    const [row] = await t.db.query(`SELECT name, version FROM api_keys WHERE id = $1`, [keyId]);
    expect(row).toEqual({ name: (events[1].data as { name: string }).name, version: 2 });

    // Only the winner's event leaves through the outbox.
    await tail.waitForIds(events.map((e) => e.event_id));
    const published = tail.of(new Set([keyId])).map((r) => r.envelope);
    expect(published.map((e) => [e.streamPosition, e.type])).toEqual([
      [1, 'KeyCreated'],
      [2, 'KeyUpdated'],
    ]);
    expect(published[1].data).toEqual(events[1].data);
  });

  it('with If-Match (an expected version), concurrent writers of the same version: one wins', async () => {
    const handler = commandHandler(t.db);
    const keyId = newId('key');
    await runKeyCommand(handler, keyId, createKeyCommand(keyId));
    const results = await settle(
      Array.from({ length: 8 }, (_, i) =>
        runKeyCommand(handler, keyId, renameCommand(keyId, `if-match ${i}`), { expectedVersion: 1 }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected'))
      expect(isVersionConflict((r as PromiseRejectedResult).reason)).toBe(true);
    const [{ n }] = await t.db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id = $1`, [keyId]);
    expect(n).toBe(2);
  });

  it('refuses a stale expected version without appending anything', async () => {
    const handler = commandHandler(t.db);
    const keyId = newId('key');
    await runKeyCommand(handler, keyId, createKeyCommand(keyId));
    await runKeyCommand(handler, keyId, renameCommand(keyId, 'second'), { expectedVersion: 1 });
    const before = await outboxCount(t.db);
    const stale = runKeyCommand(handler, keyId, renameCommand(keyId, 'third'), { expectedVersion: 1 });
    await expect(stale).rejects.toMatchObject({
      code: 'VERSION_CONFLICT',
      details: { currentVersion: 2 },
    });
    const [{ n }] = await t.db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id = $1`, [keyId]);
    expect(n).toBe(2);
    expect(await outboxCount(t.db)).toBeLessThanOrEqual(before);
  });

  it('takes back the part of a multi-event append that got in before a conflict, and the transaction goes on', async () => {
    const handler = commandHandler(t.db);
    const store = new EventStore(t.db);
    const keyId = newId('key');
    await runKeyCommand(handler, keyId, createKeyCommand(keyId));
    const first = t.db.createQueryRunner();
    const second = t.db.createQueryRunner();
    try {
      await first.startTransaction();
      await second.startTransaction();
      await store.append(
        first.manager,
        keyId,
        1,
        [{ type: 'KeyUpdated', data: { keyId, name: 'first' } }],
        meta(),
      );
      // Positions 2 and 3 expecting version 1: 2 waits on the first writer's uncommitted row, 3 goes in.
      const pair: DomainEvent[] = [
        { type: 'KeyUpdated', data: { keyId, name: 'second' } },
        { type: 'KeyRestrictionsChanged', data: { keyId, ipAllow: ['10.0.0.0/8'] } },
      ];
      const losing = store.append(second.manager, keyId, 1, pair, meta());
      await sleep(300);
      await first.commitTransaction();
      await expect(losing).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
      // The conflict raised no SQL error: the loser's transaction is still usable and may commit other work.
      await second.query(`SELECT 1`);
      await second.commitTransaction();
    } finally {
      await first.release();
      await second.release();
    }
    const events = (await storedEvents(t.db)).filter((e) => e.stream_id === keyId);
    expect(events.map((e) => [e.stream_position, e.type, e.data])).toEqual([
      [1, 'KeyCreated', expect.anything()],
      [2, 'KeyUpdated', { keyId, name: 'first' }],
    ]);
    await tail.waitForIds(events.map((e) => e.event_id));
    await sleep(500);
    expect(tail.of(new Set([keyId])).map((r) => r.envelope.streamPosition)).toEqual([1, 2]);
  });

  // Creates (new streams) share group commits: one transaction, one append statement for all of them.
  const create = (handler: CommandHandler, command: ApiKeyCommand, requestId: string) =>
    handler.execute(
      apiKeyDecider,
      (command.data as { keyId: string }).keyId,
      command,
      async () => keyContext(),
      { actor: 'it', requestId },
      undefined,
      true,
    );

  it('group-commits concurrent creates: a bad one fails alone, each good one is its own stream and message', async () => {
    const handler = commandHandler(t.db);
    const n = 60;
    const commands = Array.from({ length: n }, (_, i) => {
      const c = createKeyCommand(newId('key'), `group commit ${i}`);
      const d = c.data as { groupIds?: string[]; name: string };
      // Every 7th refers to a group that does not exist (a domain error); every 11th carries a NUL, which the
      // database refuses (a failure of the whole shared transaction, after which each create commits alone).
      if (i % 7 === 3) d.groupIds = ['grp_missing'];
      if (i % 11 === 5) d.name = `nul \u0000 ${i}`;
      return c;
    });
    const requestIds = commands.map((_, i) => `req_groupcommit_${i}`);
    const results = await Promise.allSettled(commands.map((c, i) => create(handler, c, requestIds[i])));

    const keyIds = commands.map((c) => (c.data as { keyId: string }).keyId);
    const shouldFail = (i: number) => i % 7 === 3 || i % 11 === 5;
    results.forEach((r, i) => {
      if (i % 7 === 3) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'UNKNOWN_GROUP' } });
      else if (i % 11 === 5) expect(r.status).toBe('rejected');
      else {
        expect(r.status).toBe('fulfilled');
        const { events } = (r as PromiseFulfilledResult<Awaited<ReturnType<typeof create>>>).value;
        expect(events.map((e) => [e.streamId, e.streamPosition, e.type, e.metadata.requestId])).toEqual([
          [keyIds[i], 1, 'KeyCreated', requestIds[i]],
        ]);
      }
    });

    const stored = (await storedEvents(t.db)).filter((e) => keyIds.includes(e.stream_id));
    const good = keyIds.filter((_, i) => !shouldFail(i));
    expect(stored.map((e) => e.stream_id).sort()).toEqual([...good].sort());
    for (const e of stored) expect(e.metadata.requestId).toBe(requestIds[keyIds.indexOf(e.stream_id)]);
    const rows: { id: string; name: string }[] = await t.db.query(
      `SELECT id, name FROM api_keys WHERE id = ANY ($1)`,
      [keyIds],
    );
    expect(rows.map((r) => r.id).sort()).toEqual([...good].sort());

    // Each committed create reaches keys.events as its own message, keyed by its own stream.
    await tail.waitForIds(stored.map((e) => e.event_id));
    const published = tail.of(new Set(keyIds));
    expect(published.map((p) => p.envelope.subject).sort()).toEqual([...good].sort());
    for (const p of published) {
      expect(p.envelope.streamPosition).toBe(1);
      expect(p.envelope.correlationId).toBe(requestIds[keyIds.indexOf(p.envelope.subject)]);
    }
  });
});
