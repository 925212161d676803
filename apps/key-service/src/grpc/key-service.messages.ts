import type { Budget, RateLimit } from '@keygate/contracts';
import type { AdminTokenResource } from '../admin-auth/admin-tokens.service';
import type { KeyResource } from '../api-keys/api-keys.service';
import type { AuditEntry } from '../audit/audit.service';
import type { GroupResource } from '../groups/groups.service';
import type { ProbeResult } from '../providers/provider-probe';
import type { ProviderResource } from '../providers/providers.service';
import { DomainError } from '../domain-errors';
import { defined } from './grpc-validation';

// keygate.keys.v1 messages as @grpc/proto-loader hands them over with PROTO_LOADER_OPTIONS (snake_case, absent
// fields undefined, lists and maps always present), and the translations to and from the REST shapes.

export interface RateLimitMessage {
  tier?: string;
  requests_per_minute?: number;
  tokens_per_minute?: number;
  max_concurrent_requests?: number;
  routes?: Record<string, RouteLimitMessage>;
}
export interface RouteLimitMessage {
  requests_per_minute?: number;
  tokens_per_minute?: number;
}
export interface BudgetMessage {
  amount_usd?: string;
  period?: string;
}
export interface StringListMessage {
  values: string[];
}

export interface CreateKeyRequest {
  name?: string;
  description?: string;
  owner_id?: string;
  environment?: string;
  group_ids: string[];
  expires_at?: string;
  ip_allow: string[];
  ip_deny: string[];
  rate_limit?: RateLimitMessage;
  budget?: BudgetMessage;
  metadata: Record<string, string>;
  rotation_period_days?: number;
  dormant_after_days?: number;
}

export interface UpdateKeyRequest {
  key_id?: string;
  expected_version?: number;
  name?: string;
  description?: string;
  metadata?: { entries: Record<string, string> };
  rotation_period_days?: number;
  expires_at?: string;
  ip_allow?: StringListMessage;
  ip_deny?: StringListMessage;
  rate_limit?: RateLimitMessage;
  budget?: BudgetMessage;
  clear_expires_at?: boolean;
  clear_rate_limit?: boolean;
  clear_budget?: boolean;
  clear_rotation_period_days?: boolean;
  dormant_after_days?: number;
  clear_dormant_after_days?: boolean;
}

export interface ListKeysRequest {
  search?: string;
  group_id?: string;
  state?: string;
  owner_id?: string;
  environment?: string;
  expiring_before?: string;
  limit?: number;
  cursor?: string;
}

const nonEmpty = <T>(list: T[] | undefined): T[] | undefined => (list && list.length ? list : undefined);
const nonEmptyMap = <T>(m: Record<string, T> | undefined) => (m && Object.keys(m).length ? m : undefined);
const mapValues = <T, U>(m: Record<string, T> | undefined, f: (t: T) => U): Record<string, U> | undefined =>
  m && Object.fromEntries(Object.entries(m).map(([k, v]) => [k, f(v)]));

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

export const rateLimitInput = (r: RateLimitMessage | undefined) =>
  r &&
  defined({
    tier: r.tier,
    requestsPerMinute: r.requests_per_minute,
    tokensPerMinute: r.tokens_per_minute,
    maxConcurrentRequests: r.max_concurrent_requests,
    // A map is always present in a message: empty is "no per-route limit", as absent is over REST.
    routes: nonEmptyMap(
      mapValues(r.routes, (l) =>
        defined({ requestsPerMinute: l.requests_per_minute, tokensPerMinute: l.tokens_per_minute }),
      ),
    ),
  });

export const budgetInput = (b: BudgetMessage | undefined) =>
  b && defined({ amountUsd: b.amount_usd, period: b.period });

export const createKeyInput = (r: CreateKeyRequest) =>
  defined({
    name: r.name,
    description: r.description,
    ownerId: r.owner_id,
    environment: r.environment,
    groupIds: nonEmpty(r.group_ids),
    expiresAt: r.expires_at,
    ipAllow: nonEmpty(r.ip_allow),
    ipDeny: nonEmpty(r.ip_deny),
    rateLimit: rateLimitInput(r.rate_limit),
    budget: budgetInput(r.budget),
    metadata: nonEmptyMap(r.metadata),
    rotationPeriodDays: r.rotation_period_days,
    dormantAfterDays: r.dormant_after_days,
  });

// A field and its clear_* flag: set, cleared (null) or untouched (undefined). Both at once is ambiguous.
export const settable = <T>(
  value: T | undefined,
  clear: boolean | undefined,
  field: string,
): T | null | undefined => {
  if (clear && value !== undefined)
    throw new DomainError('VALIDATION_FAILED', `${field} and clear_${field} are mutually exclusive`, {
      field,
    });
  return clear ? null : value;
};

export const budgetMessage = (b: Budget | null) =>
  b ? { amount_usd: b.amountUsd, period: b.period } : undefined;

export const updateKeyInput = (r: UpdateKeyRequest) =>
  defined({
    name: r.name,
    description: r.description,
    metadata: r.metadata?.entries,
    rotationPeriodDays: settable(
      r.rotation_period_days,
      r.clear_rotation_period_days,
      'rotation_period_days',
    ),
    dormantAfterDays: settable(r.dormant_after_days, r.clear_dormant_after_days, 'dormant_after_days'),
    expiresAt: settable(r.expires_at, r.clear_expires_at, 'expires_at'),
    ipAllow: r.ip_allow?.values,
    ipDeny: r.ip_deny?.values,
    rateLimit: settable(rateLimitInput(r.rate_limit), r.clear_rate_limit, 'rate_limit'),
    budget: settable(budgetInput(r.budget), r.clear_budget, 'budget'),
  });

export const listKeysInput = (r: ListKeysRequest) =>
  defined({
    search: r.search,
    groupId: r.group_id,
    state: r.state,
    ownerId: r.owner_id,
    environment: r.environment,
    expiringBefore: r.expiring_before,
    limit: r.limit,
    cursor: r.cursor,
  });

export const pageInput = (r: PageRequest) => defined({ limit: r.limit, cursor: r.cursor });

const orUndefined = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

export const keyMessage = (k: KeyResource) => {
  const rateLimit = k.rateLimit as RateLimit | null;
  const budget = k.budget as Budget | null;
  return {
    id: k.id,
    name: k.name,
    description: k.description,
    owner_id: k.ownerId ?? '',
    environment: k.environment,
    state: k.state,
    masked_key: k.maskedKey,
    group_ids: k.groupIds,
    accessible_routes: k.accessibleRoutes,
    expires_at: orUndefined(k.expiresAt),
    ip_allow: k.ipAllow,
    ip_deny: k.ipDeny,
    rate_limit: rateLimit
      ? defined({
          tier: rateLimit.tier,
          requests_per_minute: rateLimit.requestsPerMinute,
          tokens_per_minute: rateLimit.tokensPerMinute,
          max_concurrent_requests: rateLimit.maxConcurrentRequests,
          routes: mapValues(rateLimit.routes, (l) =>
            defined({ requests_per_minute: l.requestsPerMinute, tokens_per_minute: l.tokensPerMinute }),
          ),
        })
      : undefined,
    budget: budgetMessage(budget),
    metadata: k.metadata,
    rotation_period_days: orUndefined(k.rotationPeriodDays),
    dormant_after_days: orUndefined(k.dormantAfterDays),
    created_at: k.createdAt,
    updated_at: k.updatedAt,
    rotated_at: orUndefined(k.rotatedAt),
    last_used_at: orUndefined(k.lastUsedAt),
    version: k.version,
  };
};

export const groupMessage = (g: GroupResource) => ({
  id: g.id,
  name: g.name,
  description: g.description,
  routes: g.routes,
  budget: budgetMessage(g.budget),
  created_at: g.createdAt,
  updated_at: g.updatedAt,
  version: g.version,
});

export const providerMessage = (p: ProviderResource) => ({
  id: p.id,
  name: p.name,
  type: p.type,
  masked_secret: p.maskedSecret,
  settings: p.settings,
  created_at: p.createdAt,
  updated_at: p.updatedAt,
  version: p.version,
});

export const probeMessage = (r: ProbeResult) => ({
  ok: r.ok,
  status: r.status,
  latency_ms: r.latencyMs,
  error: r.error,
  reason: r.reason,
});

export const adminTokenMessage = (t: AdminTokenResource) => ({
  id: t.id,
  name: t.name,
  role: t.role,
  masked_token: t.maskedToken,
  created_at: t.createdAt,
  revoked_at: orUndefined(t.revokedAt),
});

export const auditMessage = (e: AuditEntry) => ({
  id: e.id,
  global_position: String(e.position),
  type: e.type,
  aggregate_id: e.aggregateId,
  stream_position: e.streamPosition,
  actor: e.actor,
  request_id: e.requestId,
  time: e.time,
  data_json: JSON.stringify(e.data),
});

export const page = <T, M>(p: { data: T[]; nextCursor: string | null }, toMessage: (t: T) => M) => ({
  data: p.data.map(toMessage),
  next_cursor: orUndefined(p.nextCursor),
});
