import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { hashApiKey, parseApiKey } from '@keygate/contracts';
import { counter } from '@keygate/platform';
import type { HashEntry, KeyDocument } from '../key-projection/key-document';
import {
  KeyProjectionStore,
  parseChangeNotices,
  redisKeys,
  type ChangeNotice,
} from '../key-projection/key-projection.store';
import { parseCidrs, type IpRules } from './ip-rules';

export type AuthErrorCode =
  'invalid_api_key' | 'key_revoked' | 'key_expired' | 'budget_exceeded' | 'auth_unavailable';

export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    readonly keyId: string | null = null,
  ) {
    super(message);
  }
}

export interface AuthenticatedKey {
  keyId: string;
  doc: KeyDocument;
  ipRules: IpRules;
  routes: ReadonlySet<string>;
}

interface CacheEntry {
  entry: HashEntry;
  doc: KeyDocument;
  ipRules: IpRules;
  fetchedAt: number;
}

export interface AuthOptions {
  cacheMax: number;
  cacheTtlMs: number;
  staleServeMs: number;
  redisTimeoutMs: number;
  projectionReady?: () => boolean;
}

const lookups = counter('keygate_auth_lookups_total', 'Key lookups by where they were answered', ['source']);
const tracer = trace.getTracer('keygate-gateway');

// Authenticates a presented key: checksum first (a malformed key costs no lookup), then the in-process cache,
// then Redis. Lookups go by sha256, so no secret is ever compared byte by byte.
// Redis unreachable: known-revoked keys stay rejected, unknown keys fail closed (503), cached valid keys are
// served for at most staleServeMs after they were last confirmed.
@Injectable()
export class KeyAuthenticator implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('auth');
  private readonly cache: LRUCache<string, CacheEntry>;
  private readonly hashesByKey = new Map<string, Set<string>>();
  private readonly groupRoutes = new Map<string, string[]>();

  constructor(
    private readonly store: KeyProjectionStore,
    private readonly subscriber: Redis,
    private readonly options: AuthOptions,
  ) {
    this.cache = new LRUCache<string, CacheEntry>({
      max: Math.max(1, options.cacheMax),
      dispose: (value, hash) => this.hashesByKey.get(value.entry.keyId)?.delete(hash),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.subscriber.on('message', (_channel: string, message: string) => void this.onChange(message));
    // After a reconnect we may have missed notices: forget everything cached.
    this.subscriber.on('ready', () => this.cache.clear());
    await this.subscriber.subscribe(redisKeys.changes);
    for (const g of await this.store.allGroups()) this.groupRoutes.set(g.groupId, g.deleted ? [] : g.routes);
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscriber.disconnect();
  }

  // auth.verify spans the whole decision. keygate.auth.source says where the answer came from: cache (a hit),
  // redis (a miss, looked up), stale (a miss with Redis down, a recent copy served), unavailable, malformed.
  // The key appears only as its id.
  authenticate(presented: string | null): Promise<AuthenticatedKey> {
    return tracer.startActiveSpan('auth.verify', async (span) => {
      try {
        const key = await this.verify(presented, span);
        span.setAttribute('keygate.key.id', key.keyId);
        return key;
      } catch (e) {
        if (e instanceof AuthError) {
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
    if (!presented || !parseApiKey(presented)) {
      lookups.inc({ source: 'malformed' });
      span.setAttribute('keygate.auth.source', 'malformed');
      throw new AuthError('invalid_api_key', 'Incorrect API key provided.');
    }
    const hash = hashApiKey(presented);
    const now = Date.now();
    let cached = this.cache.get(hash);
    if (cached && now - cached.fetchedAt < this.options.cacheTtlMs) {
      lookups.inc({ source: 'cache' });
      span.setAttribute('keygate.auth.source', 'cache');
    } else {
      try {
        cached = await this.fetch(hash, now);
        lookups.inc({ source: 'redis' });
        span.setAttribute('keygate.auth.source', 'redis');
      } catch (e) {
        lookups.inc({ source: 'unavailable' });
        const known = cached;
        const stale =
          known &&
          (known.doc.status === 'revoked' ||
            known.doc.status === 'deleted' ||
            now - known.fetchedAt < this.options.staleServeMs);
        span.setAttribute('keygate.auth.source', stale ? 'stale' : 'unavailable');
        if (known && stale) return this.check(known, now);
        this.logger.warn(`key store unavailable: ${(e as Error).message}`);
        throw new AuthError('auth_unavailable', 'The key store is temporarily unavailable; retry shortly.');
      }
    }
    if (!cached) {
      // While the projection is being replayed into an emptied Redis, "not found" may just mean "not yet".
      if (this.options.projectionReady && !this.options.projectionReady())
        throw new AuthError('auth_unavailable', 'The key store is being rebuilt; retry shortly.');
      throw new AuthError('invalid_api_key', 'Incorrect API key provided.');
    }
    return this.check(cached, now);
  }

  private async fetch(hash: string, now: number): Promise<CacheEntry | undefined> {
    const found = await withTimeout(this.store.lookup(hash), this.options.redisTimeoutMs);
    if (!found) {
      this.cache.delete(hash);
      return undefined;
    }
    const entry: CacheEntry = {
      ...found,
      ipRules: { allow: parseCidrs(found.doc.ipAllow), deny: parseCidrs(found.doc.ipDeny) },
      fetchedAt: now,
    };
    this.cache.set(hash, entry);
    let set = this.hashesByKey.get(entry.entry.keyId);
    if (!set) this.hashesByKey.set(entry.entry.keyId, (set = new Set()));
    set.add(hash);
    return entry;
  }

  private check(c: CacheEntry, now: number): AuthenticatedKey {
    const { doc, entry } = c;
    if (doc.status === 'revoked' || doc.status === 'deleted')
      throw new AuthError('key_revoked', 'This API key has been revoked.', doc.keyId);
    if (entry.validUntil && Date.parse(entry.validUntil) <= now)
      throw new AuthError(
        'invalid_api_key',
        'This API key was rotated and its grace period has ended.',
        doc.keyId,
      );
    if (doc.expiresAt && Date.parse(doc.expiresAt) <= now)
      throw new AuthError('key_expired', 'This API key has expired.', doc.keyId);
    if (doc.status === 'suspended')
      throw new AuthError(
        'budget_exceeded',
        `This API key is suspended: ${doc.suspendedReason ?? 'budget exceeded'}.`,
        doc.keyId,
      );
    const routes = new Set<string>();
    for (const g of doc.groupIds) for (const r of this.groupRoutes.get(g) ?? []) routes.add(r);
    return { keyId: doc.keyId, doc, ipRules: c.ipRules, routes };
  }

  private async onChange(message: string): Promise<void> {
    for (const notice of parseChangeNotices(message)) await this.applyNotice(notice);
  }

  private async applyNotice(notice: ChangeNotice): Promise<void> {
    if (notice.all) {
      this.cache.clear();
      for (const g of await this.store.allGroups().catch(() => []))
        this.groupRoutes.set(g.groupId, g.deleted ? [] : g.routes);
      return;
    }
    for (const h of notice.hashes ?? []) this.cache.delete(h);
    if (notice.keyId) for (const h of [...(this.hashesByKey.get(notice.keyId) ?? [])]) this.cache.delete(h);
    if (notice.groupId) {
      const g = await this.store.getGroup(notice.groupId).catch(() => null);
      if (g) this.groupRoutes.set(g.groupId, g.deleted ? [] : g.routes);
    }
  }
}

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
