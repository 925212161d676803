import type { KeyCreatedData } from '@keygate/contracts';
import { apiKeyDecider, type ApiKeyCommand, type ApiKeyContext, type ApiKeyEvent } from './api-key.decider';
import { deciderSpec } from './decider-spec.helper';

// Shared fixtures of the api-key decider specs (test-only).

export const NOW = new Date('2030-01-01T00:00:00.000Z');
export const LATER = '2030-06-01T00:00:00.000Z';
export const KEY_ID = `key_${'A'.repeat(22)}`;
export const HASH = 'a'.repeat(64);
export const NEW_HASH = 'b'.repeat(64);
export const GROUPS = new Set(['grp_one', 'grp_two']);
export const ROUTES = new Set(['gpt-4o', 'gpt-4o-mini']);

export const context = (): ApiKeyContext => ({
  now: NOW,
  groupExists: (id) => GROUPS.has(id),
  tierExists: (tier) => tier === 'free',
  routeExists: (route) => ROUTES.has(route),
});
export const spec = deciderSpec(apiKeyDecider, context);

export const createdData = (overrides: Partial<KeyCreatedData> = {}): KeyCreatedData => ({
  keyId: KEY_ID,
  name: 'ci',
  description: '',
  ownerId: 'team-a',
  environment: 'live',
  hash: HASH,
  last4: 'Ab12',
  groupIds: [],
  metadata: {},
  rotationPeriodDays: null,
  dormantAfterDays: null,
  expiresAt: null,
  ipAllow: [],
  ipDeny: [],
  rateLimit: null,
  budget: null,
  createdAt: '2029-12-01T00:00:00.000Z',
  ...overrides,
});
export const created = (overrides: Partial<KeyCreatedData> = {}): ApiKeyEvent => ({
  type: 'KeyCreated',
  data: createdData(overrides),
});
export const suspended: ApiKeyEvent = {
  type: 'KeySuspended',
  data: { keyId: KEY_ID, reason: 'budget', suspendedAt: '2029-12-02T00:00:00.000Z' },
};
export const revoked: ApiKeyEvent = {
  type: 'KeyRevoked',
  data: { keyId: KEY_ID, reason: 'leaked', revokedAt: '2029-12-03T00:00:00.000Z' },
};
export const deleted: ApiKeyEvent = {
  type: 'KeyDeleted',
  data: { keyId: KEY_ID, deletedAt: '2029-12-04T00:00:00.000Z' },
};

export const createKey = (
  overrides: Partial<Extract<ApiKeyCommand, { type: 'CreateKey' }>['data']> = {},
): ApiKeyCommand => ({
  type: 'CreateKey',
  data: {
    keyId: KEY_ID,
    hash: HASH,
    last4: 'Ab12',
    environment: 'live',
    name: 'ci',
    ownerId: 'team-a',
    ...overrides,
  },
});

// One valid command of each type, for the "any command in state X" tables.
export const everyCommand: ApiKeyCommand[] = [
  { type: 'UpdateKey', data: { keyId: KEY_ID, name: 'renamed' } },
  { type: 'ChangeKeyRestrictions', data: { keyId: KEY_ID, ipAllow: ['10.0.0.0/8'] } },
  { type: 'AddKeyToGroup', data: { keyId: KEY_ID, groupId: 'grp_one' } },
  { type: 'RemoveKeyFromGroup', data: { keyId: KEY_ID, groupId: 'grp_one' } },
  { type: 'RotateKey', data: { keyId: KEY_ID, hash: NEW_HASH, last4: 'Zz99', gracePeriodSeconds: 60 } },
  { type: 'SuspendKey', data: { keyId: KEY_ID, reason: 'manual' } },
  { type: 'ReactivateKey', data: { keyId: KEY_ID } },
  { type: 'RevokeKey', data: { keyId: KEY_ID, reason: 'manual' } },
  { type: 'DeleteKey', data: { keyId: KEY_ID } },
];
