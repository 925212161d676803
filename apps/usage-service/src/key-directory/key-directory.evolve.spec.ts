import type { DomainEvent, KeyCreatedData } from '@keygate/contracts';
import {
  evolveAdminToken,
  evolveGroup,
  evolveKey,
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
    expect(renamed).toEqual({ groupId: 'grp_a', v: 2, name: 'apps 2', deletedAt: null });
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
});
