import type {
  Budget,
  KeyEnvironment,
  KeyRestrictionsChangedData,
  KeyUpdatedData,
  RateLimit,
} from '@keygate/contracts';
import { KEY_ENVIRONMENTS } from '@keygate/contracts';
import { DomainError, type DomainErrorCode } from '../domain-errors';
import type { ApiKeyEvent, ApiKeyState, ExistingApiKey } from './api-key.decider.state';
import { evolve, initialState } from './api-key.decider.state';
import {
  KEY_LIMITS,
  invalidField,
  requireBudget,
  requireDormancy,
  requireExpiry,
  requireGracePeriod,
  requireHash,
  requireIpList,
  requireKeyId,
  requireLast4,
  requireMetadata,
  requireRateLimit,
  requireReason,
  requireRotationPeriod,
  requireSource,
  requireText,
  sameValue,
} from './api-key.decider.validation';

// The API key aggregate as an emmett-style decider: pure, no Nest, no I/O. The handler loads the key's stream,
// folds it with evolve, calls decide with the clock and prefetched lookups, and appends the result expecting
// state.version.

export * from './api-key.decider.state';

// ---- commands ----

export interface CreateKeyData {
  keyId: string;
  hash: string; // sha256 hex of the plaintext, computed by the caller
  last4: string;
  environment: KeyEnvironment;
  name: string;
  ownerId?: string; // '' or absent: no owner (the Radicalbit flow is a name and optional groups)
  description?: string;
  groupIds?: string[];
  expiresAt?: string | null;
  ipAllow?: string[];
  ipDeny?: string[];
  rateLimit?: RateLimit | null;
  budget?: Budget | null;
  metadata?: Record<string, string>;
  rotationPeriodDays?: number | null;
  dormantAfterDays?: number | null;
}

// Every field optional: only what differs from the current state is emitted.
export type UpdateKeyData = KeyUpdatedData;
export type ChangeKeyRestrictionsData = KeyRestrictionsChangedData;

export type ApiKeyCommand =
  | { type: 'CreateKey'; data: CreateKeyData }
  | { type: 'UpdateKey'; data: UpdateKeyData }
  | { type: 'ChangeKeyRestrictions'; data: ChangeKeyRestrictionsData }
  | { type: 'AddKeyToGroup'; data: { keyId: string; groupId: string } }
  | { type: 'RemoveKeyFromGroup'; data: { keyId: string; groupId: string } }
  | { type: 'RotateKey'; data: { keyId: string; hash: string; last4: string; gracePeriodSeconds: number } }
  | { type: 'SuspendKey'; data: { keyId: string; reason: string } }
  | { type: 'ReactivateKey'; data: { keyId: string } }
  | { type: 'RevokeKey'; data: { keyId: string; reason: string; source?: string } }
  | { type: 'DeleteKey'; data: { keyId: string } };

// Outside knowledge, prefetched by the handler so decide stays synchronous and pure.
export interface ApiKeyContext {
  now: Date;
  groupExists: (groupId: string) => boolean; // exists and not deleted
  tierExists: (tier: string) => boolean; // a tier of routes.yaml
  routeExists: (route: string) => boolean; // a route of routes.yaml
}

// The group ids decide will ask ctx.groupExists about, so the handler can load exactly those.
export const referencedGroupIds = (command: ApiKeyCommand): string[] => {
  if (command.type === 'CreateKey') return [...new Set(command.data.groupIds ?? [])];
  if (command.type === 'AddKeyToGroup') return [command.data.groupId];
  return [];
};

// ---- decide ----

const keyError = (
  code: DomainErrorCode,
  keyId: string,
  problem: string,
  details: Record<string, unknown> = {},
) => new DomainError(code, `key ${keyId} ${problem}`, { keyId, ...details });

const requireKey = (state: ApiKeyState, keyId: string): ExistingApiKey => {
  if (!state.exists || state.deleted) throw keyError('KEY_NOT_FOUND', keyId, 'not found');
  return state;
};

const requireNotRevoked = (key: ExistingApiKey): ExistingApiKey => {
  if (key.status === 'revoked') {
    throw keyError('KEY_REVOKED', key.keyId, 'is revoked; revocation is irreversible');
  }
  return key;
};

const requireGroupIds = (value: unknown, groupExists: (id: string) => boolean): string[] => {
  if (!Array.isArray(value) || value.some((id) => typeof id !== 'string')) {
    throw invalidField('groupIds', 'must be an array of group ids');
  }
  const groupIds = [...new Set(value as string[])];
  const unknown = groupIds.filter((id) => !groupExists(id));
  if (unknown.length > 0) {
    throw new DomainError('UNKNOWN_GROUP', `unknown group(s): ${unknown.join(', ')}`, { groupIds: unknown });
  }
  return groupIds;
};

const createKey = (data: CreateKeyData, state: ApiKeyState, ctx: ApiKeyContext): ApiKeyEvent => {
  // A deleted key's id stays taken: its stream (and history) still exists.
  if (state.exists) throw keyError('KEY_ALREADY_EXISTS', data.keyId, 'already exists');
  if (!KEY_ENVIRONMENTS.includes(data.environment)) {
    throw invalidField('environment', `must be one of ${KEY_ENVIRONMENTS.join(', ')}`);
  }
  return {
    type: 'KeyCreated',
    data: {
      keyId: requireKeyId(data.keyId),
      name: requireText('name', data.name, KEY_LIMITS.name),
      description: requireText('description', data.description ?? '', KEY_LIMITS.description, true),
      ownerId: requireText('ownerId', data.ownerId ?? '', KEY_LIMITS.name, true),
      environment: data.environment,
      hash: requireHash(data.hash),
      last4: requireLast4(data.last4),
      groupIds: requireGroupIds(data.groupIds ?? [], ctx.groupExists),
      metadata: requireMetadata(data.metadata ?? {}),
      rotationPeriodDays: requireRotationPeriod(data.rotationPeriodDays ?? null),
      dormantAfterDays: requireDormancy(data.dormantAfterDays ?? null),
      expiresAt: requireExpiry(data.expiresAt ?? null, ctx.now),
      ipAllow: requireIpList('ipAllow', data.ipAllow ?? []),
      ipDeny: requireIpList('ipDeny', data.ipDeny ?? []),
      rateLimit: requireRateLimit(data.rateLimit ?? null, ctx),
      budget: requireBudget(data.budget ?? null),
      createdAt: ctx.now.toISOString(),
    },
  };
};

const updateKey = (data: UpdateKeyData, key: ExistingApiKey): ApiKeyEvent[] => {
  const changes: KeyUpdatedData = { keyId: key.keyId };
  const name = data.name === undefined ? undefined : requireText('name', data.name, KEY_LIMITS.name);
  if (name !== undefined && name !== key.name) changes.name = name;
  const description =
    data.description === undefined
      ? undefined
      : requireText('description', data.description, KEY_LIMITS.description, true);
  if (description !== undefined && description !== key.description) changes.description = description;
  const metadata = data.metadata === undefined ? undefined : requireMetadata(data.metadata);
  if (metadata !== undefined && !sameValue(metadata, key.metadata)) changes.metadata = metadata;
  const rotation =
    data.rotationPeriodDays === undefined ? undefined : requireRotationPeriod(data.rotationPeriodDays);
  if (rotation !== undefined && rotation !== key.rotationPeriodDays) changes.rotationPeriodDays = rotation;
  const dormancy = data.dormantAfterDays === undefined ? undefined : requireDormancy(data.dormantAfterDays);
  if (dormancy !== undefined && dormancy !== key.dormantAfterDays) changes.dormantAfterDays = dormancy;
  // A no-op PATCH is not an error: nothing to append, the caller answers with the current state.
  return Object.keys(changes).length > 1 ? [{ type: 'KeyUpdated', data: changes }] : [];
};

const changeRestrictions = (
  data: ChangeKeyRestrictionsData,
  key: ExistingApiKey,
  ctx: ApiKeyContext,
): ApiKeyEvent[] => {
  const changes: KeyRestrictionsChangedData = { keyId: key.keyId };
  // Unchanged values are skipped before validation, so a PATCH that repeats the current (possibly now past)
  // expiry or a tier since removed from routes.yaml does not fail on what it did not change.
  if (data.expiresAt !== undefined) {
    const same =
      data.expiresAt === key.expiresAt ||
      (data.expiresAt !== null &&
        key.expiresAt !== null &&
        Date.parse(data.expiresAt) === Date.parse(key.expiresAt));
    if (!same) changes.expiresAt = requireExpiry(data.expiresAt, ctx.now);
  }
  if (data.ipAllow !== undefined) {
    const ipAllow = requireIpList('ipAllow', data.ipAllow);
    if (!sameValue(ipAllow, key.ipAllow)) changes.ipAllow = ipAllow;
  }
  if (data.ipDeny !== undefined) {
    const ipDeny = requireIpList('ipDeny', data.ipDeny);
    if (!sameValue(ipDeny, key.ipDeny)) changes.ipDeny = ipDeny;
  }
  if (data.rateLimit !== undefined && !sameValue(data.rateLimit, key.rateLimit)) {
    // As with groups, only the routes a change introduces must exist: a per-route limit the key already has on a
    // route since removed from routes.yaml does not block an unrelated edit.
    const limited = key.rateLimit?.routes ?? {};
    const rateLimit = requireRateLimit(data.rateLimit, {
      tierExists: ctx.tierExists,
      routeExists: (route) => Object.hasOwn(limited, route) || ctx.routeExists(route),
    });
    if (!sameValue(rateLimit, key.rateLimit)) changes.rateLimit = rateLimit;
  }
  if (data.budget !== undefined) {
    const budget = requireBudget(data.budget);
    if (!sameValue(budget, key.budget)) changes.budget = budget;
  }
  return Object.keys(changes).length > 1 ? [{ type: 'KeyRestrictionsChanged', data: changes }] : [];
};

const rotateKey = (
  data: Extract<ApiKeyCommand, { type: 'RotateKey' }>['data'],
  key: ExistingApiKey,
  now: Date,
): ApiKeyEvent => {
  const hash = requireHash(data.hash);
  if (hash === key.hash) throw invalidField('hash', 'must differ from the current secret');
  const grace = requireGracePeriod(data.gracePeriodSeconds);
  // Only one previous secret is kept: rotating again inside a grace period ends the older secret at once.
  return {
    type: 'KeyRotated',
    data: {
      keyId: key.keyId,
      hash,
      last4: requireLast4(data.last4),
      previousHash: key.hash,
      previousValidUntil: new Date(now.getTime() + grace * 1000).toISOString(),
      rotatedAt: now.toISOString(),
    },
  };
};

export const decide = (command: ApiKeyCommand, state: ApiKeyState, ctx: ApiKeyContext): ApiKeyEvent[] => {
  const now = ctx.now.toISOString();
  switch (command.type) {
    case 'CreateKey':
      return [createKey(command.data, state, ctx)];
    case 'UpdateKey':
      return updateKey(command.data, requireNotRevoked(requireKey(state, command.data.keyId)));
    case 'ChangeKeyRestrictions':
      return changeRestrictions(command.data, requireNotRevoked(requireKey(state, command.data.keyId)), ctx);
    case 'AddKeyToGroup': {
      const key = requireNotRevoked(requireKey(state, command.data.keyId));
      const { groupId } = command.data;
      if (key.groupIds.includes(groupId)) {
        throw keyError('KEY_ALREADY_IN_GROUP', key.keyId, `is already in group ${groupId}`, { groupId });
      }
      // The group is named in the path (PUT /v1/keys/:id/groups/:groupId): a missing one is a 404.
      if (!ctx.groupExists(groupId))
        throw new DomainError('GROUP_NOT_FOUND', `group ${groupId} not found`, { groupId });
      return [{ type: 'KeyGroupAdded', data: { keyId: key.keyId, groupId } }];
    }
    case 'RemoveKeyFromGroup': {
      const key = requireNotRevoked(requireKey(state, command.data.keyId));
      const { groupId } = command.data;
      // No group lookup: removing a key from a group deleted meanwhile must stay possible.
      if (!key.groupIds.includes(groupId)) {
        throw keyError('KEY_NOT_IN_GROUP', key.keyId, `is not in group ${groupId}`, { groupId });
      }
      return [{ type: 'KeyGroupRemoved', data: { keyId: key.keyId, groupId } }];
    }
    case 'RotateKey':
      return [rotateKey(command.data, requireNotRevoked(requireKey(state, command.data.keyId)), ctx.now)];
    case 'SuspendKey': {
      const key = requireNotRevoked(requireKey(state, command.data.keyId));
      if (key.status === 'suspended') {
        throw keyError('KEY_ALREADY_SUSPENDED', key.keyId, 'is already suspended');
      }
      return [
        {
          type: 'KeySuspended',
          data: { keyId: key.keyId, reason: requireReason(command.data.reason), suspendedAt: now },
        },
      ];
    }
    case 'ReactivateKey': {
      const key = requireNotRevoked(requireKey(state, command.data.keyId));
      if (key.status !== 'suspended') {
        throw keyError('KEY_NOT_SUSPENDED', key.keyId, 'is not suspended');
      }
      return [{ type: 'KeyReactivated', data: { keyId: key.keyId, reactivatedAt: now } }];
    }
    case 'RevokeKey': {
      const key = requireKey(state, command.data.keyId);
      if (key.status === 'revoked') {
        throw keyError('KEY_ALREADY_REVOKED', key.keyId, 'is already revoked');
      }
      const { source } = command.data;
      return [
        {
          type: 'KeyRevoked',
          data: {
            keyId: key.keyId,
            reason: requireReason(command.data.reason),
            revokedAt: now,
            ...(source === undefined ? {} : { source: requireSource(source) }),
          },
        },
      ];
    }
    case 'DeleteKey': {
      // Allowed in any status, revoked included: deleting only hides the key; the gateway drops it too.
      const key = requireKey(state, command.data.keyId);
      return [{ type: 'KeyDeleted', data: { keyId: key.keyId, deletedAt: now } }];
    }
    default: {
      const unhandled: never = command;
      throw new Error(`unhandled key command ${(unhandled as { type: string }).type}`);
    }
  }
};

export const apiKeyDecider = { initialState, evolve, decide };
