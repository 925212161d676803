import { Injectable } from '@nestjs/common';
import { maskApiKey } from '@keygate/contracts';
import {
  evolve,
  initialState,
  isApiKeyEvent,
  keyStatus,
  type ApiKeyState,
  type ExistingApiKey,
} from '../api-keys/api-key.decider';
import type { KeyResource, RouteGrant } from '../api-keys/api-keys.service';
import { toAuditEntry, type AuditEntry } from '../audit/audit.service';
import { DomainError } from '../domain-errors';
import { EventStore, type StoredEvent } from '../event-store/event-store';
import * as groupDecider from '../groups/group.decider';

// The key as it was at an instant, and the event that made it so (its last event at or before that instant).
export type KeyAtResource = KeyResource & { asOf: { at: string; event: AuditEntry } };

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export const parseInstant = (value: string, field = 'at'): Date => {
  const t = ISO_INSTANT.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t))
    throw new DomainError(
      'VALIDATION_FAILED',
      `${field} must be an ISO-8601 instant, e.g. 2026-01-31T12:00:00Z`,
      {
        field,
      },
    );
  return new Date(t);
};

const upTo = (events: StoredEvent[], at: Date) => events.filter((e) => e.createdAt.getTime() <= at.getTime());

// Folds with the deciders' own evolve functions: the answer is what the write side held at that instant.
@Injectable()
export class KeyAtService {
  constructor(private readonly store: EventStore) {}

  async at(keyId: string, atText: string): Promise<KeyAtResource> {
    const at = parseInstant(atText);
    const history = upTo(await this.store.load(keyId), at);
    let state: ApiKeyState = initialState();
    let last: StoredEvent | undefined;
    for (const e of history) {
      const event = { type: e.type, data: e.data } as Parameters<typeof isApiKeyEvent>[0];
      if (!isApiKeyEvent(event)) continue;
      state = evolve(state, event);
      last = e;
    }
    if (!state.exists || state.deleted || !last)
      throw new DomainError('KEY_NOT_FOUND', `key ${keyId} did not exist at ${at.toISOString()}`, { keyId });
    const grants = await this.grantsAt(state.groupIds, at);
    return {
      ...render(state, at, last, grants),
      asOf: { at: at.toISOString(), event: toAuditEntry(last) },
    };
  }

  // The routes each of the key's groups granted at that instant, folded from the groups' own streams.
  private async grantsAt(groupIds: string[], at: Date): Promise<RouteGrant[]> {
    const byRoute = new Map<string, RouteGrant>();
    for (const groupId of groupIds) {
      let group: groupDecider.GroupState = groupDecider.initialState();
      for (const e of upTo(await this.store.load(groupId), at)) {
        const event = { type: e.type, data: e.data } as Parameters<typeof groupDecider.isGroupEvent>[0];
        if (groupDecider.isGroupEvent(event)) group = groupDecider.evolve(group, event);
      }
      if (!group.exists || group.deleted) continue;
      for (const route of group.routes) {
        const grant = byRoute.get(route) ?? { route, groups: [] };
        grant.groups.push({ id: groupId, name: group.name });
        byRoute.set(route, grant);
      }
    }
    return [...byRoute.values()].sort((a, b) => a.route.localeCompare(b.route));
  }
}

const render = (s: ExistingApiKey, at: Date, last: StoredEvent, grants: RouteGrant[]): KeyResource => ({
  id: s.keyId,
  name: s.name,
  description: s.description,
  ownerId: s.ownerId === '' ? null : s.ownerId,
  environment: s.environment,
  state: keyStatus(s, at),
  maskedKey: maskApiKey(s.environment, s.last4),
  groupIds: s.groupIds,
  accessibleRoutes: grants.map((g) => g.route),
  routeGrants: grants,
  expiresAt: s.expiresAt,
  ipAllow: s.ipAllow,
  ipDeny: s.ipDeny,
  rateLimit: s.rateLimit,
  budget: s.budget,
  metadata: s.metadata,
  rotationPeriodDays: s.rotationPeriodDays,
  dormantAfterDays: s.dormantAfterDays,
  createdAt: s.createdAt,
  updatedAt: last.createdAt.toISOString(),
  rotatedAt: s.rotatedAt,
  // Usage is not part of the key's history.
  lastUsedAt: null,
  version: s.version,
});
