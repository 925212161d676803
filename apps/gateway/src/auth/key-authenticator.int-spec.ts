import { generateApiKey, hashApiKey } from '@keygate/contracts';
import { privateRedis, type PrivateRedis } from '@keygate/testing';
import type { GroupDocument, KeyDocument } from '../key-projection/key-document';
import { KeyProjectionStore, type ProjectionWrite } from '../key-projection/key-projection.store';
import { KeyAuthenticator } from './key-authenticator';

// A gateway that did not hear of a group (its change notice missed) still serves a key in it with the routes the
// group grants, and a key whose group is not projected yet is not served without them: documents written here
// without any change notice, on a Redis of its own.
describe('KeyAuthenticator and groups it has not heard of (real Redis)', () => {
  let redis: PrivateRedis;
  let store: KeyProjectionStore;
  let auth: KeyAuthenticator;
  let v = 0;

  beforeAll(async () => {
    redis = await privateRedis();
    store = new KeyProjectionStore(redis.connect());
    await store.markComplete();
    // Reconciliation far away: only what the authenticator reads for itself can teach it the groups.
    auth = new KeyAuthenticator(store, redis.connect(), {
      cacheMax: 100,
      cacheTtlMs: 60_000,
      staleServeMs: 60_000,
      redisTimeoutMs: 1_000,
      reconcileMs: 3_600_000,
    });
    await auth.onApplicationBootstrap();
  });

  afterAll(async () => {
    await auth?.onApplicationShutdown();
    await redis?.destroy();
  });

  const group = (groupId: string, routes: string[]): GroupDocument => ({
    groupId,
    v: ++v,
    routes,
    deleted: false,
  });
  const key = (keyId: string, secret: string, groupIds: string[]): KeyDocument => ({
    keyId,
    v: ++v,
    status: 'active',
    environment: 'live',
    hash: hashApiKey(secret),
    previous: null,
    expiresAt: null,
    ipAllow: [],
    ipDeny: [],
    rateLimit: null,
    budget: null,
    groupIds,
    suspension: null,
  });
  // A live commit whose change notices nobody hears.
  const silently = (w: Partial<ProjectionWrite>) =>
    store.commit(
      {
        keys: [],
        groups: [],
        credentials: [],
        hashes: [],
        notices: [],
        touchedKeys: new Map(),
        ...w,
        ...(w.keys && { touchedKeys: new Map(w.keys.map((k) => [k.keyId, k.v])) }),
      },
      'live',
    );
  const withHash = (k: KeyDocument) => ({
    keys: [k],
    hashes: [{ hash: k.hash, entry: { keyId: k.keyId, v: k.v }, expiresAt: null }],
  });

  it('reads a group it missed the notice of when a key in it is first used', async () => {
    await silently({ groups: [group('grp_missed', ['gpt-4o-mini'])] });
    const secret = generateApiKey('live');
    await silently(withHash(key('key_missed', secret, ['grp_missed'])));
    expect([...(await auth.authenticate(secret)).routes]).toEqual(['gpt-4o-mini']);
  });

  it('answers "retry shortly" for a key folded before its group, and serves it once the group is there', async () => {
    const secret = generateApiKey('live');
    await silently(withHash(key('key_early', secret, ['grp_late'])));
    await expect(auth.authenticate(secret)).rejects.toMatchObject({ code: 'auth_unavailable' });
    await silently({ groups: [group('grp_late', ['gpt-4o', 'gpt-4o-mini'])] });
    expect([...(await auth.authenticate(secret)).routes].sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });
});
