import { deciderSpec } from '../api-keys/decider-spec.helper';
import {
  evolve,
  groupDecider,
  initialState,
  isGroupEvent,
  type GroupCommand,
  type GroupContext,
  type GroupEvent,
} from './group.decider';

const GROUP_ID = `grp_${'B'.repeat(22)}`;
const ROUTES = new Set(['gpt-4o-mini', 'gpt-4o', 'embeddings']);

const context = (): GroupContext => ({
  now: new Date('2030-01-01T00:00:00.000Z'),
  routeExists: (route) => ROUTES.has(route),
  groupNameTaken: (name) => name === 'taken',
  groupHasKeys: () => false,
});
const spec = deciderSpec(groupDecider, context);

const created: GroupEvent = {
  type: 'GroupCreated',
  data: { groupId: GROUP_ID, name: 'chat', description: '', routes: ['gpt-4o-mini'] },
};
const deleted: GroupEvent = { type: 'GroupDeleted', data: { groupId: GROUP_ID } };

const create = (
  data: Partial<Extract<GroupCommand, { type: 'CreateGroup' }>['data']> = {},
): GroupCommand => ({
  type: 'CreateGroup',
  data: { groupId: GROUP_ID, name: 'chat', routes: ['gpt-4o-mini'], ...data },
});
const update = (
  data: Omit<Extract<GroupCommand, { type: 'UpdateGroup' }>['data'], 'groupId'>,
): GroupCommand => ({
  type: 'UpdateGroup',
  data: { groupId: GROUP_ID, ...data },
});
const remove: GroupCommand = { type: 'DeleteGroup', data: { groupId: GROUP_ID } };

describe('group decider', () => {
  describe('CreateGroup', () => {
    it('creates a group with its routes (deduplicated, name trimmed)', () => {
      spec
        .given([])
        .when(
          create({
            name: ' chat ',
            description: 'chat models',
            routes: ['gpt-4o-mini', 'gpt-4o', 'gpt-4o-mini'],
          }),
        )
        .then([
          {
            type: 'GroupCreated',
            data: {
              groupId: GROUP_ID,
              name: 'chat',
              description: 'chat models',
              routes: ['gpt-4o-mini', 'gpt-4o'],
            },
          },
        ]);
    });

    it('creates a group granting nothing yet', () => {
      spec
        .given([])
        .when(create({ routes: undefined }))
        .then([
          { type: 'GroupCreated', data: { groupId: GROUP_ID, name: 'chat', description: '', routes: [] } },
        ]);
    });

    it('refuses an unknown route, naming it', () => {
      spec
        .given([])
        .when(create({ routes: ['gpt-4o', 'gpt-5-turbo-max'] }))
        .thenThrows('UNKNOWN_ROUTE', { routes: ['gpt-5-turbo-max'] });
    });

    it('refuses an existing id (deleted included) and a name another group uses', () => {
      spec.given([created]).when(create()).thenThrows('GROUP_ALREADY_EXISTS');
      spec.given([created, deleted]).when(create()).thenThrows('GROUP_ALREADY_EXISTS');
      spec
        .given([])
        .when(create({ name: 'taken' }))
        .thenThrows('GROUP_ALREADY_EXISTS', { name: 'taken' });
    });

    it.each<[string, Parameters<typeof create>[0]]>([
      ['an empty name', { name: ' ' }],
      ['a malformed id', { groupId: 'group-1' }],
      ['routes that are not strings', { routes: [1 as unknown as string] }],
    ])('refuses %s with VALIDATION_FAILED', (_label, data) => {
      spec.given([]).when(create(data)).thenThrows('VALIDATION_FAILED');
    });
  });

  describe('UpdateGroup', () => {
    it('emits only what changes', () => {
      spec
        .given([created])
        .when(update({ name: 'chat', description: 'now described', routes: ['gpt-4o-mini', 'gpt-4o'] }))
        .then([
          {
            type: 'GroupUpdated',
            data: { groupId: GROUP_ID, description: 'now described', routes: ['gpt-4o-mini', 'gpt-4o'] },
          },
        ]);
    });

    it('renames to a free name and refuses a taken one', () => {
      spec
        .given([created])
        .when(update({ name: 'assistants' }))
        .then([{ type: 'GroupUpdated', data: { groupId: GROUP_ID, name: 'assistants' } }]);
      spec
        .given([created])
        .when(update({ name: 'taken' }))
        .thenThrows('GROUP_ALREADY_EXISTS');
    });

    it('treats routes as a set: reordering is no change', () => {
      spec
        .given([{ ...created, data: { ...created.data, routes: ['gpt-4o', 'embeddings'] } } as GroupEvent])
        .when(update({ routes: ['embeddings', 'gpt-4o'] }))
        .thenNothing();
    });

    it('checks only the routes it adds (one gone from routes.yaml may stay)', () => {
      spec
        .given([{ ...created, data: { ...created.data, routes: ['retired-route'] } } as GroupEvent])
        .when(update({ routes: ['retired-route', 'gpt-4o'] }))
        .then([{ type: 'GroupUpdated', data: { groupId: GROUP_ID, routes: ['retired-route', 'gpt-4o'] } }]);
      spec
        .given([created])
        .when(update({ routes: ['nope'] }))
        .thenThrows('UNKNOWN_ROUTE');
    });

    it('appends nothing when nothing changes', () => {
      spec
        .given([created])
        .when(update({ name: 'chat', description: '' }))
        .thenNothing();
    });
  });

  describe('group budget', () => {
    const budget = { amountUsd: '250.00', period: 'month' } as const;
    const withBudget = { ...created, data: { ...created.data, budget } } as GroupEvent;

    it('creates a group with a budget shared by its keys', () => {
      spec.given([]).when(create({ budget })).then([withBudget]);
      spec
        .given([])
        .when(create({ budget: null }))
        .then([created]);
    });

    it('sets, changes and removes (null) the budget', () => {
      spec
        .given([created])
        .when(update({ budget }))
        .then([{ type: 'GroupUpdated', data: { groupId: GROUP_ID, budget } }]);
      spec
        .given([withBudget])
        .when(update({ budget: { amountUsd: '10', period: 'day' } }))
        .then([
          { type: 'GroupUpdated', data: { groupId: GROUP_ID, budget: { amountUsd: '10', period: 'day' } } },
        ]);
      spec
        .given([withBudget])
        .when(update({ budget: null }))
        .then([{ type: 'GroupUpdated', data: { groupId: GROUP_ID, budget: null } }]);
    });

    it('appends nothing for the same budget, or null on a group without one', () => {
      spec
        .given([withBudget])
        .when(update({ budget: { period: 'month', amountUsd: '250.00' } }))
        .thenNothing();
      spec
        .given([created])
        .when(update({ budget: null }))
        .thenNothing();
    });

    it('folds the budget in and out of the state', () => {
      const removed = { type: 'GroupUpdated', data: { groupId: GROUP_ID, budget: null } } as GroupEvent;
      expect([withBudget].reduce(evolve, initialState())).toMatchObject({ budget });
      expect([withBudget, removed].reduce(evolve, initialState())).toMatchObject({ budget: null });
      expect([created].reduce(evolve, initialState())).toMatchObject({ budget: null }); // events before budgets
    });

    it.each<[string, unknown, string]>([
      ['a zero amount', { amountUsd: '0', period: 'day' }, 'budget.amountUsd'],
      ['a non-decimal amount', { amountUsd: '1e3', period: 'day' }, 'budget.amountUsd'],
      ['a number for the amount', { amountUsd: 25, period: 'day' }, 'budget.amountUsd'],
      ['an unknown period', { amountUsd: '5', period: 'year' }, 'budget.period'],
      ['a list', [], 'budget'],
    ])('refuses %s with VALIDATION_FAILED, as for a key budget', (_label, bad, field) => {
      spec
        .given([])
        .when(create({ budget: bad as never }))
        .thenThrows('VALIDATION_FAILED', { field });
      spec
        .given([created])
        .when(update({ budget: bad as never }))
        .thenThrows('VALIDATION_FAILED', { field });
    });
  });

  describe('DeleteGroup', () => {
    it('deletes a group no key is in', () => {
      spec.given([created]).when(remove).then([deleted]);
    });

    it('refuses while keys are still in it', () => {
      spec
        .given([created])
        .when(remove, { groupHasKeys: () => true })
        .thenThrows('GROUP_IN_USE');
    });
  });

  describe('invalid transitions', () => {
    const commands: GroupCommand[] = [update({ name: 'x' }), remove];
    it.each(commands.map((c) => [c.type, c] as const))(
      '%s on a missing group → GROUP_NOT_FOUND',
      (_t, command) => spec.given([]).when(command).thenThrows('GROUP_NOT_FOUND', { groupId: GROUP_ID }),
    );
    it.each(commands.map((c) => [c.type, c] as const))(
      '%s on a deleted group → GROUP_NOT_FOUND',
      (_t, command) => spec.given([created, deleted]).when(command).thenThrows('GROUP_NOT_FOUND'),
    );
  });

  it('folds events into state with the version as stream position', () => {
    const state = [
      created,
      {
        type: 'GroupUpdated',
        data: { groupId: GROUP_ID, name: 'renamed', routes: ['gpt-4o'] },
      } as GroupEvent,
      deleted,
    ].reduce(evolve, initialState());
    expect(state).toEqual({
      exists: true,
      version: 3,
      groupId: GROUP_ID,
      name: 'renamed',
      description: '',
      routes: ['gpt-4o'],
      budget: null,
      deleted: true,
    });
    expect(isGroupEvent(created)).toBe(true);
    expect(isGroupEvent({ type: 'KeyDeleted', data: { keyId: 'k', deletedAt: '' } })).toBe(false);
  });
});
