import {
  BUDGET_SUSPENSION_PREFIX,
  type AggregateEvent,
  type Budget,
  type KeyEnvironment,
  type RateLimit,
} from '@keygate/contracts';

// What the gateway knows about a key: everything auth and restrictions need, nothing secret.
export interface KeyDocument {
  keyId: string;
  v: number; // stream position of the last applied event: the idempotency rule
  status: 'active' | 'suspended' | 'revoked' | 'deleted';
  environment: KeyEnvironment;
  hash: string; // the newest secret's sha256
  // The secret the last rotation replaced and the instant it stops working. Only these two secrets can ever
  // authenticate: a secret rotated out before the last rotation is dead, whatever grace it once had.
  previous: { hash: string; validUntil: string } | null;
  expiresAt: string | null;
  ipAllow: string[];
  ipDeny: string[];
  rateLimit: RateLimit | null;
  budget: Budget | null;
  groupIds: string[];
  // Why a suspended key is refused, as a code: the admin's free-text reason never reaches an API client.
  suspension: 'budget_exceeded' | 'key_suspended' | null;
}

// A hash points at its key (whether it still works is the key document's to say). `v` is the stream position of
// the event that wrote it: an older write never replaces a newer one.
export interface HashEntry {
  keyId: string;
  v: number;
}

export interface GroupDocument {
  groupId: string;
  v: number;
  routes: string[];
  // Shared by every key of the group (absent in documents projected before group budgets existed).
  budget?: Budget | null;
  deleted: boolean;
}

// Which of a key's secrets authenticate at `now`: the newest, or the one the last rotation replaced until its instant.
export const secretState = (doc: KeyDocument, hash: string, now: number): 'current' | 'grace' | 'rotated' =>
  hash === doc.hash
    ? 'current'
    : doc.previous && hash === doc.previous.hash && Date.parse(doc.previous.validUntil) > now
      ? 'grace'
      : 'rotated';

export const evolveKey = (
  doc: KeyDocument | null,
  event: AggregateEvent<'apiKey'>,
  v: number,
): KeyDocument | null => {
  if (event.type === 'KeyCreated') {
    const d = event.data;
    return {
      keyId: d.keyId,
      v,
      status: 'active',
      environment: d.environment,
      hash: d.hash,
      previous: null,
      expiresAt: d.expiresAt,
      ipAllow: d.ipAllow,
      ipDeny: d.ipDeny,
      rateLimit: d.rateLimit,
      budget: d.budget,
      groupIds: d.groupIds,
      suspension: null,
    };
  }
  if (!doc) return null;
  const next = { ...doc, v };
  switch (event.type) {
    case 'KeyUpdated':
      return next;
    case 'KeyRestrictionsChanged': {
      const { keyId: _keyId, ...changes } = event.data;
      return { ...next, ...changes };
    }
    case 'KeyGroupAdded':
      return {
        ...next,
        groupIds: [...doc.groupIds.filter((g) => g !== event.data.groupId), event.data.groupId],
      };
    case 'KeyGroupRemoved':
      return { ...next, groupIds: doc.groupIds.filter((g) => g !== event.data.groupId) };
    case 'KeyRotated':
      return {
        ...next,
        hash: event.data.hash,
        previous: { hash: event.data.previousHash, validUntil: event.data.previousValidUntil },
      };
    case 'KeySuspended':
      return {
        ...next,
        status: 'suspended',
        suspension: event.data.reason.startsWith(BUDGET_SUSPENSION_PREFIX)
          ? 'budget_exceeded'
          : 'key_suspended',
      };
    case 'KeyReactivated':
      return { ...next, status: 'active', suspension: null };
    case 'KeyRevoked':
      return { ...next, status: 'revoked' };
    case 'KeyDeleted':
      return { ...next, status: 'deleted' };
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
};

// A provider credential as the gateway keeps it: still encrypted; decrypted in memory by the CredentialVault.
export interface CredentialDocument {
  credentialId: string;
  v: number;
  name: string;
  ciphertext: string;
  wrappedDataKey: string;
  settings: Record<string, string>;
  removed: boolean;
}

export const evolveCredential = (
  doc: CredentialDocument | null,
  event: AggregateEvent<'providerCredential'>,
  v: number,
): CredentialDocument | null => {
  switch (event.type) {
    case 'ProviderCredentialAdded':
      return {
        credentialId: event.data.credentialId,
        v,
        name: event.data.name,
        ciphertext: event.data.ciphertext,
        wrappedDataKey: event.data.wrappedDataKey,
        settings: event.data.settings,
        removed: false,
      };
    case 'ProviderCredentialRotated':
      return (
        doc && {
          ...doc,
          v,
          ciphertext: event.data.ciphertext,
          wrappedDataKey: event.data.wrappedDataKey,
          settings: event.data.settings ?? doc.settings,
        }
      );
    case 'ProviderCredentialRemoved':
      return doc && { ...doc, v, ciphertext: '', wrappedDataKey: '', removed: true };
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
};

export const evolveGroup = (
  doc: GroupDocument | null,
  event: AggregateEvent<'group'>,
  v: number,
): GroupDocument | null => {
  switch (event.type) {
    case 'GroupCreated':
      return {
        groupId: event.data.groupId,
        v,
        routes: event.data.routes,
        budget: event.data.budget ?? null,
        deleted: false,
      };
    case 'GroupUpdated':
      return (
        doc && {
          ...doc,
          v,
          routes: event.data.routes ?? doc.routes,
          budget: event.data.budget === undefined ? (doc.budget ?? null) : event.data.budget,
        }
      );
    case 'GroupDeleted':
      return { groupId: event.data.groupId, v, routes: [], deleted: true };
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
};
