import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import {
  generateApiKey,
  hashApiKey,
  lastFour,
  maskApiKey,
  newId,
  type KeyCreatedData,
  type KeyEnvironment,
} from '@keygate/contracts';
import { type Caller, ROUTES_CONFIG, type RoutesConfig } from '@keygate/platform';
import { DomainError } from '../domain-errors';
import { CommandHandler } from '../event-store/command-handler';
import type { EventMetadata } from '../event-store/event-store';
import { ProjectionFence } from '../outbox/projection-fence';
import { apiKeyDecider, referencedGroupIds, type ApiKeyCommand, type ApiKeyContext } from './api-key.decider';
import type { CreateKeyDto, ListKeysQuery, UpdateKeyDto } from './api-key.dto';

export interface KeyResource {
  id: string;
  name: string;
  description: string;
  ownerId: string | null;
  environment: KeyEnvironment;
  state: 'active' | 'suspended' | 'revoked' | 'expired';
  maskedKey: string;
  groupIds: string[];
  accessibleRoutes: string[];
  // Each accessible route with the groups of this key that grant it.
  routeGrants: RouteGrant[];
  expiresAt: string | null;
  ipAllow: string[];
  ipDeny: string[];
  rateLimit: unknown;
  budget: unknown;
  metadata: Record<string, string>;
  rotationPeriodDays: number | null;
  dormantAfterDays: number | null;
  createdAt: string;
  updatedAt: string;
  rotatedAt: string | null;
  lastUsedAt: string | null;
  version: number;
}

interface KeyRow {
  id: string;
  name: string;
  description: string;
  owner_id: string;
  environment: KeyEnvironment;
  status: 'active' | 'suspended' | 'revoked';
  last4: string;
  group_ids: string[];
  expires_at: Date | null;
  ip_allow: string[];
  ip_deny: string[];
  rate_limit: unknown;
  budget: unknown;
  metadata: Record<string, string>;
  rotation_period_days: number | null;
  dormant_after_days: number | null;
  created_at: Date;
  updated_at: Date;
  rotated_at: Date | null;
  version: number;
  routes: string[] | null;
  grants: { route: string; groupId: string; groupName: string }[] | null;
  last_used_at: Date | null;
}

export interface RouteGrant {
  route: string;
  groups: { id: string; name: string }[];
}

interface LiveGroup {
  name: string;
  routes: string[];
}

const meta = (c: Caller): EventMetadata => ({ actor: c.actor.id, requestId: c.requestId });

// One application layer under REST and gRPC: the transports only translate.
@Injectable()
export class ApiKeysService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly commands: CommandHandler,
    @Inject(ROUTES_CONFIG) private readonly routes: RoutesConfig,
    private readonly fence: ProjectionFence,
  ) {}

  // Runs the commands; also answers the routes of the live groups they name (read in the same query).
  private async run(
    keyId: string,
    command: ApiKeyCommand | ApiKeyCommand[],
    caller: Caller,
    expectedVersion?: number,
    newStream = false,
  ) {
    const list = Array.isArray(command) ? command : [command];
    const live = new Map<string, LiveGroup>();
    const result = await this.commands.execute(
      apiKeyDecider,
      keyId,
      list,
      async (m): Promise<ApiKeyContext> => {
        const ids = [...new Set(list.flatMap(referencedGroupIds))];
        if (ids.length) {
          const rows: { id: string; name: string; routes: string[] }[] = await m.query(
            `SELECT id, name, routes FROM groups WHERE id = ANY($1) AND deleted_at IS NULL`,
            [ids],
          );
          for (const r of rows) live.set(r.id, { name: r.name, routes: r.routes });
        }
        return {
          now: new Date(),
          groupExists: (id) => live.has(id),
          tierExists: (t) => Object.hasOwn(this.routes.tiers, t),
          routeExists: (r) => Object.hasOwn(this.routes.routes, r),
        };
      },
      meta(caller),
      expectedVersion,
      newStream,
    );
    return { ...result, groupRoutes: live };
  }

  async create(dto: CreateKeyDto, caller: Caller): Promise<KeyResource & { key: string }> {
    const environment = dto.environment ?? 'live';
    const key = generateApiKey(environment);
    const keyId = newId('key');
    const { events, groupRoutes } = await this.run(
      keyId,
      {
        type: 'CreateKey',
        data: {
          keyId,
          hash: hashApiKey(key),
          last4: lastFour(key),
          environment,
          name: dto.name,
          ownerId: dto.ownerId,
          description: dto.description,
          groupIds: dto.groupIds,
          expiresAt: dto.expiresAt,
          ipAllow: dto.ipAllow,
          ipDeny: dto.ipDeny,
          rateLimit: dto.rateLimit ? { ...dto.rateLimit } : dto.rateLimit,
          budget: dto.budget ? { ...dto.budget } : dto.budget,
          metadata: dto.metadata,
          rotationPeriodDays: dto.rotationPeriodDays,
          dormantAfterDays: dto.dormantAfterDays,
        },
      },
      caller,
      undefined,
      true,
    );
    // The answer is what was just committed, so it is rendered from the event rather than read back.
    const created = events[0];
    const d = created.data as KeyCreatedData;
    const grants = d.groupIds.flatMap((g) => {
      const group = groupRoutes.get(g);
      return (group?.routes ?? []).map((route) => ({ route, groupId: g, groupName: group?.name ?? g }));
    });
    const routes = [...new Set(grants.map((g) => g.route))].sort();
    const row: KeyRow = {
      id: d.keyId,
      name: d.name,
      description: d.description,
      owner_id: d.ownerId,
      environment: d.environment,
      status: 'active',
      last4: d.last4,
      group_ids: d.groupIds,
      expires_at: d.expiresAt ? new Date(d.expiresAt) : null,
      ip_allow: d.ipAllow,
      ip_deny: d.ipDeny,
      rate_limit: d.rateLimit,
      budget: d.budget,
      metadata: d.metadata,
      rotation_period_days: d.rotationPeriodDays,
      dormant_after_days: d.dormantAfterDays ?? null,
      created_at: created.createdAt,
      updated_at: created.createdAt,
      rotated_at: null,
      version: created.streamPosition,
      routes,
      grants,
      last_used_at: null,
    };
    return { ...toResource(row), key };
  }

  async update(
    keyId: string,
    dto: UpdateKeyDto,
    caller: Caller,
    expectedVersion?: number,
  ): Promise<KeyResource> {
    const has = (k: keyof UpdateKeyDto) =>
      Object.prototype.hasOwnProperty.call(dto, k) && dto[k] !== undefined;
    const details = (
      ['name', 'description', 'metadata', 'rotationPeriodDays', 'dormantAfterDays'] as const
    ).filter(has);
    const restrictions = (['expiresAt', 'ipAllow', 'ipDeny', 'rateLimit', 'budget'] as const).filter(has);
    if (details.length + restrictions.length === 0)
      throw new DomainError('VALIDATION_FAILED', 'nothing to change: send at least one field');
    const commands: ApiKeyCommand[] = [];
    if (details.length)
      commands.push({
        type: 'UpdateKey',
        data: { keyId, ...Object.fromEntries(details.map((k) => [k, dto[k]])) },
      });
    if (restrictions.length)
      commands.push({
        type: 'ChangeKeyRestrictions',
        data: {
          keyId,
          ...JSON.parse(JSON.stringify(Object.fromEntries(restrictions.map((k) => [k, dto[k] ?? null])))),
        },
      });
    await this.run(keyId, commands, caller, expectedVersion);
    return this.get(keyId);
  }

  async rotate(
    keyId: string,
    gracePeriodSeconds: number,
    caller: Caller,
  ): Promise<KeyResource & { key: string }> {
    const current = await this.get(keyId);
    const key = generateApiKey(current.environment);
    await this.run(
      keyId,
      { type: 'RotateKey', data: { keyId, hash: hashApiKey(key), last4: lastFour(key), gracePeriodSeconds } },
      caller,
    );
    // The old secret's end (at once, or after its grace) is in force at every gateway when this answers.
    await this.fence.waitApplied(keyId);
    return { ...(await this.get(keyId)), key };
  }

  // source: where a leak report found the key (reason `leaked`), kept in the event.
  async revoke(keyId: string, reason: string, caller: Caller, source?: string): Promise<KeyResource> {
    await this.run(keyId, { type: 'RevokeKey', data: { keyId, reason, source } }, caller);
    await this.fence.waitApplied(keyId);
    return this.get(keyId);
  }

  async suspend(keyId: string, reason: string, caller: Caller): Promise<KeyResource> {
    await this.run(keyId, { type: 'SuspendKey', data: { keyId, reason } }, caller);
    await this.fence.waitApplied(keyId);
    return this.get(keyId);
  }

  async reactivate(keyId: string, caller: Caller): Promise<KeyResource> {
    await this.run(keyId, { type: 'ReactivateKey', data: { keyId } }, caller);
    return this.get(keyId);
  }

  async remove(keyId: string, caller: Caller): Promise<void> {
    await this.run(keyId, { type: 'DeleteKey', data: { keyId } }, caller);
    await this.fence.waitApplied(keyId);
  }

  async addGroup(keyId: string, groupId: string, caller: Caller): Promise<KeyResource> {
    await this.run(keyId, { type: 'AddKeyToGroup', data: { keyId, groupId } }, caller);
    return this.get(keyId);
  }

  async removeGroup(keyId: string, groupId: string, caller: Caller): Promise<KeyResource> {
    await this.run(keyId, { type: 'RemoveKeyFromGroup', data: { keyId, groupId } }, caller);
    return this.get(keyId);
  }

  async get(keyId: string, m: EntityManager = this.db.manager): Promise<KeyResource> {
    const rows: KeyRow[] = await m.query(`${SELECT_KEYS} WHERE k.id = $1 AND k.deleted_at IS NULL`, [keyId]);
    if (rows.length === 0) throw new DomainError('KEY_NOT_FOUND', `key ${keyId} not found`, { keyId });
    return toResource(rows[0]);
  }

  async list(q: ListKeysQuery): Promise<{ data: KeyResource[]; nextCursor: string | null }> {
    const where = ['k.deleted_at IS NULL'];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replaceAll('?', `$${params.length}`));
    };
    if (q.search)
      add(
        `(k.name ILIKE ? OR k.description ILIKE ? OR k.id = $${params.length + 2})`,
        `%${q.search.replace(/[%_\\]/g, '\\$&')}%`,
      );
    if (q.search) params.push(q.search);
    if (q.groupId) add('? = ANY(k.group_ids)', q.groupId);
    if (q.ownerId) add('k.owner_id = ?', q.ownerId);
    if (q.environment) add('k.environment = ?', q.environment);
    if (q.expiringBefore) add('k.expires_at < ?', q.expiringBefore);
    // Not presented since that instant; a key younger than it is not "unused since" it.
    if (q.unusedSince) add('COALESCE(lu.last_used_at, k.created_at) < ?', q.unusedSince);
    if (q.state === 'expired') where.push(`k.status <> 'revoked' AND k.expires_at <= now()`);
    else if (q.state === 'active')
      where.push(`k.status = 'active' AND (k.expires_at IS NULL OR k.expires_at > now())`);
    else if (q.state) add('k.status = ?', q.state);
    if (q.cursor) add('k.id > ?', Buffer.from(q.cursor, 'base64url').toString('utf8'));
    const limit = q.limit ?? 50;
    params.push(limit + 1);
    const rows: KeyRow[] = await this.db.query(
      `${SELECT_KEYS} WHERE ${where.join(' AND ')} ORDER BY k.id LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, limit).map(toResource);
    const nextCursor =
      rows.length > limit ? Buffer.from(page[page.length - 1].id).toString('base64url') : null;
    return { data: page, nextCursor };
  }
}

const SELECT_KEYS = `
  SELECT k.*, lu.last_used_at,
    (SELECT array_agg(DISTINCT r ORDER BY r) FROM groups g, unnest(g.routes) r
     WHERE g.id = ANY(k.group_ids) AND g.deleted_at IS NULL) AS routes,
    (SELECT jsonb_agg(jsonb_build_object('route', r, 'groupId', g.id, 'groupName', g.name) ORDER BY r, g.name)
     FROM groups g, unnest(g.routes) r WHERE g.id = ANY(k.group_ids) AND g.deleted_at IS NULL) AS grants
  FROM api_keys k LEFT JOIN key_last_used lu ON lu.key_id = k.id`;

const routeGrants = (grants: KeyRow['grants']): RouteGrant[] => {
  const byRoute = new Map<string, RouteGrant>();
  for (const g of grants ?? []) {
    const grant = byRoute.get(g.route) ?? { route: g.route, groups: [] };
    if (!grant.groups.some((x) => x.id === g.groupId))
      grant.groups.push({ id: g.groupId, name: g.groupName });
    byRoute.set(g.route, grant);
  }
  return [...byRoute.values()].sort((a, b) => a.route.localeCompare(b.route));
};

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

const toResource = (r: KeyRow): KeyResource => ({
  id: r.id,
  name: r.name,
  description: r.description,
  ownerId: r.owner_id === '' ? null : r.owner_id,
  environment: r.environment,
  state: r.status !== 'revoked' && r.expires_at && r.expires_at <= new Date() ? 'expired' : r.status,
  maskedKey: maskApiKey(r.environment, r.last4),
  groupIds: r.group_ids,
  accessibleRoutes: r.routes ?? [],
  routeGrants: routeGrants(r.grants),
  expiresAt: iso(r.expires_at),
  ipAllow: r.ip_allow,
  ipDeny: r.ip_deny,
  rateLimit: r.rate_limit,
  budget: r.budget,
  metadata: r.metadata,
  rotationPeriodDays: r.rotation_period_days,
  dormantAfterDays: r.dormant_after_days,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  rotatedAt: iso(r.rotated_at),
  // Folded from usage.requests (last-used/), seconds behind the gateway.
  lastUsedAt: iso(r.last_used_at),
  version: r.version,
});
