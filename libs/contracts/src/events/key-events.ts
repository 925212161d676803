import type { KeyEnvironment } from '../api-key-format';

// Events on keys.events. Past tense; the list may grow, never silently change: a changed payload gets a new
// schemaVersion and an upcaster in key-events.upcasters.ts. No event carries a secret in clear.

export type BudgetPeriod = 'day' | 'week' | 'month';

export interface RateLimit {
  // A named tier from routes.yaml, or the key's own numbers (own numbers win over the tier's).
  tier?: string;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  // Requests of this key in flight at once, across every gateway instance (a lease each, issue 19).
  maxConcurrentRequests?: number;
  // Limits of the key's requests to one route (by route name, as clients name it in "model"), enforced on top of
  // the key's own: e.g. { "gpt-4o": { requestsPerMinute: 10 } } with requestsPerMinute 100 for the key.
  routes?: Record<string, RouteLimit>;
}

export interface RouteLimit {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export interface Budget {
  amountUsd: string; // decimal string
  period: BudgetPeriod;
}

export interface KeyRestrictions {
  expiresAt: string | null;
  ipAllow: string[];
  ipDeny: string[];
  rateLimit: RateLimit | null;
  budget: Budget | null;
}

export interface KeyCreatedData extends KeyRestrictions {
  keyId: string;
  name: string;
  description: string;
  ownerId: string;
  environment: KeyEnvironment;
  hash: string;
  last4: string;
  groupIds: string[];
  metadata: Record<string, string>;
  rotationPeriodDays: number | null;
  // Suspend after this many days unused: null (or absent, in events before it existed) = the deployment's
  // default, 0 = never for this key.
  dormantAfterDays?: number | null;
  createdAt: string;
}

export interface KeyUpdatedData {
  keyId: string;
  name?: string;
  description?: string;
  metadata?: Record<string, string>;
  rotationPeriodDays?: number | null;
  dormantAfterDays?: number | null;
}

export type KeyRestrictionsChangedData = { keyId: string } & Partial<KeyRestrictions>;

export interface KeyGroupData {
  keyId: string;
  groupId: string;
}

export interface KeyRotatedData {
  keyId: string;
  hash: string;
  last4: string;
  previousHash: string;
  // The instant the previous secret stops working (= rotation time when the grace period is 0).
  previousValidUntil: string;
  rotatedAt: string;
}

export interface KeySuspendedData {
  keyId: string;
  reason: string;
  suspendedAt: string;
}

export interface KeyReactivatedData {
  keyId: string;
  reactivatedAt: string;
}

export interface KeyRevokedData {
  keyId: string;
  reason: string;
  revokedAt: string;
  // Where a leak report found the key (reason `leaked`): the reporter's words or GitHub's URL, never the key.
  source?: string;
}

export interface KeyDeletedData {
  keyId: string;
  deletedAt: string;
}

export interface GroupCreatedData {
  groupId: string;
  name: string;
  description: string;
  routes: string[];
  // Shared by every key of the group: their spend together stays within it (absent before group budgets).
  budget?: Budget | null;
}

export interface GroupUpdatedData {
  groupId: string;
  name?: string;
  description?: string;
  routes?: string[];
  budget?: Budget | null; // null: the budget is removed
}

export interface GroupDeletedData {
  groupId: string;
}

export type ProviderType = 'openai' | 'azure' | 'gemini';

export interface ProviderCredentialAddedData {
  credentialId: string;
  name: string;
  type: ProviderType;
  // Envelope encryption: AES-256-GCM ciphertext of the secret under a per-credential data key,
  // which is itself wrapped by KEYGATE_MASTER_KEY. All base64.
  ciphertext: string;
  wrappedDataKey: string;
  last4: string;
  settings: Record<string, string>; // baseUrl, endpoint, deployment, apiVersion, organization
}

export type ProviderCredentialRotatedData = Omit<
  ProviderCredentialAddedData,
  'name' | 'type' | 'settings'
> & {
  settings?: Record<string, string>;
};

export interface ProviderCredentialRemovedData {
  credentialId: string;
}

export type AdminRole = 'admin' | 'auditor';

export interface AdminTokenIssuedData {
  tokenId: string;
  name: string;
  role: AdminRole;
  hash: string;
  last4: string;
}

export interface AdminTokenRevokedData {
  tokenId: string;
}

export interface KeyEventDataMap {
  KeyCreated: KeyCreatedData;
  KeyUpdated: KeyUpdatedData;
  KeyRestrictionsChanged: KeyRestrictionsChangedData;
  KeyGroupAdded: KeyGroupData;
  KeyGroupRemoved: KeyGroupData;
  KeyRotated: KeyRotatedData;
  KeySuspended: KeySuspendedData;
  KeyReactivated: KeyReactivatedData;
  KeyRevoked: KeyRevokedData;
  KeyDeleted: KeyDeletedData;
  GroupCreated: GroupCreatedData;
  GroupUpdated: GroupUpdatedData;
  GroupDeleted: GroupDeletedData;
  ProviderCredentialAdded: ProviderCredentialAddedData;
  ProviderCredentialRotated: ProviderCredentialRotatedData;
  ProviderCredentialRemoved: ProviderCredentialRemovedData;
  AdminTokenIssued: AdminTokenIssuedData;
  AdminTokenRevoked: AdminTokenRevokedData;
}

export type KeyEventType = keyof KeyEventDataMap;

export type DomainEvent<T extends KeyEventType = KeyEventType> = {
  [K in T]: { type: K; data: KeyEventDataMap[K] };
}[T];

// The events of each aggregate on keys.events, defined once: the key-service deciders, the gateway projection and
// usage-service's key directory all fold by these lists. A new event type is added here and nowhere else.
export const AGGREGATE_EVENT_TYPES = {
  apiKey: [
    'KeyCreated',
    'KeyUpdated',
    'KeyRestrictionsChanged',
    'KeyGroupAdded',
    'KeyGroupRemoved',
    'KeyRotated',
    'KeySuspended',
    'KeyReactivated',
    'KeyRevoked',
    'KeyDeleted',
  ],
  group: ['GroupCreated', 'GroupUpdated', 'GroupDeleted'],
  providerCredential: ['ProviderCredentialAdded', 'ProviderCredentialRotated', 'ProviderCredentialRemoved'],
  adminToken: ['AdminTokenIssued', 'AdminTokenRevoked'],
} as const satisfies Record<string, readonly KeyEventType[]>;

export type AggregateKind = keyof typeof AGGREGATE_EVENT_TYPES;
export type AggregateEventType<K extends AggregateKind> = (typeof AGGREGATE_EVENT_TYPES)[K][number];
export type AggregateEvent<K extends AggregateKind> = Extract<DomainEvent, { type: AggregateEventType<K> }>;

export const KEY_EVENT_TYPES: readonly KeyEventType[] = Object.values(AGGREGATE_EVENT_TYPES).flat();

const KIND_BY_TYPE = new Map<string, AggregateKind>(
  (Object.keys(AGGREGATE_EVENT_TYPES) as AggregateKind[]).flatMap((kind) =>
    AGGREGATE_EVENT_TYPES[kind].map((type) => [type, kind] as const),
  ),
);

export const isKeyEventType = (type: string): type is KeyEventType => KIND_BY_TYPE.has(type);

export const isAggregateEvent = <K extends AggregateKind>(kind: K, e: DomainEvent): e is AggregateEvent<K> =>
  KIND_BY_TYPE.get(e.type) === kind;

// The field of each aggregate's payload that names it (every event of the aggregate carries it).
const ID_FIELD: Record<AggregateKind, string> = {
  apiKey: 'keyId',
  group: 'groupId',
  providerCredential: 'credentialId',
  adminToken: 'tokenId',
};

// The aggregate an event belongs to, or null when its type is unknown or its payload names no aggregate.
export const aggregateOf = (e: {
  type: string;
  data: unknown;
}): { kind: AggregateKind; id: string } | null => {
  const kind = KIND_BY_TYPE.get(e.type);
  if (!kind || typeof e.data !== 'object' || e.data === null) return null;
  const id = (e.data as Record<string, unknown>)[ID_FIELD[kind]];
  return typeof id === 'string' && id.length > 0 ? { kind, id } : null;
};

// A suspension the usage-service's budget enforcement made starts with this; the gateway answers it with
// budget_exceeded, any other suspension with key_suspended (never with the admin's free text).
export const BUDGET_SUSPENSION_PREFIX = 'budget exceeded:';
// A suspension usage-service made for a key left unused past its dormancy policy; only an admin reactivates it.
export const DORMANT_SUSPENSION_PREFIX = 'dormant:';

export const KEY_EVENTS_SCHEMA_VERSION = 1;
