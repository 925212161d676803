import { context } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import { makeEnvelope } from '@keygate/contracts';
import type { EventConsumer, IncomingEvent } from '@keygate/messaging';
import { privateRedis, type PrivateRedis } from '@keygate/testing';
import { KeyProjectionConsumer } from './key-projection.consumer';
import { KeyProjectionStore, redisKeys } from './key-projection.store';

// The live fold of a batch that arrives while a replay holds the projection (Redis of its own): refused, then folded
// as soon as the replay is done, by the same call — not after a consumer restart — and given up after its bound.
describe('KeyProjectionConsumer during a replay (real Redis)', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let store: KeyProjectionStore;
  let live: KeyProjectionConsumer;
  let refused = 0;
  let position = 0;

  beforeAll(async () => {
    server = await privateRedis();
    redis = server.connect();
    store = new KeyProjectionStore(redis);
    await store.markComplete();
    live = new KeyProjectionConsumer({} as EventConsumer, store, 'unused', 'live', () => void refused++);
  });

  afterAll(() => server?.destroy());

  const groupCreated = (groupId: string): IncomingEvent[] => [
    {
      envelope: makeEnvelope({
        type: 'GroupCreated',
        source: 'key-service',
        subject: groupId,
        streamPosition: ++position,
        data: { groupId, name: groupId, description: '', routes: ['gpt-4o-mini'] },
      }),
      partition: 0,
      offset: String(position),
      trace: context.active(),
    },
  ];

  it('folds a refused batch within moments of the replay ending', async () => {
    const token = await store.lockReplay(30_000);
    const applying = live.applyAll(groupCreated('grp_waited'));
    await new Promise((r) => setTimeout(r, 700));
    expect(await redis.get(redisKeys.group('grp_waited'))).toBeNull();
    expect(refused).toBe(1);
    await store.unlockReplay(token!);
    const unlocked = Date.now();
    await applying;
    expect(Date.now() - unlocked).toBeLessThan(1_000);
    expect(JSON.parse((await redis.get(redisKeys.group('grp_waited')))!)).toMatchObject({
      routes: ['gpt-4o-mini'],
    });
  });

  it('fails the batch (Kafka delivers it again) when the replay outlasts its wait', async () => {
    const token = await store.lockReplay(30_000);
    try {
      await expect(live.applyAll(groupCreated('grp_late'))).rejects.toThrow(/KGREBUILDING/);
      expect(await redis.get(redisKeys.group('grp_late'))).toBeNull();
    } finally {
      await store.unlockReplay(token!);
    }
  }, 15_000);
});
