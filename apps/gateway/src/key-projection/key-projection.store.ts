import type { Redis } from 'ioredis';
import type { CredentialDocument, GroupDocument, HashEntry, KeyDocument } from './key-document';

// Redis layout of the projection. Documents carry `v`; a write older than what is stored is ignored,
// so redelivery, replay from offset 0 and racing instances converge on the same state.
export const redisKeys = {
  key: (keyId: string) => `kg:k:${keyId}`,
  hash: (hash: string) => `kg:h:${hash}`,
  group: (groupId: string) => `kg:g:${groupId}`,
  credential: (credentialId: string) => `kg:c:${credentialId}`,
  changes: 'kg:changed',
  // Present while Redis holds a complete projection; gone after Redis lost its data (restart without
  // persistence, FLUSHALL), which the gateway answers with a replay from the topic.
  complete: 'kg:projection:complete',
  replayLock: 'kg:projection:replaying',
} as const;

const SET_IF_NEWER = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, doc = pcall(cjson.decode, cur)
  if ok and doc.v and doc.v >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1`;

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

export class KeyProjectionStore {
  constructor(private readonly redis: Redis) {
    redis.defineCommand('kgSetIfNewer', { numberOfKeys: 1, lua: SET_IF_NEWER });
  }

  private setIfNewer(key: string, doc: { v: number }): Promise<number> {
    return (
      this.redis as Redis & { kgSetIfNewer(k: string, d: string, v: number): Promise<number> }
    ).kgSetIfNewer(key, JSON.stringify(doc), doc.v);
  }

  async getKey(keyId: string): Promise<KeyDocument | null> {
    const raw = await this.redis.get(redisKeys.key(keyId));
    return raw ? (JSON.parse(raw) as KeyDocument) : null;
  }

  async putKey(doc: KeyDocument): Promise<boolean> {
    return (await this.setIfNewer(redisKeys.key(doc.keyId), doc)) === 1;
  }

  async putHash(hash: string, entry: HashEntry): Promise<void> {
    if (entry.validUntil) {
      // A rotated-out secret disappears from Redis a day after its grace period; until then it answers precisely.
      await this.redis.set(
        redisKeys.hash(hash),
        JSON.stringify(entry),
        'PXAT',
        Date.parse(entry.validUntil) + 86_400_000,
      );
    } else {
      await this.redis.set(redisKeys.hash(hash), JSON.stringify(entry));
    }
  }

  // The auth lookup: hash → key document, in one round trip when the hash is known.
  async lookup(hash: string): Promise<{ entry: HashEntry; doc: KeyDocument } | null> {
    const rawEntry = await this.redis.get(redisKeys.hash(hash));
    if (!rawEntry) return null;
    const entry = JSON.parse(rawEntry) as HashEntry;
    const doc = await this.getKey(entry.keyId);
    return doc ? { entry, doc } : null;
  }

  async loadKeys(keyIds: string[]): Promise<Map<string, KeyDocument>> {
    return this.loadDocs<KeyDocument>(keyIds.map(redisKeys.key), (d) => d.keyId);
  }

  async loadCredentials(credentialIds: string[]): Promise<Map<string, CredentialDocument>> {
    return this.loadDocs<CredentialDocument>(credentialIds.map(redisKeys.credential), (d) => d.credentialId);
  }

  async allCredentials(): Promise<CredentialDocument[]> {
    const docs: CredentialDocument[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', redisKeys.credential('*'), 'COUNT', 500);
      cursor = next;
      if (keys.length)
        for (const raw of await this.redis.mget(...keys))
          if (raw) docs.push(JSON.parse(raw) as CredentialDocument);
    } while (cursor !== '0');
    return docs;
  }

  async loadGroups(groupIds: string[]): Promise<Map<string, GroupDocument>> {
    return this.loadDocs<GroupDocument>(groupIds.map(redisKeys.group), (d) => d.groupId);
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

  // One pipeline: hash entries first (a hash never points at a document that is not there yet... or is
  // older), then the documents (set only if newer), then one change notice for all instances.
  async commit(
    keys: KeyDocument[],
    groups: GroupDocument[],
    credentials: CredentialDocument[],
    hashes: [string, HashEntry][],
    notices: ChangeNotice[],
  ): Promise<void> {
    if (keys.length + groups.length + credentials.length + hashes.length === 0) return;
    const p = this.redis.pipeline() as ReturnType<Redis['pipeline']> & {
      kgSetIfNewer(k: string, d: string, v: number): unknown;
    };
    for (const [hash, entry] of hashes) {
      if (entry.validUntil)
        p.set(redisKeys.hash(hash), JSON.stringify(entry), 'PXAT', Date.parse(entry.validUntil) + 86_400_000);
      else p.set(redisKeys.hash(hash), JSON.stringify(entry));
    }
    for (const doc of keys) p.kgSetIfNewer(redisKeys.key(doc.keyId), JSON.stringify(doc), doc.v);
    for (const doc of groups) p.kgSetIfNewer(redisKeys.group(doc.groupId), JSON.stringify(doc), doc.v);
    for (const doc of credentials)
      p.kgSetIfNewer(redisKeys.credential(doc.credentialId), JSON.stringify(doc), doc.v);
    if (notices.length)
      p.publish(redisKeys.changes, JSON.stringify(notices.length === 1 ? notices[0] : { batch: notices }));
    const results = (await p.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async getGroup(groupId: string): Promise<GroupDocument | null> {
    const raw = await this.redis.get(redisKeys.group(groupId));
    return raw ? (JSON.parse(raw) as GroupDocument) : null;
  }

  async putGroup(doc: GroupDocument): Promise<boolean> {
    return (await this.setIfNewer(redisKeys.group(doc.groupId), doc)) === 1;
  }

  async allGroups(): Promise<GroupDocument[]> {
    const docs: GroupDocument[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', redisKeys.group('*'), 'COUNT', 500);
      cursor = next;
      if (keys.length) {
        for (const raw of await this.redis.mget(...keys))
          if (raw) docs.push(JSON.parse(raw) as GroupDocument);
      }
    } while (cursor !== '0');
    return docs;
  }

  async isComplete(): Promise<boolean> {
    return (await this.redis.exists(redisKeys.complete)) === 1;
  }

  async markComplete(): Promise<void> {
    await this.redis.set(redisKeys.complete, new Date().toISOString());
  }

  // One instance replays at a time; the lock expires if that instance dies mid-way.
  async lockReplay(ttlMs: number): Promise<boolean> {
    return (await this.redis.set(redisKeys.replayLock, String(process.pid), 'PX', ttlMs, 'NX')) === 'OK';
  }

  async unlockReplay(): Promise<void> {
    await this.redis.del(redisKeys.replayLock);
  }

  // Deletes every projection document (keys, hashes, groups, credentials); returns how many.
  async wipe(): Promise<number> {
    let deleted = 0;
    await this.redis.del(redisKeys.complete);
    for (const pattern of ['kg:k:*', 'kg:h:*', 'kg:g:*', 'kg:c:*']) {
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
