import {
  isAggregateEvent,
  type AggregateEvent,
  type AggregateEventType,
  type DomainEvent,
  type KeyEnvironment,
  type KeyRestrictions,
} from '@keygate/contracts';

// State and evolve of the API key decider (api-key.decider.ts re-exports all of this; import from there).

export type ApiKeyEventType = AggregateEventType<'apiKey'>;
export type ApiKeyEvent = AggregateEvent<'apiKey'>;

export const isApiKeyEvent = (event: DomainEvent): event is ApiKeyEvent => isAggregateEvent('apiKey', event);

// ---- state ----

// 'expired' is not stored: it depends on the clock, see keyStatus().
export type StoredKeyStatus = 'active' | 'suspended' | 'revoked';
export type KeyStatus = StoredKeyStatus | 'expired';

export interface MissingApiKey {
  exists: false;
  version: number;
}

export interface ExistingApiKey extends KeyRestrictions {
  exists: true;
  version: number; // events applied = stream position, the expected version of the next append
  keyId: string;
  name: string;
  description: string;
  ownerId: string;
  environment: KeyEnvironment;
  hash: string;
  last4: string;
  // The secret replaced by the last rotation and the instant it stops working.
  previousHash: string | null;
  previousValidUntil: string | null;
  groupIds: string[];
  metadata: Record<string, string>;
  rotationPeriodDays: number | null;
  dormantAfterDays: number | null;
  status: StoredKeyStatus;
  statusReason: string | null; // why it was suspended or revoked
  deleted: boolean; // deleted keys keep their history but answer KEY_NOT_FOUND
  createdAt: string;
  rotatedAt: string | null;
  suspendedAt: string | null;
  revokedAt: string | null;
  deletedAt: string | null;
}

export type ApiKeyState = MissingApiKey | ExistingApiKey;

export const initialState = (): ApiKeyState => ({ exists: false, version: 0 });

// Revoked beats everything; expired beats suspended because reactivating would not make the key work.
export const keyStatus = (state: ExistingApiKey, now: Date): KeyStatus => {
  if (state.status === 'revoked') return 'revoked';
  if (state.expiresAt !== null && Date.parse(state.expiresAt) <= now.getTime()) return 'expired';
  return state.status;
};

// ---- evolve ----

const definedOnly = <T extends object>(value: T): Partial<T> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;

export const evolve = (state: ApiKeyState, event: ApiKeyEvent): ApiKeyState => {
  const version = state.version + 1;
  if (event.type === 'KeyCreated') {
    const { groupIds, metadata, ipAllow, ipDeny } = event.data;
    return {
      ...event.data,
      exists: true,
      version,
      // Copies: state must not share arrays/objects with the event it came from.
      groupIds: [...groupIds],
      metadata: { ...metadata },
      ipAllow: [...ipAllow],
      ipDeny: [...ipDeny],
      dormantAfterDays: event.data.dormantAfterDays ?? null,
      previousHash: null,
      previousValidUntil: null,
      status: 'active',
      statusReason: null,
      deleted: false,
      rotatedAt: null,
      suspendedAt: null,
      revokedAt: null,
      deletedAt: null,
    };
  }
  // A stream never holds other key events before KeyCreated; count them anyway so version stays the position.
  if (!state.exists) return { ...state, version };

  switch (event.type) {
    case 'KeyUpdated': {
      const { keyId: _keyId, ...changes } = event.data;
      return { ...state, ...definedOnly(changes), version };
    }
    case 'KeyRestrictionsChanged': {
      const { keyId: _keyId, ...changes } = event.data;
      return { ...state, ...definedOnly(changes), version };
    }
    case 'KeyGroupAdded':
      return { ...state, groupIds: [...state.groupIds, event.data.groupId], version };
    case 'KeyGroupRemoved':
      return { ...state, groupIds: state.groupIds.filter((id) => id !== event.data.groupId), version };
    case 'KeyRotated': {
      const { hash, last4, previousHash, previousValidUntil, rotatedAt } = event.data;
      return { ...state, hash, last4, previousHash, previousValidUntil, rotatedAt, version };
    }
    case 'KeySuspended':
      return {
        ...state,
        status: 'suspended',
        statusReason: event.data.reason,
        suspendedAt: event.data.suspendedAt,
        version,
      };
    case 'KeyReactivated':
      return { ...state, status: 'active', statusReason: null, suspendedAt: null, version };
    case 'KeyRevoked':
      return {
        ...state,
        status: 'revoked',
        statusReason: event.data.reason,
        revokedAt: event.data.revokedAt,
        version,
      };
    case 'KeyDeleted':
      return { ...state, deleted: true, deletedAt: event.data.deletedAt, version };
    default: {
      const unhandled: never = event;
      throw new Error(`unhandled key event ${(unhandled as { type: string }).type}`);
    }
  }
};
