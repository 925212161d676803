import type { Redis } from 'ioredis';
import { privateRedis, type PrivateRedis } from '@keygate/testing';
import { waitFor } from '@keygate/stack';
import type { KeyDocument } from './key-document';
import {
  isRebuildingError,
  KeyProjectionStore,
  redisKeys,
  type ProjectionWrite,
} from './key-projection.store';

// The projection's commit script on a Redis of its own: versioned writes, and a live fold that writes nothing while
// the projection is incomplete or being replayed, but marks what it touched as pending and tells every instance.
describe('KeyProjectionStore on Redis', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let listener: Redis;
  let store: KeyProjectionStore;
  const heard: string[] = [];

  beforeAll(async () => {
    server = await privateRedis();
    redis = server.connect();
    listener = server.connect();
    listener.on('smessage', (_c: string, m: string) => heard.push(m));
    await listener.ssubscribe(redisKeys.changes);
    store = new KeyProjectionStore(redis);
  });

  afterAll(() => server?.destroy());

  const doc = (v: number, status: KeyDocument['status'] = 'active'): KeyDocument => ({
    keyId: 'key_1',
    v,
    status,
    environment: 'live',
    hash: 'h2',
    previous: { hash: 'h1', validUntil: new Date(Date.now() + 60_000).toISOString() },
    expiresAt: null,
    ipAllow: [],
    ipDeny: [],
    rateLimit: null,
    budget: null,
    groupIds: [],
    suspension: null,
  });
  const write = (d: KeyDocument, hashes: ProjectionWrite['hashes'] = []): ProjectionWrite => ({
    keys: [d],
    groups: [],
    credentials: [],
    hashes,
    notices: [{ keyId: d.keyId }],
    touchedKeys: new Map([[d.keyId, d.v]]),
  });

  it('a live commit into an incomplete projection writes nothing, marks the key pending and tells every instance', async () => {
    const err = await store.commit(write(doc(1)), 'live').catch((e: unknown) => e);
    expect(isRebuildingError(err)).toBe(true);
    expect(await redis.get(redisKeys.key('key_1'))).toBeNull();
    expect(await redis.get(redisKeys.pending('key_1'))).toBe('1');
    await waitFor(async () => heard.length > 0, { timeoutMs: 2000, intervalMs: 20, what: 'notice' });
    expect(JSON.parse(heard[heard.length - 1])).toEqual({ keyId: 'key_1' });
  });

  it('a replay writes; a key older than its pending change is stale until the live fold catches up', async () => {
    await store.commit(
      write(doc(1), [{ hash: 'h1', entry: { keyId: 'key_1', v: 1 }, expiresAt: null }]),
      'replay',
    );
    expect(await store.lookup('h1')).toMatchObject({ stale: false });
    await store.markComplete();
    const locked = await store.lockReplay(10_000);
    expect(locked).not.toBeNull();
    // A revocation arrives while the replay holds the lock: refused, and the copy in Redis is now stale.
    expect(
      isRebuildingError(await store.commit(write(doc(2, 'revoked')), 'live').catch((e: unknown) => e)),
    ).toBe(true);
    expect(await store.lookup('h1')).toMatchObject({ stale: true, doc: { v: 1, status: 'active' } });
    expect(await store.isServing()).toBe(false);
    await store.unlockReplay(locked!);
    await store.commit(write(doc(2, 'revoked')), 'live');
    expect(await store.lookup('h1')).toMatchObject({ stale: false, doc: { v: 2, status: 'revoked' } });
    expect(await store.isServing()).toBe(true);
  });

  it('never lets an older write replace a newer document or hash entry', async () => {
    const rotatedOut = new Date(Date.now() + 3_600_000).toISOString();
    await store.commit(
      write(doc(5), [{ hash: 'h1', entry: { keyId: 'key_1', v: 5 }, expiresAt: rotatedOut }]),
      'live',
    );
    // A second replay re-applies the creation (v1, no expiry) over the rotated-out entry: ignored.
    await store.commit(
      write(doc(1), [{ hash: 'h1', entry: { keyId: 'key_1', v: 1 }, expiresAt: null }]),
      'replay',
    );
    expect(JSON.parse((await redis.get(redisKeys.hash('h1')))!)).toEqual({ keyId: 'key_1', v: 5 });
    expect(await redis.pttl(redisKeys.hash('h1'))).toBeGreaterThan(3_600_000);
    expect((await store.lookup('h1'))?.doc.v).toBe(5);
  });

  it('only the lock holder renews or releases the replay lock', async () => {
    const token = await store.lockReplay(10_000);
    expect(await store.lockReplay(10_000)).toBeNull();
    expect(await store.renewReplay('not-the-token', 10_000)).toBe(false);
    await store.unlockReplay('not-the-token');
    expect(await store.isServing()).toBe(false);
    expect(await store.renewReplay(token!, 10_000)).toBe(true);
    await store.unlockReplay(token!);
    expect(await store.isServing()).toBe(true);
  });

  it('lists groups and credentials from their own sets, commits a replayed batch of 20,000 keys at once, and wipes all', async () => {
    const group = { groupId: 'grp_1', v: 3, routes: ['gpt-4o'], deleted: false };
    const credential = {
      credentialId: 'cred_1',
      v: 4,
      name: 'openai-main',
      ciphertext: 'c',
      wrappedDataKey: 'w',
      settings: {},
      removed: false,
    };
    // A replay reads up to 8 MiB per partition: ≈ 12 script arguments per key, past one JS call's limit if spread.
    const keys = Array.from({ length: 20_000 }, (_, i) => ({
      ...doc(1),
      keyId: `key_big_${i}`,
      hash: `hb${i}`,
    }));
    await store.commit(
      {
        keys,
        groups: [group],
        credentials: [credential],
        hashes: keys.map((k) => ({ hash: k.hash, entry: { keyId: k.keyId, v: 1 }, expiresAt: null })),
        notices: [],
        touchedKeys: new Map(keys.map((k) => [k.keyId, 1])),
      },
      'replay',
    );
    expect((await store.lookup('hb19999'))?.doc.keyId).toBe('key_big_19999');
    expect(await store.allGroups()).toEqual([group]);
    expect(await store.allCredentials()).toEqual([credential]);
    expect(await redis.smembers(redisKeys.groupIds)).toEqual(['grp_1']);
    expect(await store.wipe()).toBeGreaterThanOrEqual(40_002);
    expect(await store.allGroups()).toEqual([]);
    expect(await redis.dbsize()).toBe(0);
  });
});
