import { generateApiKey } from '@keygate/contracts';
import {
  evolve,
  initialState,
  isApiKeyEvent,
  keyStatus,
  referencedGroupIds,
  type ApiKeyCommand,
  type ApiKeyEvent,
  type ExistingApiKey,
} from './api-key.decider';
import {
  HASH,
  KEY_ID,
  LATER,
  NEW_HASH,
  NOW,
  createKey,
  created,
  deleted,
  everyCommand,
  revoked,
  spec,
  suspended,
} from './api-key.decider.fixtures';

describe('api key decider: groups, rotation, lifecycle', () => {
  describe('groups', () => {
    it('adds a key to an existing group', () => {
      spec
        .given([created()])
        .when({ type: 'AddKeyToGroup', data: { keyId: KEY_ID, groupId: 'grp_one' } })
        .then([{ type: 'KeyGroupAdded', data: { keyId: KEY_ID, groupId: 'grp_one' } }]);
    });

    it('refuses a group the key is already in, or one that does not exist (404: it is in the path)', () => {
      spec
        .given([created({ groupIds: ['grp_one'] })])
        .when({ type: 'AddKeyToGroup', data: { keyId: KEY_ID, groupId: 'grp_one' } })
        .thenThrows('KEY_ALREADY_IN_GROUP');
      spec
        .given([created()])
        .when({ type: 'AddKeyToGroup', data: { keyId: KEY_ID, groupId: 'grp_nope' } })
        .thenThrows('GROUP_NOT_FOUND');
    });

    it('removes a key from a group, even one deleted since', () => {
      spec
        .given([created(), { type: 'KeyGroupAdded', data: { keyId: KEY_ID, groupId: 'grp_gone' } }])
        .when({ type: 'RemoveKeyFromGroup', data: { keyId: KEY_ID, groupId: 'grp_gone' } })
        .then([{ type: 'KeyGroupRemoved', data: { keyId: KEY_ID, groupId: 'grp_gone' } }]);
    });

    it('refuses to remove a key from a group it is not in', () => {
      spec
        .given([
          created({ groupIds: ['grp_one'] }),
          { type: 'KeyGroupRemoved', data: { keyId: KEY_ID, groupId: 'grp_one' } },
        ])
        .when({ type: 'RemoveKeyFromGroup', data: { keyId: KEY_ID, groupId: 'grp_one' } })
        .thenThrows('KEY_NOT_IN_GROUP');
    });
  });

  describe('RotateKey', () => {
    const rotate = (gracePeriodSeconds: number, hash = NEW_HASH): ApiKeyCommand => ({
      type: 'RotateKey',
      data: { keyId: KEY_ID, hash, last4: 'Zz99', gracePeriodSeconds },
    });
    const rotated = (previousValidUntil: string): ApiKeyEvent => ({
      type: 'KeyRotated',
      data: {
        keyId: KEY_ID,
        hash: NEW_HASH,
        last4: 'Zz99',
        previousHash: HASH,
        previousValidUntil,
        rotatedAt: NOW.toISOString(),
      },
    });

    it('replaces the secret and keeps the old one valid for the grace period', () => {
      spec
        .given([created()])
        .when(rotate(3600))
        .then([rotated('2030-01-01T01:00:00.000Z')]);
    });

    it('ends the old secret at once with a zero grace period', () => {
      spec
        .given([created()])
        .when(rotate(0))
        .then([rotated(NOW.toISOString())]);
    });

    it('rotates a suspended key (rotate after a leak, then reactivate)', () => {
      spec
        .given([created(), suspended])
        .when(rotate(0))
        .then([rotated(NOW.toISOString())]);
    });

    it('refuses a negative or fractional grace period and a hash equal to the current one', () => {
      spec.given([created()]).when(rotate(-1)).thenThrows('VALIDATION_FAILED');
      spec.given([created()]).when(rotate(1.5)).thenThrows('VALIDATION_FAILED');
      spec.given([created()]).when(rotate(0, HASH)).thenThrows('VALIDATION_FAILED');
    });
  });

  describe('status transitions', () => {
    it('suspends an active key', () => {
      spec
        .given([created()])
        .when({ type: 'SuspendKey', data: { keyId: KEY_ID, reason: ' budget exceeded ' } })
        .then([
          {
            type: 'KeySuspended',
            data: { keyId: KEY_ID, reason: 'budget exceeded', suspendedAt: NOW.toISOString() },
          },
        ]);
    });

    it('refuses to suspend twice, or without a reason', () => {
      spec
        .given([created(), suspended])
        .when({ type: 'SuspendKey', data: { keyId: KEY_ID, reason: 'again' } })
        .thenThrows('KEY_ALREADY_SUSPENDED');
      spec
        .given([created()])
        .when({ type: 'SuspendKey', data: { keyId: KEY_ID, reason: '' } })
        .thenThrows('VALIDATION_FAILED');
    });

    it('reactivates a suspended key, and only a suspended one', () => {
      spec
        .given([created(), suspended])
        .when({ type: 'ReactivateKey', data: { keyId: KEY_ID } })
        .then([{ type: 'KeyReactivated', data: { keyId: KEY_ID, reactivatedAt: NOW.toISOString() } }]);
      spec
        .given([created()])
        .when({ type: 'ReactivateKey', data: { keyId: KEY_ID } })
        .thenThrows('KEY_NOT_SUSPENDED');
    });

    it('revokes an active or a suspended key', () => {
      const revoke: ApiKeyCommand = { type: 'RevokeKey', data: { keyId: KEY_ID, reason: 'leaked' } };
      const expected: ApiKeyEvent[] = [
        { type: 'KeyRevoked', data: { keyId: KEY_ID, reason: 'leaked', revokedAt: NOW.toISOString() } },
      ];
      spec.given([created()]).when(revoke).then(expected);
      spec.given([created(), suspended]).when(revoke).then(expected);
    });

    it('keeps a leak report’s source in the revocation, with anything shaped like a key masked', () => {
      const leaked = generateApiKey('live');
      spec
        .given([created()])
        .when({
          type: 'RevokeKey',
          data: { keyId: KEY_ID, reason: 'leaked', source: `pastebin, line 3: ${leaked}` },
        })
        .then([
          {
            type: 'KeyRevoked',
            data: {
              keyId: KEY_ID,
              reason: 'leaked',
              revokedAt: NOW.toISOString(),
              source: `pastebin, line 3: kg_live_…${leaked.slice(-4)}`,
            },
          },
        ]);
      spec
        .given([created()])
        .when({ type: 'RevokeKey', data: { keyId: KEY_ID, reason: 'leaked', source: ' ' } })
        .thenThrows('VALIDATION_FAILED');
    });

    it('refuses to revoke twice', () => {
      spec
        .given([created(), revoked])
        .when({ type: 'RevokeKey', data: { keyId: KEY_ID, reason: 'again' } })
        .thenThrows('KEY_ALREADY_REVOKED');
    });

    it('deletes a key in any status, revoked included', () => {
      const expected: ApiKeyEvent[] = [
        { type: 'KeyDeleted', data: { keyId: KEY_ID, deletedAt: NOW.toISOString() } },
      ];
      spec
        .given([created()])
        .when({ type: 'DeleteKey', data: { keyId: KEY_ID } })
        .then(expected);
      spec
        .given([created(), revoked])
        .when({ type: 'DeleteKey', data: { keyId: KEY_ID } })
        .then(expected);
    });
  });

  describe('invalid transitions, for every command', () => {
    it.each(everyCommand.map((command) => [command.type, command] as const))(
      '%s on a key that never existed → KEY_NOT_FOUND',
      (_type, command) => spec.given([]).when(command).thenThrows('KEY_NOT_FOUND', { keyId: KEY_ID }),
    );

    it.each(everyCommand.map((command) => [command.type, command] as const))(
      '%s on a deleted key → KEY_NOT_FOUND',
      (_type, command) =>
        spec
          .given([created({ groupIds: ['grp_one'] }), deleted])
          .when(command)
          .thenThrows('KEY_NOT_FOUND'),
    );

    const onRevoked = everyCommand.filter((c) => c.type !== 'RevokeKey' && c.type !== 'DeleteKey');
    it.each(onRevoked.map((command) => [command.type, command] as const))(
      '%s on a revoked key → KEY_REVOKED (revocation is irreversible)',
      (_type, command) =>
        spec
          .given([created({ groupIds: ['grp_one'] }), suspended, revoked])
          .when(command)
          .thenThrows('KEY_REVOKED'),
    );
  });

  describe('evolve and keyStatus', () => {
    const fold = (events: ApiKeyEvent[]) => events.reduce(evolve, initialState());
    const existing = (events: ApiKeyEvent[]): ExistingApiKey => {
      const state = fold(events);
      if (!state.exists) throw new Error('expected an existing key');
      return state;
    };

    it('counts every applied event as the version (the stream position)', () => {
      expect(initialState().version).toBe(0);
      expect(fold([created(), suspended, revoked, deleted]).version).toBe(4);
    });

    it('folds every event type into the state', () => {
      const state = existing([
        created(),
        { type: 'KeyUpdated', data: { keyId: KEY_ID, name: 'renamed' } },
        { type: 'KeyRestrictionsChanged', data: { keyId: KEY_ID, ipAllow: ['10.0.0.0/8'] } },
        { type: 'KeyGroupAdded', data: { keyId: KEY_ID, groupId: 'grp_one' } },
        { type: 'KeyGroupAdded', data: { keyId: KEY_ID, groupId: 'grp_two' } },
        { type: 'KeyGroupRemoved', data: { keyId: KEY_ID, groupId: 'grp_one' } },
        {
          type: 'KeyRotated',
          data: {
            keyId: KEY_ID,
            hash: NEW_HASH,
            last4: 'Zz99',
            previousHash: HASH,
            previousValidUntil: LATER,
            rotatedAt: LATER,
          },
        },
        suspended,
        { type: 'KeyReactivated', data: { keyId: KEY_ID, reactivatedAt: LATER } },
      ]);
      expect(state).toMatchObject({
        name: 'renamed',
        ipAllow: ['10.0.0.0/8'],
        ipDeny: [],
        groupIds: ['grp_two'],
        hash: NEW_HASH,
        previousHash: HASH,
        previousValidUntil: LATER,
        status: 'active',
        statusReason: null,
        deleted: false,
        version: 9,
      });
      expect(existing([created(), revoked, deleted])).toMatchObject({
        status: 'revoked',
        statusReason: 'leaked',
        deleted: true,
      });
    });

    it('reports revoked > expired > suspended > active', () => {
      const past = '2029-12-31T00:00:00.000Z';
      expect(keyStatus(existing([created()]), NOW)).toBe('active');
      expect(keyStatus(existing([created({ expiresAt: LATER })]), NOW)).toBe('active');
      expect(keyStatus(existing([created({ expiresAt: LATER })]), new Date(LATER))).toBe('expired');
      expect(keyStatus(existing([created(), suspended]), NOW)).toBe('suspended');
      expect(keyStatus(existing([created({ expiresAt: past }), suspended]), NOW)).toBe('expired');
      expect(keyStatus(existing([created({ expiresAt: past }), revoked]), NOW)).toBe('revoked');
    });
  });

  describe('helpers for the handler', () => {
    it('lists the group ids a command needs looked up', () => {
      expect(referencedGroupIds(createKey({ groupIds: ['grp_a', 'grp_a', 'grp_b'] }))).toEqual([
        'grp_a',
        'grp_b',
      ]);
      expect(
        referencedGroupIds({ type: 'AddKeyToGroup', data: { keyId: KEY_ID, groupId: 'grp_a' } }),
      ).toEqual(['grp_a']);
      expect(
        referencedGroupIds({ type: 'RemoveKeyFromGroup', data: { keyId: KEY_ID, groupId: 'grp_a' } }),
      ).toEqual([]);
    });

    it('tells key events from the other aggregates’ events', () => {
      expect(isApiKeyEvent(created())).toBe(true);
      expect(isApiKeyEvent({ type: 'GroupDeleted', data: { groupId: 'grp_a' } })).toBe(false);
    });
  });
});
