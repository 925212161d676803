import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { namespaced } from '@keygate/contracts';
import type { CredentialDocument, GroupDocument, HashEntry, KeyDocument } from './key-document';

// Redis layout of the projection. Documents and hash entries carry `v` (the stream position that wrote them); a
// write older than what is stored is ignored, so redelivery, replay from offset 0 and racing writers converge.
// The layout is versioned: a gateway whose document format changed builds its own projection beside the old one
// (its "complete" marker is missing, so it replays the topic), and both versions can serve during a rolling upgrade.
const LAYOUT = 'kg:p2';
export const redisKeys = {
  key: (keyId: string) => `${LAYOUT}:k:${keyId}`,
  hash: (hash: string) => `${LAYOUT}:h:${hash}`,
  group: (groupId: string) => `${LAYOUT}:g:${groupId}`,
  credential: (credentialId: string) => `${LAYOUT}:c:${credentialId}`,
  pending: (keyId: string) => `${LAYOUT}:pending:${keyId}`,
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

// One atomic write of a folded batch. KEYS: lock, complete marker, nP pending markers, then the entries. ARGV: mode,
// the change notice ('' for none), the channel, nP, the refusal notice, nP pending positions, then json, v, pxat
// (0 = no expiry) per entry. In 'live' mode nothing is written while a replay holds the lock or the projection is
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
      local cur = tonumber(redis.call('GET', KEYS[2 + i]) or '0')
      local v = tonumber(ARGV[5 + i])
      if v > cur then redis.call('SET', KEYS[2 + i], v, 'PX', ${PENDING_TTL_MS}) end
    end
    if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[5]) end
    return redis.error_reply(why)
  end
end
local written = 0
for i = 3 + nP, #KEYS do
  local a = 6 + nP + (i - 3 - nP) * 3
  local v = tonumber(ARGV[a + 1])
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
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[2]) end
return written`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

type ScriptedRedis = Redis & {
  kgCommit(numKeys: number, ...args: (string | number)[]): Promise<number>;
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

  constructor(redis: Redis) {
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

  allGroups(): Promise<GroupDocument[]> {
    return this.scanDocs<GroupDocument>(redisKeys.group('*'));
  }

  allCredentials(): Promise<CredentialDocument[]> {
    return this.scanDocs<CredentialDocument>(redisKeys.credential('*'));
  }

  allKeys(): Promise<KeyDocument[]> {
    return this.scanDocs<KeyDocument>(redisKeys.key('*'));
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
    if (keys.length === 0) return docs;
    for (const raw of await this.redis.mget(...keys)) {
      if (raw) {
        const doc = JSON.parse(raw) as T;
        docs.set(idOf(doc), doc);
      }
    }
    return docs;
  }

  private async scanDocs<T>(pattern: string): Promise<T[]> {
    const docs: T[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length)
        for (const raw of await this.redis.mget(...keys)) if (raw) docs.push(JSON.parse(raw) as T);
    } while (cursor !== '0');
    return docs;
  }

  // One script: every entry set only if newer, then one change notice for all instances. A live commit with
  // nothing to write still runs, so it still fails while a replay is under way.
  async commit(write: ProjectionWrite, mode: CommitMode): Promise<void> {
    const entries: [key: string, doc: { v: number }, pxat: number][] = [
      ...write.hashes.map(
        ({ hash, entry, expiresAt }) =>
          [redisKeys.hash(hash), entry, expiresAt ? Date.parse(expiresAt) + HASH_LINGER_MS : 0] as [
            string,
            HashEntry,
            number,
          ],
      ),
      ...write.keys.map((d) => [redisKeys.key(d.keyId), d, 0] as [string, KeyDocument, number]),
      ...write.groups.map((d) => [redisKeys.group(d.groupId), d, 0] as [string, GroupDocument, number]),
      ...write.credentials.map(
        (d) => [redisKeys.credential(d.credentialId), d, 0] as [string, CredentialDocument, number],
      ),
    ];
    if (entries.length === 0 && mode === 'replay') return;
    const pending = mode === 'live' ? [...write.touchedKeys] : [];
    await this.redis.kgCommit(
      2 + pending.length + entries.length,
      redisKeys.replayLock,
      redisKeys.complete,
      ...pending.map(([keyId]) => redisKeys.pending(keyId)),
      ...entries.map(([key]) => key),
      mode,
      noticeMessage(write.notices),
      redisKeys.changes,
      pending.length,
      noticeMessage(pending.map(([keyId]) => ({ keyId }))),
      ...pending.map(([, v]) => v),
      ...entries.flatMap(([, doc, pxat]) => [JSON.stringify(doc), doc.v, pxat]),
    );
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
    let deleted = 0;
    await this.redis.del(redisKeys.complete);
    for (const pattern of ['k', 'h', 'g', 'c', 'pending'].map((kind) => `${LAYOUT}:${kind}:*`)) {
      let cursor = '0';
      do {
        const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length) deleted += await this.redis.unlink(...keys);
      } while (cursor !== '0');
    }
    return deleted;
  }

  async publishChange(notice: ChangeNotice): Promise<void> {
    await this.redis.publish(redisKeys.changes, JSON.stringify(notice));
  }
}
