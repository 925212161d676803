import { renderDetails, renderTable, type Column } from '../io/output';
import type { Budget, RouteLimit } from './option-parsers';

// The key resource of the management API (DESIGN.md, Response shapes); `key` only on create and rotate.
export interface KeyResource {
  id: string;
  name: string;
  description?: string | null;
  ownerId?: string | null;
  environment: string;
  state: string;
  maskedKey: string;
  groupIds: string[];
  accessibleRoutes: string[];
  expiresAt: string | null;
  ipAllow: string[];
  ipDeny: string[];
  rateLimit: {
    tier?: string;
    requestsPerMinute?: number;
    tokensPerMinute?: number;
    maxConcurrentRequests?: number;
    routes?: Record<string, RouteLimit>;
  } | null;
  budget: Budget | null;
  metadata?: Record<string, string>;
  rotationPeriodDays?: number | null;
  dormantAfterDays?: number | null;
  createdAt: string;
  updatedAt?: string;
  lastUsedAt?: string | null;
  version: number;
  key?: string;
  // `keys show --at`: the instant and the event that made the key so.
  asOf?: { at: string; event: { type: string; time: string; actor: string; streamPosition: number } };
}

export interface AuditEntry {
  aggregateId: string;
  type: string;
  time: string;
  actor: string;
  requestId: string;
  streamPosition: number;
  data: Record<string, unknown>;
}

const perMinute = (l: RouteLimit): string =>
  [l.requestsPerMinute && `${l.requestsPerMinute} rpm`, l.tokensPerMinute && `${l.tokensPerMinute} tpm`]
    .filter(Boolean)
    .join(', ');

const limits = (k: KeyResource): string | null =>
  k.rateLimit
    ? [
        k.rateLimit.tier && `tier ${k.rateLimit.tier}`,
        perMinute(k.rateLimit),
        k.rateLimit.maxConcurrentRequests && `${k.rateLimit.maxConcurrentRequests} in flight`,
      ]
        .filter(Boolean)
        .join(', ') || null
    : null;

// "gpt-4o: 10 rpm; gpt-4o-mini: 10 rpm, 40000 tpm", or none.
const routeLimits = (k: KeyResource): string | null => {
  const routes = Object.entries(k.rateLimit?.routes ?? {});
  return routes.length ? routes.map(([route, l]) => `${route}: ${perMinute(l)}`).join('; ') : null;
};

// A key's or a group's budget: "$25/month".
export const budgetText = (b: Budget | null | undefined): string | null =>
  b ? `$${b.amountUsd}/${b.period}` : null;

export const keyColumns: Column<KeyResource>[] = [
  ['ID', (k) => k.id],
  ['NAME', (k) => k.name],
  ['ENV', (k) => k.environment],
  ['STATE', (k) => k.state],
  ['OWNER', (k) => k.ownerId],
  ['KEY', (k) => k.maskedKey],
  ['GROUPS', (k) => k.groupIds],
  ['EXPIRES', (k) => k.expiresAt ?? 'never'],
  ['LAST USED', (k) => k.lastUsedAt ?? 'never'],
];

export const renderKeys = (keys: KeyResource[]): string => renderTable(keyColumns, keys);

// The plaintext is shown only when the caller passes it (create/rotate without --save), as the last line.
export const renderKey = (k: KeyResource, plaintext?: string): string =>
  renderDetails([
    ['id', k.id],
    ['name', k.name],
    ['description', k.description || null],
    ['owner', k.ownerId],
    ['environment', k.environment],
    ['state', k.state],
    ['masked key', k.maskedKey],
    ['groups', k.groupIds],
    ['routes', k.accessibleRoutes],
    ['expires', k.expiresAt ?? 'never'],
    ['ip allow', k.ipAllow],
    ['ip deny', k.ipDeny],
    ['rate limit', limits(k)],
    ['route limits', routeLimits(k)],
    ['budget', budgetText(k.budget)],
    ['rotation', k.rotationPeriodDays ? `every ${k.rotationPeriodDays} days` : null],
    [
      'dormant after',
      k.dormantAfterDays === 0
        ? 'never'
        : k.dormantAfterDays
          ? `${k.dormantAfterDays} days unused`
          : 'default',
    ],
    ['metadata', k.metadata && Object.keys(k.metadata).length ? k.metadata : null],
    ['created', k.createdAt],
    ['updated', k.updatedAt],
    ['last used', k.lastUsedAt ?? 'never'],
    ['version', k.version],
    ...(k.asOf
      ? ([
          ['as of', k.asOf.at],
          [
            'made so by',
            `#${k.asOf.event.streamPosition} ${k.asOf.event.type} by ${k.asOf.event.actor} at ${k.asOf.event.time}`,
          ],
        ] as [string, unknown][])
      : []),
    ...(plaintext ? ([['key', plaintext]] as [string, unknown][]) : []),
  ]);

export const renderAudit = (entries: AuditEntry[], withAggregate: boolean): string =>
  renderTable<AuditEntry>(
    [
      ['TIME', (e) => e.time],
      ...(withAggregate ? ([['AGGREGATE', (e) => e.aggregateId]] as Column<AuditEntry>[]) : []),
      ['#', (e) => e.streamPosition],
      ['TYPE', (e) => e.type],
      ['ACTOR', (e) => e.actor],
      ['REQUEST', (e) => e.requestId || null],
    ],
    entries,
  );

// A key resource without its plaintext: what --json prints once the key went into a file.
export const withoutSecret = (k: KeyResource): KeyResource => {
  const { key: _key, ...rest } = k;
  return rest;
};
