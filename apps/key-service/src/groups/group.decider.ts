import {
  hasPrefix,
  isAggregateEvent,
  type AggregateEvent,
  type Budget,
  type DomainEvent,
  type GroupUpdatedData,
} from '@keygate/contracts';
import { invalidField, requireBudget, requireText, sameValue } from '../api-keys/api-key.decider.validation';
import { DomainError } from '../domain-errors';

// The group aggregate as a pure decider: a group grants its routes to the keys in it (membership lives on the
// key stream, KeyGroupAdded/Removed). The handler prefetches what decide needs to know about the outside.

export type GroupEvent = AggregateEvent<'group'>;

export const isGroupEvent = (event: DomainEvent): event is GroupEvent => isAggregateEvent('group', event);

export const GROUP_LIMITS = { name: 128, description: 1024, routes: 500 } as const;

export interface MissingGroup {
  exists: false;
  version: number;
}

export interface ExistingGroup {
  exists: true;
  version: number; // events applied = stream position
  groupId: string;
  name: string;
  description: string;
  routes: string[];
  budget: Budget | null; // shared by every key of the group
  deleted: boolean; // deleted groups keep their history but answer GROUP_NOT_FOUND
}

export type GroupState = MissingGroup | ExistingGroup;

export const initialState = (): GroupState => ({ exists: false, version: 0 });

export const evolve = (state: GroupState, event: GroupEvent): GroupState => {
  const version = state.version + 1;
  if (event.type === 'GroupCreated') {
    const { groupId, name, description, routes, budget } = event.data;
    return {
      exists: true,
      version,
      groupId,
      name,
      description,
      routes: [...routes],
      budget: budget ?? null,
      deleted: false,
    };
  }
  if (!state.exists) return { ...state, version };
  switch (event.type) {
    case 'GroupUpdated': {
      const { name, description, routes, budget } = event.data;
      return {
        ...state,
        version,
        ...(name !== undefined && { name }),
        ...(description !== undefined && { description }),
        ...(routes !== undefined && { routes: [...routes] }),
        ...(budget !== undefined && { budget }),
      };
    }
    case 'GroupDeleted':
      return { ...state, version, deleted: true };
    default: {
      const unhandled: never = event;
      throw new Error(`unhandled group event ${(unhandled as { type: string }).type}`);
    }
  }
};

// budget: absent leaves it as it is, null removes it.
interface GroupFields {
  description?: string;
  routes?: string[];
  budget?: Budget | null;
}

export type GroupCommand =
  | { type: 'CreateGroup'; data: GroupFields & { groupId: string; name: string } }
  | { type: 'UpdateGroup'; data: GroupFields & { groupId: string; name?: string } }
  | { type: 'DeleteGroup'; data: { groupId: string } };

export interface GroupContext {
  now: Date; // unused by the current events; kept so every decider takes the same kind of ctx
  routeExists: (route: string) => boolean; // a route of routes.yaml
  // Another live group (not this one) already uses the name: names are what admins pick groups by.
  groupNameTaken: (name: string) => boolean;
  // Some live key is still in the group; consulted by DeleteGroup only.
  groupHasKeys: (groupId: string) => boolean;
}

const requireRouteList = (value: unknown): string[] => {
  if (!Array.isArray(value) || value.some((route) => typeof route !== 'string' || route === '')) {
    throw invalidField('routes', 'must be an array of route names');
  }
  if (value.length > GROUP_LIMITS.routes)
    throw invalidField('routes', `must have at most ${GROUP_LIMITS.routes} entries`);
  return [...new Set(value as string[])];
};

// Only routes the command introduces must exist: a route since removed from routes.yaml that the group already
// lists does not block an unrelated edit (the gateway ignores routes it does not know).
const requireKnownRoutes = (routes: string[], already: readonly string[], ctx: GroupContext): void => {
  const unknown = routes.filter((route) => !already.includes(route) && !ctx.routeExists(route));
  if (unknown.length > 0) {
    throw new DomainError('UNKNOWN_ROUTE', `unknown route(s): ${unknown.join(', ')}`, { routes: unknown });
  }
};

const requireFreeName = (name: string, ctx: GroupContext): void => {
  if (ctx.groupNameTaken(name)) {
    throw new DomainError('GROUP_ALREADY_EXISTS', `a group named "${name}" already exists`, { name });
  }
};

const requireGroup = (state: GroupState, groupId: string): ExistingGroup => {
  if (!state.exists || state.deleted)
    throw new DomainError('GROUP_NOT_FOUND', `group ${groupId} not found`, { groupId });
  return state;
};

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((item) => b.includes(item));

export const decide = (command: GroupCommand, state: GroupState, ctx: GroupContext): GroupEvent[] => {
  switch (command.type) {
    case 'CreateGroup': {
      const { groupId } = command.data;
      if (state.exists)
        throw new DomainError('GROUP_ALREADY_EXISTS', `group ${groupId} already exists`, { groupId });
      if (typeof groupId !== 'string' || !hasPrefix(groupId, 'grp'))
        throw invalidField('groupId', 'must be a grp_… id');
      const name = requireText('name', command.data.name, GROUP_LIMITS.name);
      const description = requireText(
        'description',
        command.data.description ?? '',
        GROUP_LIMITS.description,
        true,
      );
      const routes = requireRouteList(command.data.routes ?? []);
      requireKnownRoutes(routes, [], ctx);
      // The key budget's rules (same limits, same codes): a group budget is the same kind of spend limit.
      const budget = requireBudget(command.data.budget ?? null);
      requireFreeName(name, ctx);
      return [
        { type: 'GroupCreated', data: { groupId, name, description, routes, ...(budget && { budget }) } },
      ];
    }
    case 'UpdateGroup': {
      const group = requireGroup(state, command.data.groupId);
      const changes: GroupUpdatedData = { groupId: group.groupId };
      if (command.data.name !== undefined) {
        const name = requireText('name', command.data.name, GROUP_LIMITS.name);
        if (name !== group.name) {
          requireFreeName(name, ctx);
          changes.name = name;
        }
      }
      if (command.data.description !== undefined) {
        const description = requireText(
          'description',
          command.data.description,
          GROUP_LIMITS.description,
          true,
        );
        if (description !== group.description) changes.description = description;
      }
      if (command.data.routes !== undefined) {
        const routes = requireRouteList(command.data.routes);
        requireKnownRoutes(routes, group.routes, ctx);
        // Routes are a set: a reordering alone is not a change.
        if (!sameSet(routes, group.routes)) changes.routes = routes;
      }
      if (command.data.budget !== undefined) {
        const budget = requireBudget(command.data.budget);
        if (!sameValue(budget, group.budget)) changes.budget = budget;
      }
      return Object.keys(changes).length > 1 ? [{ type: 'GroupUpdated', data: changes }] : [];
    }
    case 'DeleteGroup': {
      const group = requireGroup(state, command.data.groupId);
      // Refused rather than cascading: removing a group silently would cut keys off their routes. The check
      // reads a projection, so a key added concurrently can slip through: consumers must treat a deleted group
      // as granting nothing.
      if (ctx.groupHasKeys(group.groupId)) {
        throw new DomainError('GROUP_IN_USE', `group ${group.groupId} still has keys; remove them first`, {
          groupId: group.groupId,
        });
      }
      return [{ type: 'GroupDeleted', data: { groupId: group.groupId } }];
    }
    default: {
      const unhandled: never = command;
      throw new Error(`unhandled group command ${(unhandled as { type: string }).type}`);
    }
  }
};

export const groupDecider = { initialState, evolve, decide };
