import type { DomainEvent, GroupUpdatedData, KeyCreatedData } from '@keygate/contracts';
import {
  evolveAdminToken,
  evolveGroup,
  evolveKey,
  type GroupEntry,
  type GroupEvent,
  type KeyEntry,
  type KeyEvent,
} from './key-directory.evolve';

const T0 = '2025-01-01T00:00:00.000Z';
const created = (over: Partial<KeyCreatedData> = {}): KeyEvent => ({
  type: 'KeyCreated',
  data: {
    keyId: 'key_1',
    name: 'bot',
    description: '',
    ownerId: 'team',
    environment: 'live',
    hash: 'h',
    last4: 'abcd',
    groupIds: ['grp_a'],
    metadata: {},
    rotationPeriodDays: 90,
    createdAt: T0,
    expiresAt: null,
    ipAllow: [],
    ipDeny: [],
    rateLimit: null,
    budget: null,
    ...over,
  },
});
const history: [KeyEvent, string][] = [
  [created(), T0],
  [
    { type: 'KeyUpdated', data: { keyId: 'key_1', name: 'billing bot', rotationPeriodDays: 30 } },
    '2025-01-02T00:00:00.000Z',
  ],
  [
    {
      type: 'KeyRestrictionsChanged',
      data: { keyId: 'key_1', budget: { amountUsd: '25', period: 'month' } },
    },
    '2025-01-03T00:00:00.000Z',
  ],
  [{ type: 'KeyGroupAdded', data: { keyId: 'key_1', groupId: 'grp_b' } }, '2025-01-04T00:00:00.000Z'],
  [{ type: 'KeyGroupRemoved', data: { keyId: 'key_1', groupId: 'grp_a' } }, '2025-01-05T00:00:00.000Z'],
  [
    {
      type: 'KeyRotated',
      data: {
        keyId: 'key_1',
        hash: 'h2',
        last4: 'efgh',
        previousHash: 'h',
        previousValidUntil: T0,
        rotatedAt: '2025-01-06T00:00:00.000Z',
      },
    },
    '2025-01-06T00:00:00.000Z',
  ],
  [
    { type: 'KeySuspended', data: { keyId: 'key_1', reason: 'budget exceeded: x', suspendedAt: T0 } },
    '2025-01-07T00:00:00.000Z',
  ],
];
const fold = (events: [KeyEvent, string][], positions = events.map((_, i) => i + 1)) =>
  events.reduce<KeyEntry | null>((doc, [e, at], i) => evolveKey(doc, e, positions[i], at), null);

describe('key directory fold', () => {
  it('keeps what summaries, budgets and hygiene reports need', () => {
    expect(fold(history)).toEqual({
      keyId: 'key_1',
      v: 7,
      name: 'billing bot',
      ownerId: 'team',
      environment: 'live',
      groupIds: ['grp_b'],
      status: 'suspended',
      statusReason: 'budget exceeded: x',
      budget: { amountUsd: '25', period: 'month' },
      rotationPeriodDays: 30,
      dormantAfterDays: null,
      expiresAt: null,
      createdAt: T0,
      rotatedAt: '2025-01-06T00:00:00.000Z',
      reactivatedAt: null,
      deletedAt: null,
      updatedAt: '2025-01-07T00:00:00.000Z',
    });
  });

  it('keeps each key’s dormancy policy and when an admin last reactivated it', () => {
    const doc = [
      created({ dormantAfterDays: 14 }),
      { type: 'KeySuspended', data: { keyId: 'key_1', reason: 'dormant: x', suspendedAt: T0 } },
      { type: 'KeyReactivated', data: { keyId: 'key_1', reactivatedAt: '2025-02-01T00:00:00.000Z' } },
      { type: 'KeyUpdated', data: { keyId: 'key_1', dormantAfterDays: 0 } },
    ].reduce<KeyEntry | null>((d, e, i) => evolveKey(d, e as KeyEvent, i + 1, T0), null);
    expect(doc).toMatchObject({
      status: 'active',
      dormantAfterDays: 0,
      reactivatedAt: '2025-02-01T00:00:00.000Z',
    });
  });

  it('skips events not newer than the document: redelivery and replay end in the same state', () => {
    const once = fold(history);
    const twice = fold(
      [...history, ...history],
      [...history.map((_, i) => i + 1), ...history.map((_, i) => i + 1)],
    );
    expect(twice).toEqual(once);
    // An out-of-order replay of old positions onto the current document changes nothing either.
    const replayed = ([0, 3, 1] as const).reduce<KeyEntry | null>(
      (doc, i) => evolveKey(doc, history[i][0], i + 1, history[i][1]),
      once,
    );
    expect(replayed).toBe(once);
  });

  it('clears a budget set to null, reactivates, revokes and deletes', () => {
    const more: [KeyEvent, string][] = [
      [
        { type: 'KeyRestrictionsChanged', data: { keyId: 'key_1', budget: null } },
        '2025-02-01T00:00:00.000Z',
      ],
      [{ type: 'KeyReactivated', data: { keyId: 'key_1', reactivatedAt: T0 } }, '2025-02-02T00:00:00.000Z'],
    ];
    expect(fold([...history, ...more])).toMatchObject({ budget: null, status: 'active', statusReason: null });
    const revoked = evolveKey(
      fold(history),
      { type: 'KeyRevoked', data: { keyId: 'key_1', reason: 'leak', revokedAt: T0 } },
      8,
      T0,
    );
    expect(revoked).toMatchObject({ status: 'revoked', statusReason: 'leak' });
    expect(
      evolveKey(revoked, { type: 'KeyDeleted', data: { keyId: 'key_1', deletedAt: T0 } }, 9, T0)?.deletedAt,
    ).toBe(T0);
  });

  it('cannot fold a key event that arrives before its KeyCreated', () => {
    expect(evolveKey(null, history[1][0], 2, T0)).toBeNull();
  });

  it('folds groups and admin tokens the same way', () => {
    const g = evolveGroup(
      null,
      { type: 'GroupCreated', data: { groupId: 'grp_a', name: 'apps', description: '', routes: [] } },
      1,
      T0,
    );
    const renamed = evolveGroup(
      g,
      { type: 'GroupUpdated', data: { groupId: 'grp_a', name: 'apps 2' } },
      2,
      T0,
    );
    expect(
      evolveGroup(renamed, { type: 'GroupUpdated', data: { groupId: 'grp_a', name: 'stale' } }, 2, T0),
    ).toBe(renamed);
    expect(renamed).toEqual({ groupId: 'grp_a', v: 2, name: 'apps 2', budget: null, deletedAt: null });
    const issued: DomainEvent<'AdminTokenIssued'> = {
      type: 'AdminTokenIssued',
      data: { tokenId: 'adm_1', name: 'ops', role: 'auditor', hash: 'f'.repeat(64), last4: 'wxyz' },
    };
    const t = evolveAdminToken(null, issued, 1, T0);
    expect(
      evolveAdminToken(t, { type: 'AdminTokenRevoked', data: { tokenId: 'adm_1' } }, 2, T0),
    ).toMatchObject({
      role: 'auditor',
      revokedAt: T0,
    });
  });

  describe('group budgets and membership', () => {
    const groupCreated: GroupEvent = {
      type: 'GroupCreated',
      data: {
        groupId: 'grp_a',
        name: 'apps',
        description: '',
        routes: [],
        budget: { amountUsd: '100', period: 'month' },
      },
    };
    const updated = (data: Omit<GroupUpdatedData, 'groupId'>): GroupEvent => ({
      type: 'GroupUpdated',
      data: { groupId: 'grp_a', ...data },
    });
    const foldGroup = (events: GroupEvent[]) =>
      events.reduce<GroupEntry | null>((doc, e, i) => evolveGroup(doc, e, i + 1, T0), null);

    it('keeps the budget a group is created with (none when the event predates group budgets)', () => {
      expect(foldGroup([groupCreated])?.budget).toEqual({ amountUsd: '100', period: 'month' });
      const older: GroupEvent = {
        type: 'GroupCreated',
        data: { groupId: 'grp_a', name: 'apps', description: '', routes: [] },
      };
      expect(foldGroup([older])?.budget).toBeNull();
    });

    it('changes the budget, keeps it when an update leaves it out, and removes it on null', () => {
      const changed = foldGroup([groupCreated, updated({ budget: { amountUsd: '250.5', period: 'week' } })]);
      expect(changed?.budget).toEqual({ amountUsd: '250.5', period: 'week' });
      expect(evolveGroup(changed, updated({ name: 'apps 2' }), 3, T0)).toMatchObject({
        name: 'apps 2',
        budget: { amountUsd: '250.5', period: 'week' },
      });
      expect(evolveGroup(changed, updated({ budget: null }), 3, T0)?.budget).toBeNull();
      // A redelivered older update does not bring the old budget back.
      expect(evolveGroup(changed, updated({ budget: null }), 2, T0)).toBe(changed);
    });

    it('marks a deleted group (its budget no longer watched) and ignores updates before its creation', () => {
      const deleted = foldGroup([groupCreated, { type: 'GroupDeleted', data: { groupId: 'grp_a' } }]);
      expect(deleted).toEqual({
        groupId: 'grp_a',
        v: 2,
        name: 'apps',
        budget: { amountUsd: '100', period: 'month' },
        deletedAt: T0,
      });
      expect(evolveGroup(null, updated({ budget: { amountUsd: '1', period: 'day' } }), 1, T0)).toBeNull();
    });

    it('keeps each key’s membership: joined on creation or later, left, joined twice counts once', () => {
      const member = (events: KeyEvent[]) =>
        events.reduce<KeyEntry | null>((doc, e, i) => evolveKey(doc, e, i + 1, T0), null)?.groupIds;
      const added = (groupId: string): KeyEvent => ({
        type: 'KeyGroupAdded',
        data: { keyId: 'key_1', groupId },
      });
      const removed = (groupId: string): KeyEvent => ({
        type: 'KeyGroupRemoved',
        data: { keyId: 'key_1', groupId },
      });
      expect(member([created({ groupIds: ['grp_a', 'grp_b'] })])).toEqual(['grp_a', 'grp_b']);
      expect(member([created({ groupIds: [] }), added('grp_a'), added('grp_a')])).toEqual(['grp_a']);
      expect(member([created(), added('grp_b'), removed('grp_a')])).toEqual(['grp_b']);
      expect(member([created(), removed('grp_a'), removed('grp_a')])).toEqual([]);
    });
  });
});
