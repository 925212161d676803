import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { API_KEY_LENGTH, hashApiKey, parseApiKey } from '@keygate/contracts';
import { counter, stepSpan, type Tier } from '@keygate/platform';
import type { GroupDocument } from '../key-projection/key-document';
import {
  KeyProjectionStore,
  parseChangeNotices,
  redisKeys,
  type ChangeNotice,
} from '../key-projection/key-projection.store';
import { Reconciler } from '../key-projection/reconciler';
import { answerWithin } from '../redis/answer-within';
import { onResubscribed, subscribe } from '../redis/redis-client';
import { GatewayError } from '../proxy/gateway-error';
import { budgetPlan } from '../budget/budget-guard';
import { compileKey, type CompiledKey } from './compiled-key';

export type AuthenticatedKey = CompiledKey;

interface CacheEntry {
  key: CompiledKey;
  fetchedAt: number; // when Redis last confirmed it (the stale window counts from here)
  epoch: number; // the subscription it was read under: from an earlier one it is read again before it is used
}

export interface AuthOptions {
  cacheMax: number;
  cacheTtlMs: number;
  staleServeMs: number;
  redisTimeoutMs: number;
  reconcileMs: number;
  // routes.yaml's rate-limit tiers, resolved into each key once when it is cached.
  tiers?: Record<string, Tier>;
}

const lookups = counter('keygate_auth_lookups_total', 'Key lookups by where they were answered', ['source']);
const tracer = trace.getTracer('keygate-gateway');
// A read that keeps losing to invalidations of its key is answered 503 rather than with what it read.
const MAX_READS = 3;

// Authenticates a presented key: the in-process cache (by the key's hash), else its checksum (a malformed key
// costs no lookup), then Redis. Lookups go by sha256, so no secret is ever compared byte by byte.
// Redis unreachable: known-revoked keys stay rejected, unknown keys fail closed (503), cached valid keys are
// served for at most staleServeMs after they were last confirmed.
// Invalidation always wins: a read that began before an invalidation of its key (or a cache clear) is read again,
// never cached or served, and a document older than one this instance has already seen is never used.
@Injectable()
export class KeyAuthenticator implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly cache: LRUCache<string, CacheEntry>;
  private readonly hashesByKey = new Map<string, Set<string>>();
  private readonly groupDocs = new Map<string, GroupDocument>();
  private readonly groups: Reconciler;
  // Ticks whenever a group document changes: a cached key rebuilds its routes when it is behind.
  private groupsEpoch = 0;
  // Invalidation clock: every notice ticks it; a read compares the tick it started at.
  private tick = 0;
  private clearedAt = 0;
  // Ticks when the change channel was subscribed again (notices may have been missed in between).
  private epoch = 0;
  private readonly invalidatedAt: LRUCache<string, number>;
  private readonly newestSeen: LRUCache<string, number>;

  constructor(
    private readonly store: KeyProjectionStore,
    private readonly subscriber: Redis,
    private readonly options: AuthOptions,
  ) {
    const max = Math.max(1, options.cacheMax);
    this.cache = new LRUCache<string, CacheEntry>({
      max,
      dispose: (value, hash) => this.hashesByKey.get(value.key.keyId)?.delete(hash),
    });
    this.invalidatedAt = new LRUCache({ max: max * 2 });
    this.newestSeen = new LRUCache({ max: max * 2 });
    this.groups = new Reconciler('auth', () => this.reloadGroups(), options.reconcileMs);
  }

  async onApplicationBootstrap(): Promise<void> {
    // After a reconnect we may have missed notices: every cached key is read again before it is used (groups: the
    // reconciler reloads). Not dropped: while Redis does not answer yet (a cluster's failover resubscribes before
    // the new master serves), a known-revoked key stays refused and a valid one is served within its stale window,
    // as through any Redis outage.
    onResubscribed(this.subscriber, () => {
      this.clearedAt = ++this.tick;
      this.epoch++;
    });
    await subscribe(this.subscriber, redisKeys.changes, (message) => void this.onChange(message));
    await this.groups.start(this.subscriber);
  }

  async onApplicationShutdown(): Promise<void> {
    this.groups.stop();
    this.subscriber.disconnect();
  }

  // auth.verify spans the whole decision. keygate.auth.source says where the answer came from: cache (a hit),
  // redis (a miss, looked up), stale (a miss with Redis down, a recent copy served), unavailable, malformed.
  // The key appears only as its id.
  authenticate(presented: string | null): Promise<AuthenticatedKey> {
    return stepSpan(tracer, 'auth.verify', async (span) => {
      try {
        const key = await this.verify(presented, span);
        span.setAttribute('keygate.key.id', key.keyId);
        return key;
      } catch (e) {
        if (e instanceof GatewayError) {
          span.setAttribute('keygate.auth.error', e.code);
          if (e.keyId) span.setAttribute('keygate.key.id', e.keyId);
          if (e.code === 'auth_unavailable') span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
        }
        throw e;
      } finally {
        span.end();
      }
    });
  }

  private async verify(presented: string | null, span: Span): Promise<AuthenticatedKey> {
    const malformed = (): GatewayError => {
      lookups.inc({ source: 'malformed' });
      span.setAttribute('keygate.auth.source', 'malformed');
      return new GatewayError('invalid_api_key');
    };
    if (!presented || presented.length !== API_KEY_LENGTH) throw malformed();
    const hash = hashApiKey(presented);
    const now = Date.now();
    let cached: CacheEntry | undefined | 'pending' = this.cache.get(hash);
    if (cached && cached.epoch === this.epoch && now - cached.fetchedAt < this.options.cacheTtlMs) {
      // In the cache, so well-formed: its shape and checksum were checked when it was first looked up.
      lookups.inc({ source: 'cache' });
      span.setAttribute('keygate.auth.source', 'cache');
    } else {
      // Shape and checksum before any lookup: a malformed key never reaches Redis.
      if (!parseApiKey(presented)) throw malformed();
      try {
        cached = await this.fetch(hash, now);
        lookups.inc({ source: 'redis' });
        span.setAttribute('keygate.auth.source', 'redis');
      } catch {
        lookups.inc({ source: 'unavailable' });
        const known = this.cache.get(hash);
        const stale = known && (known.key.revoked || now - known.fetchedAt < this.options.staleServeMs);
        span.setAttribute('keygate.auth.source', stale ? 'stale' : 'unavailable');
        if (known && stale) return this.check(known, hash, now);
        throw new GatewayError('auth_unavailable');
      }
    }
    if (cached === 'pending')
      throw new GatewayError('auth_unavailable', {
        message: 'This API key is being updated; retry shortly.',
      });
    if (!cached) {
      // While the projection is being replayed into an emptied Redis, "not found" may just mean "not yet".
      if (!(await this.store.isServing().catch(() => false)))
        throw new GatewayError('auth_unavailable', {
          message: 'The key store is being rebuilt; retry shortly.',
        });
      throw new GatewayError('invalid_api_key');
    }
    return this.check(cached, hash, now);
  }

  // undefined: no such key; 'pending': a newer change to it, or one of its groups, waits to be folded.
  private async fetch(hash: string, now: number): Promise<CacheEntry | undefined | 'pending'> {
    for (let read = 0; read < MAX_READS; read++) {
      const startedAt = this.tick;
      const found = await answerWithin(this.store.lookup(hash), this.options.redisTimeoutMs);
      if (!found || found.stale) {
        this.cache.delete(hash);
        return found ? 'pending' : undefined;
      }
      const { doc } = found;
      const overtaken =
        this.clearedAt > startedAt ||
        (this.invalidatedAt.get(doc.keyId) ?? 0) > startedAt ||
        doc.v < (this.newestSeen.get(doc.keyId) ?? 0);
      if (overtaken) continue;
      this.newestSeen.set(doc.keyId, doc.v);
      // A group this instance has not heard of (its notice not here yet, or missed) is read now. One not in Redis
      // yet (a key's events and its group's travel on different partitions, so the key's can be folded first) leaves
      // the key's routes unknown: "retry shortly", never a 404 for a route its group grants.
      const unheard = doc.groupIds.filter((g) => !this.groupDocs.has(g));
      if (unheard.length) {
        await this.learnGroups(unheard);
        if (doc.groupIds.some((g) => !this.groupDocs.has(g))) return 'pending';
      }
      const key = compileKey(doc, this.options.tiers ?? {}, now);
      const entry: CacheEntry = { key, fetchedAt: now, epoch: this.epoch };
      this.cache.set(hash, entry);
      let set = this.hashesByKey.get(doc.keyId);
      if (!set) this.hashesByKey.set(doc.keyId, (set = new Set()));
      set.add(hash);
      return entry;
    }
    throw new Error('the key kept changing while it was read');
  }

  private check(c: CacheEntry, hash: string, now: number): AuthenticatedKey {
    const k = c.key;
    if (k.revoked) throw new GatewayError('key_revoked', { keyId: k.keyId });
    // Only the newest secret, or the one the last rotation replaced until its instant, authenticates.
    if (hash !== k.doc.hash && !(hash === k.previousHash && now < k.previousValidUntilMs))
      throw new GatewayError('invalid_api_key', {
        message: 'This API key was rotated and its grace period has ended.',
        keyId: k.keyId,
      });
    if (k.expiresAtMs <= now) throw new GatewayError('key_expired', { keyId: k.keyId });
    if (k.doc.status === 'suspended')
      throw k.doc.suspension === 'budget_exceeded'
        ? new GatewayError('budget_exceeded', {
            message: 'This API key is suspended: it has spent its budget.',
            keyId: k.keyId,
          })
        : new GatewayError('key_suspended', { keyId: k.keyId });
    if (k.routesEpoch !== this.groupsEpoch) {
      const routes = new Set<string>();
      k.plan.groupBudgets = [];
      for (const g of k.doc.groupIds) {
        const group = this.groupDocs.get(g);
        if (!group || group.deleted) continue;
        for (const r of group.routes) routes.add(r);
        if (group.budget) k.plan.groupBudgets.push(budgetPlan('group', group.groupId, group.budget, now));
      }
      k.routes = routes;
      k.routesEpoch = this.groupsEpoch;
    }
    return k;
  }

  private clearAll(): void {
    this.clearedAt = ++this.tick;
    this.cache.clear();
  }

  private invalidateKey(keyId: string): void {
    this.invalidatedAt.set(keyId, ++this.tick);
    for (const h of [...(this.hashesByKey.get(keyId) ?? [])]) this.cache.delete(h);
  }

  private async reloadGroups(): Promise<void> {
    for (const g of await this.store.allGroups()) this.putGroup(g);
  }

  private async learnGroups(groupIds: string[]): Promise<void> {
    const found = await answerWithin(this.store.loadGroups(groupIds), this.options.redisTimeoutMs);
    for (const g of found.values()) this.putGroup(g);
  }

  // Newest wins: a reload that read a group before a notice's newer copy arrived does not undo it.
  private putGroup(g: GroupDocument): void {
    const held = this.groupDocs.get(g.groupId);
    if (!held || held.v < g.v) {
      this.groupDocs.set(g.groupId, g);
      this.groupsEpoch++;
    }
  }

  private async onChange(message: string): Promise<void> {
    for (const notice of parseChangeNotices(message)) await this.applyNotice(notice);
  }

  private async applyNotice(notice: ChangeNotice): Promise<void> {
    if (notice.all) {
      this.clearAll();
      return this.groups.request();
    }
    for (const h of notice.hashes ?? []) this.cache.delete(h);
    if (notice.keyId) this.invalidateKey(notice.keyId);
    if (notice.groupId) {
      const groupId = notice.groupId;
      const g = await this.store.loadGroups([groupId]).then(
        (found) => found.get(groupId) ?? null,
        () => undefined,
      );
      // Unreadable now: the whole set is reloaded (and retried until it succeeds).
      if (g === undefined) return this.groups.request();
      if (g) this.putGroup(g);
    }
  }
}
