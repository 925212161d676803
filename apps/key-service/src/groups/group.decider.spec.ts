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
      deleted: true,
    });
    expect(isGroupEvent(created)).toBe(true);
    expect(isGroupEvent({ type: 'KeyDeleted', data: { keyId: 'k', deletedAt: '' } })).toBe(false);
  });
});
