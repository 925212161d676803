import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { ChainableCommander, Redis } from 'ioredis';
import { namespaced } from '@keygate/contracts';
import { isCluster, scanKeys } from '../redis/redis-client';
import type { CredentialDocument, GroupDocument, HashEntry, KeyDocument } from './key-document';

// Redis layout of the projection. Documents and hash entries carry `v` (the stream position that wrote them); a
// write older than what is stored is ignored, so redelivery, replay from offset 0 and racing writers converge.
// The layout is versioned: a gateway whose document format changed builds its own projection beside the old one
// (its "complete" marker is missing, so it replays the topic), and both versions can serve during a rolling upgrade.
// Every name carries the layout as its hash tag: on a Redis Cluster the whole projection is one slot, so a folded
// batch is still one atomic script with the replay lock and the completeness check, and its change notice is a
// sharded publish from that slot. The projection is small (≈ 690 bytes per API key: 10 M keys ≈ 7 GiB on one
// master); the per-request traffic — limits, budgets, holds — is spread over the cluster by key (admission).
const LAYOUT = '{kg:p3}';
export const redisKeys = {
  key: (keyId: string) => `${LAYOUT}:k:${keyId}`,
  hash: (hash: string) => `${LAYOUT}:h:${hash}`,
  group: (groupId: string) => `${LAYOUT}:g:${groupId}`,
  credential: (credentialId: string) => `${LAYOUT}:c:${credentialId}`,
  pending: (keyId: string) => `${LAYOUT}:pending:${keyId}`,
  // Sets of every group and credential id ever written: start-up and reconciliation read these, never a SCAN of the
  // keyspace, so they do not grow with the number of API keys.
  groupIds: `${LAYOUT}:groups`,
  credentialIds: `${LAYOUT}:credentials`,
  // Pub/sub channels are global across Redis databases: this one is in the stack's namespace (KAFKA_TOPIC_PREFIX).
  changes: namespaced(`${LAYOUT}:changed`),
  // Present while Redis holds a complete projection; gone after Redis lost its data (restart without
  // persistence, FLUSHALL), which the gateway answers with a replay from the topic.
  complete: `${LAYOUT}:complete`,
  // Held by whoever replays keys.events into Redis (the healer or `rebuild-projection`); the live fold waits.
  replayLock: `${LAYOUT}:replaying`,
} as const;

// How long a rotated-out secret's hash entry outlives its grace period (its key document decides whether it
// works; the entry only lets a late caller be told precisely that the key was rotated).
const HASH_LINGER_MS = 86_400_000;

// While a live commit is refused, a key touched by the batch carries the newest stream position known for it: a
// document older than that is stale, and the authenticator answers 503 for it instead of serving it.
const PENDING_TTL_MS = 3_600_000;

// How long a commit on a cluster waits for a replica to confirm it (see commit).
const REPLICA_WAIT_MS = 250;

// Documents read per MGET when many are loaded at once (groups, credentials at start-up).
const MGET_CHUNK = 500;

// One atomic write of a folded batch. KEYS: lock, complete marker, the group and credential id sets, nP pending
// markers, then the entries. ARGV: mode, the change notice ('' for none), the channel, nP, the refusal notice, nP
// pending positions, then json, v, pxat (0 = no expiry), id set ('g', 'c' or '') and id per entry. In 'live' mode nothing is written while a replay holds the lock or the projection is
// incomplete: the batch fails, is not committed to Kafka, and is folded again once the projection is whole (an event
// folded onto a document a replay had not restored yet would be lost). Meanwhile the keys it touches are marked
// pending and every instance is told to drop them, so a revocation or rotation is never answered from a stale copy.
const COMMIT = `
local nP = tonumber(ARGV[4])
if ARGV[1] == 'live' then
  local why = nil
  if redis.call('EXISTS', KEYS[1]) == 1 then why = 'KGREBUILDING the projection is being replayed'
  elseif redis.call('EXISTS', KEYS[2]) == 0 then why = 'KGINCOMPLETE the projection is incomplete' end
  if why then
    for i = 1, nP do
      local cur = tonumber(redis.call('GET', KEYS[4 + i]) or '0')
      local v = tonumber(ARGV[5 + i])
      if v > cur then redis.call('SET', KEYS[4 + i], v, 'PX', ${PENDING_TTL_MS}) end
    end
    if ARGV[5] ~= '' then redis.call('SPUBLISH', ARGV[3], ARGV[5]) end
    return redis.error_reply(why)
  end
end
local written = 0
local sets = { g = KEYS[3], c = KEYS[4] }
for i = 5 + nP, #KEYS do
  local a = 6 + nP + (i - 5 - nP) * 5
  local v = tonumber(ARGV[a + 1])
  if ARGV[a + 3] ~= '' then redis.call('SADD', sets[ARGV[a + 3]], ARGV[a + 4]) end
  local cur = redis.call('GET', KEYS[i])
  local newer = true
  if cur then
    local ok, doc = pcall(cjson.decode, cur)
    if ok and type(doc) == 'table' and doc.v and doc.v >= v then newer = false end
  end
  if newer then
    local pxat = tonumber(ARGV[a + 2])
    if pxat > 0 then redis.call('SET', KEYS[i], ARGV[a], 'PXAT', pxat) else redis.call('SET', KEYS[i], ARGV[a]) end
    written = written + 1
  end
end
if ARGV[2] ~= '' then redis.call('SPUBLISH', ARGV[3], ARGV[2]) end
return written`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

type ScriptedPipeline = ChainableCommander & {
  kgCommit(numKeysKeysArgs: (string | number)[]): ScriptedPipeline;
};

type ScriptedRedis = Redis & {
  // One array, not spread: a replayed batch has ≈ 12 arguments per key, past what one JS call takes (RangeError).
  kgCommit(numKeysKeysArgs: (string | number)[]): Promise<number>;
  kgRelease(key: string, token: string): Promise<number>;
  kgRenew(key: string, token: string, ttlMs: number): Promise<number>;
};

export interface ChangeNotice {
  batch?: ChangeNotice[]; // several changes announced at once
  all?: boolean; // the projection was rebuilt: drop every cached entry
  keyId?: string;
  hashes?: string[];
  groupId?: string;
  credential?: string;
}

// A message from the change channel as a flat list (a batch is announced as one message); [] if unreadable.
export const parseChangeNotices = (message: string): ChangeNotice[] => {
  try {
    const notice = JSON.parse(message) as ChangeNotice;
    return notice.batch ?? [notice];
  } catch {
    return [];
  }
};

export interface ProjectionWrite {
  keys: KeyDocument[];
  groups: GroupDocument[];
  credentials: CredentialDocument[];
  hashes: { hash: string; entry: HashEntry; expiresAt: string | null }[];
  notices: ChangeNotice[];
  // Every key the batch touches, with the newest stream position it holds for it (applied or not).
  touchedKeys: Map<string, number>;
}

export type CommitMode = 'live' | 'replay';

// The error a live commit fails with while the projection is being rebuilt (the batch is retried later).
export const isRebuildingError = (e: unknown): boolean =>
  /^KG(REBUILDING|INCOMPLETE)/.test((e as Error)?.message ?? '');

const noticeMessage = (notices: ChangeNotice[]): string =>
  notices.length === 0 ? '' : JSON.stringify(notices.length === 1 ? notices[0] : { batch: notices });

export class KeyProjectionStore {
  private readonly redis: ScriptedRedis;
  private readonly replicated: boolean;
  private readonly logger = new Logger('projection');
  private unconfirmedLoggedAt = 0;

  constructor(redis: Redis) {
    this.replicated = isCluster(redis);
    redis.defineCommand('kgCommit', { lua: COMMIT });
    redis.defineCommand('kgRelease', { numberOfKeys: 1, lua: RELEASE });
    redis.defineCommand('kgRenew', { numberOfKeys: 1, lua: RENEW });
    this.redis = redis as ScriptedRedis;
  }

  // The auth lookup: hash → key document, and whether a newer change to it is waiting to be folded.
  async lookup(hash: string): Promise<{ doc: KeyDocument; stale: boolean } | null> {
    const rawEntry = await this.redis.get(redisKeys.hash(hash));
    if (!rawEntry) return null;
    const { keyId } = JSON.parse(rawEntry) as HashEntry;
    const [raw, pending] = await this.redis.mget(redisKeys.key(keyId), redisKeys.pending(keyId));
    if (!raw) return null;
    const doc = JSON.parse(raw) as KeyDocument;
    return { doc, stale: pending !== null && Number(pending) > doc.v };
  }

  loadKeys(keyIds: string[]): Promise<Map<string, KeyDocument>> {
    return this.loadDocs<KeyDocument>(keyIds.map(redisKeys.key), (d) => d.keyId);
  }

  loadGroups(groupIds: string[]): Promise<Map<string, GroupDocument>> {
    return this.loadDocs<GroupDocument>(groupIds.map(redisKeys.group), (d) => d.groupId);
  }

  loadCredentials(credentialIds: string[]): Promise<Map<string, CredentialDocument>> {
    return this.loadDocs<CredentialDocument>(credentialIds.map(redisKeys.credential), (d) => d.credentialId);
  }

  async allGroups(): Promise<GroupDocument[]> {
    const ids = await this.redis.smembers(redisKeys.groupIds);
    return [...(await this.loadGroups(ids)).values()];
  }

  async allCredentials(): Promise<CredentialDocument[]> {
    const ids = await this.redis.smembers(redisKeys.credentialIds);
    return [...(await this.loadCredentials(ids)).values()];
  }

  // Every key document (verification tools; the request path never needs them all).
  async allKeys(): Promise<KeyDocument[]> {
    const docs: KeyDocument[] = [];
    await scanKeys(this.redis, redisKeys.key('*'), async (keys) => {
      for (const raw of await this.redis.mget(...keys)) if (raw) docs.push(JSON.parse(raw) as KeyDocument);
    });
    return docs;
  }

  async hashEntries(hashes: string[]): Promise<Map<string, HashEntry>> {
    const found = new Map<string, HashEntry>();
    if (hashes.length === 0) return found;
    const raws = await this.redis.mget(...hashes.map(redisKeys.hash));
    raws.forEach((raw, i) => raw && found.set(hashes[i], JSON.parse(raw) as HashEntry));
    return found;
  }

  private async loadDocs<T>(keys: string[], idOf: (doc: T) => string): Promise<Map<string, T>> {
    const docs = new Map<string, T>();
    for (let i = 0; i < keys.length; i += MGET_CHUNK) {
      for (const raw of await this.redis.mget(...keys.slice(i, i + MGET_CHUNK))) {
        if (raw) {
          const doc = JSON.parse(raw) as T;
          docs.set(idOf(doc), doc);
        }
      }
    }
    return docs;
  }

  // One script: every entry set only if newer, then one change notice for all instances. A live commit with
  // nothing to write still runs, so it still fails while a replay is under way.
  async commit(write: ProjectionWrite, mode: CommitMode): Promise<void> {
    type Entry = [key: string, doc: { v: number }, pxat: number, set: '' | 'g' | 'c', id: string];
    const entries: Entry[] = [
      ...write.hashes.map(({ hash, entry, expiresAt }): Entry => {
        const pxat = expiresAt ? Date.parse(expiresAt) + HASH_LINGER_MS : 0;
        return [redisKeys.hash(hash), entry, pxat, '', ''];
      }),
      ...write.keys.map((d): Entry => [redisKeys.key(d.keyId), d, 0, '', '']),
      ...write.groups.map((d): Entry => [redisKeys.group(d.groupId), d, 0, 'g', d.groupId]),
      ...write.credentials.map((d): Entry => [
        redisKeys.credential(d.credentialId),
        d,
        0,
        'c',
        d.credentialId,
      ]),
    ];
    if (entries.length === 0 && mode === 'replay') return;
    const pending = mode === 'live' ? [...write.touchedKeys] : [];
    const args = [
      4 + pending.length + entries.length,
      redisKeys.replayLock,
      redisKeys.complete,
      redisKeys.groupIds,
      redisKeys.credentialIds,
      ...pending.map(([keyId]) => redisKeys.pending(keyId)),
      ...entries.map(([key]) => key),
      mode,
      noticeMessage(write.notices),
      redisKeys.changes,
      pending.length,
      noticeMessage(pending.map(([keyId]) => ({ keyId }))),
      ...pending.map(([, v]) => v),
      ...entries.flatMap(([, doc, pxat, set, id]) => [JSON.stringify(doc), doc.v, pxat, set, id]),
    ];
    if (!this.replicated) {
      await this.redis.kgCommit(args);
      return;
    }
    // On a cluster the batch is committed to Kafka once a replica holds it too (WAIT, up to REPLICA_WAIT_MS): a
    // master that dies right after a revocation is replaced by its replica, which must not bring the key back
    // (replication is asynchronous; a batch not yet committed is folded again onto the new master).
    const [[failed], [, acked]] = (await (this.redis.pipeline() as ScriptedPipeline)
      .kgCommit(args)
      .wait(1, REPLICA_WAIT_MS)
      .exec()) as [Error | null, unknown][];
    if (failed) throw failed;
    // None confirmed in time (its replica is down or far behind): waiting longer would stall every later change
    // (revocations included) behind this batch, so the fold goes on and says so, once a minute at most.
    if (acked === 0 && Date.now() - this.unconfirmedLoggedAt > 60_000) {
      this.unconfirmedLoggedAt = Date.now();
      this.logger.warn(`no Redis replica confirmed a projection write within ${REPLICA_WAIT_MS} ms`);
    }
  }

  async isComplete(): Promise<boolean> {
    return (await this.redis.exists(redisKeys.complete)) === 1;
  }

  // Whether a miss means "no such key": the projection is complete and nobody is replaying it.
  async isServing(): Promise<boolean> {
    const [complete, replaying] = await this.redis.mget(redisKeys.complete, redisKeys.replayLock);
    return complete !== null && replaying === null;
  }

  async markComplete(): Promise<void> {
    await this.redis.set(redisKeys.complete, new Date().toISOString());
  }

  // One replayer at a time (the healer of any instance, or `rebuild-projection`). Returns the lock's token, or
  // null when someone else holds it. The lock expires if its holder dies; a live holder renews it.
  async lockReplay(ttlMs: number): Promise<string | null> {
    const token = randomBytes(12).toString('hex');
    return (await this.redis.set(redisKeys.replayLock, token, 'PX', ttlMs, 'NX')) === 'OK' ? token : null;
  }

  async renewReplay(token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.kgRenew(redisKeys.replayLock, token, ttlMs)) === 1;
  }

  async unlockReplay(token: string): Promise<void> {
    await this.redis.kgRelease(redisKeys.replayLock, token);
  }

  // Deletes every projection document (keys, hashes, groups, credentials) and the complete marker; returns how
  // many. Only under the replay lock: the live fold writes nothing meanwhile.
  async wipe(): Promise<number> {
    let deleted = await this.redis.unlink(redisKeys.complete, redisKeys.groupIds, redisKeys.credentialIds);
    for (const kind of ['k', 'h', 'g', 'c', 'pending'])
      await scanKeys(this.redis, `${LAYOUT}:${kind}:*`, async (keys) => {
        deleted += await this.redis.unlink(...keys);
      });
    return deleted;
  }

  async publishChange(notice: ChangeNotice): Promise<void> {
    await this.redis.spublish(redisKeys.changes, JSON.stringify(notice));
  }
}
