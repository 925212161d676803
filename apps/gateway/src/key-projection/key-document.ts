import type { Budget, DomainEvent, KeyEnvironment, KeyEventType, RateLimit } from '@keygate/contracts';

// What the gateway knows about a key: everything auth and restrictions need, nothing secret.
export interface KeyDocument {
  keyId: string;
  v: number; // stream position of the last applied event: the idempotency rule
  status: 'active' | 'suspended' | 'revoked' | 'deleted';
  environment: KeyEnvironment;
  hash: string;
  expiresAt: string | null;
  ipAllow: string[];
  ipDeny: string[];
  rateLimit: RateLimit | null;
  budget: Budget | null;
  groupIds: string[];
  suspendedReason: string | null;
}

// A hash points at its key; a rotated-out hash carries the instant it stops working.
export interface HashEntry {
  keyId: string;
  validUntil: string | null;
}

export interface GroupDocument {
  groupId: string;
  v: number;
  routes: string[];
  deleted: boolean;
}

type KeyEvent = DomainEvent<Extract<KeyEventType, `Key${string}`>>;

export const isKeyEvent = (e: DomainEvent): e is KeyEvent => e.type.startsWith('Key');

export const evolveKey = (doc: KeyDocument | null, event: KeyEvent, v: number): KeyDocument | null => {
  if (event.type === 'KeyCreated') {
    const d = event.data;
    return {
      keyId: d.keyId,
      v,
      status: 'active',
      environment: d.environment,
      hash: d.hash,
      expiresAt: d.expiresAt,
      ipAllow: d.ipAllow,
      ipDeny: d.ipDeny,
      rateLimit: d.rateLimit,
      budget: d.budget,
      groupIds: d.groupIds,
      suspendedReason: null,
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
      return { ...next, hash: event.data.hash };
    case 'KeySuspended':
      return { ...next, status: 'suspended', suspendedReason: event.data.reason };
    case 'KeyReactivated':
      return { ...next, status: 'active', suspendedReason: null };
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

type CredentialEvent = DomainEvent<
  'ProviderCredentialAdded' | 'ProviderCredentialRotated' | 'ProviderCredentialRemoved'
>;

export const isCredentialEvent = (e: DomainEvent): e is CredentialEvent =>
  e.type.startsWith('ProviderCredential');

export const evolveCredential = (
  doc: CredentialDocument | null,
  event: CredentialEvent,
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
