import type { AdminRole, AggregateEvent, Budget } from '@keygate/contracts';

// What usage-service keeps from keys.events: names, owners, groups and budgets for summaries and budgets,
// rotation data for the hygiene reports, admin tokens for its own API. Pure folds, no Nest, no SQL.
// The projection rule (STYLE.md): an event whose stream position is not newer than the document's is skipped.

export type DirectoryKeyStatus = 'active' | 'suspended' | 'revoked';

export interface KeyEntry {
  keyId: string;
  v: number;
  name: string;
  ownerId: string;
  environment: string;
  groupIds: string[];
  status: DirectoryKeyStatus;
  statusReason: string | null;
  budget: Budget | null;
  rotationPeriodDays: number | null;
  dormantAfterDays: number | null; // null: the deployment's default (KEY_DORMANT_AFTER_DAYS); 0: never
  expiresAt: string | null;
  createdAt: string;
  rotatedAt: string | null;
  reactivatedAt: string | null; // a key an admin woke up counts its disuse from then
  deletedAt: string | null;
  updatedAt: string;
}

export interface GroupEntry {
  groupId: string;
  v: number;
  name: string;
  budget: Budget | null; // shared by every key of the group (their membership is each key's groupIds)
  deletedAt: string | null;
}

export interface AdminTokenEntry {
  tokenId: string;
  v: number;
  name: string;
  role: AdminRole;
  hash: string;
  revokedAt: string | null;
}

export type KeyEvent = AggregateEvent<'apiKey'>;
export type GroupEvent = AggregateEvent<'group'>;
export type AdminTokenEvent = AggregateEvent<'adminToken'>;

// `at` is the envelope time: when the event happened, used where the payload carries no instant of its own.
export const evolveKey = (doc: KeyEntry | null, event: KeyEvent, v: number, at: string): KeyEntry | null => {
  if (doc && doc.v >= v) return doc;
  if (event.type === 'KeyCreated') {
    const d = event.data;
    return {
      keyId: d.keyId,
      v,
      name: d.name,
      ownerId: d.ownerId,
      environment: d.environment,
      groupIds: [...d.groupIds],
      status: 'active',
      statusReason: null,
      budget: d.budget ? { ...d.budget } : null,
      rotationPeriodDays: d.rotationPeriodDays ?? null,
      dormantAfterDays: d.dormantAfterDays ?? null,
      expiresAt: d.expiresAt ?? null,
      createdAt: d.createdAt ?? at,
      rotatedAt: null,
      reactivatedAt: null,
      deletedAt: null,
      updatedAt: at,
    };
  }
  // A key event before its KeyCreated cannot be folded into anything.
  if (!doc) return null;
  const next: KeyEntry = { ...doc, v, updatedAt: at };
  switch (event.type) {
    case 'KeyUpdated': {
      const d = event.data;
      return {
        ...next,
        name: d.name ?? doc.name,
        rotationPeriodDays:
          'rotationPeriodDays' in d ? (d.rotationPeriodDays ?? null) : doc.rotationPeriodDays,
        dormantAfterDays: 'dormantAfterDays' in d ? (d.dormantAfterDays ?? null) : doc.dormantAfterDays,
      };
    }
    case 'KeyRestrictionsChanged': {
      const d = event.data;
      return {
        ...next,
        budget: 'budget' in d && d.budget !== undefined ? (d.budget ? { ...d.budget } : null) : doc.budget,
        expiresAt: 'expiresAt' in d && d.expiresAt !== undefined ? d.expiresAt : doc.expiresAt,
      };
    }
    case 'KeyGroupAdded':
      return {
        ...next,
        groupIds: [...doc.groupIds.filter((g) => g !== event.data.groupId), event.data.groupId],
      };
    case 'KeyGroupRemoved':
      return { ...next, groupIds: doc.groupIds.filter((g) => g !== event.data.groupId) };
    case 'KeyRotated':
      return { ...next, rotatedAt: event.data.rotatedAt ?? at };
    case 'KeySuspended':
      return { ...next, status: 'suspended', statusReason: event.data.reason };
    case 'KeyReactivated':
      return { ...next, status: 'active', statusReason: null, reactivatedAt: event.data.reactivatedAt ?? at };
    case 'KeyRevoked':
      return { ...next, status: 'revoked', statusReason: event.data.reason };
    case 'KeyDeleted':
      return { ...next, deletedAt: event.data.deletedAt ?? at };
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
};

export const evolveGroup = (
  doc: GroupEntry | null,
  event: GroupEvent,
  v: number,
  at: string,
): GroupEntry | null => {
  if (doc && doc.v >= v) return doc;
  switch (event.type) {
    case 'GroupCreated': {
      const d = event.data;
      return {
        groupId: d.groupId,
        v,
        name: d.name,
        budget: d.budget ? { ...d.budget } : null,
        deletedAt: null,
      };
    }
    case 'GroupUpdated': {
      if (!doc) return null;
      const d = event.data;
      // Absent: unchanged; null: removed.
      const budget = d.budget === undefined ? doc.budget : d.budget ? { ...d.budget } : null;
      return { ...doc, v, name: d.name ?? doc.name, budget };
    }
    case 'GroupDeleted':
      return doc ? { ...doc, v, deletedAt: at } : null;
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
};

export const evolveAdminToken = (
  doc: AdminTokenEntry | null,
  event: AdminTokenEvent,
  v: number,
  at: string,
): AdminTokenEntry | null => {
  if (doc && doc.v >= v) return doc;
  switch (event.type) {
    case 'AdminTokenIssued': {
      const { tokenId, name, role, hash } = event.data;
      return { tokenId, v, name, role, hash, revokedAt: null };
    }
    case 'AdminTokenRevoked':
      return doc ? { ...doc, v, revokedAt: at } : null;
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
};
