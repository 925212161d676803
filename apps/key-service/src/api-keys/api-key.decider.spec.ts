import type { ApiKeyCommand } from './api-key.decider';
import { KEY_ID, LATER, NOW, createKey, created, deleted, spec } from './api-key.decider.fixtures';

describe('api key decider', () => {
  describe('CreateKey', () => {
    it('creates a key with defaults for everything optional', () => {
      spec
        .given([])
        .when(createKey())
        .then([created({ createdAt: NOW.toISOString() })]);
    });

    it('creates a key without an owner: a name and optional groups are enough', () => {
      spec
        .given([])
        .when(createKey({ ownerId: undefined }))
        .then([created({ ownerId: '', createdAt: NOW.toISOString() })]);
      spec
        .given([])
        .when(createKey({ ownerId: '   ' }))
        .then([created({ ownerId: '', createdAt: NOW.toISOString() })]);
    });

    it('normalises what it stores: trimmed text, canonical CIDRs and expiry, deduplicated groups', () => {
      spec
        .given([])
        .when(
          createKey({
            name: '  ci  ',
            description: 'nightly',
            groupIds: ['grp_one', 'grp_two', 'grp_one'],
            expiresAt: '2030-06-01T02:00:00+02:00',
            ipAllow: ['10.0.0.0/8', '2001:DB8::/32', '192.168.1.1', '10.0.0.0/8'],
            ipDeny: ['10.1.0.0/16'],
            rateLimit: { tier: 'free', requestsPerMinute: 10 },
            budget: { amountUsd: '25.00', period: 'month' },
            metadata: { team: 'a' },
            rotationPeriodDays: 90,
          }),
        )
        .then([
          created({
            description: 'nightly',
            groupIds: ['grp_one', 'grp_two'],
            expiresAt: LATER,
            ipAllow: ['10.0.0.0/8', '2001:db8::/32', '192.168.1.1/32'],
            ipDeny: ['10.1.0.0/16'],
            rateLimit: { tier: 'free', requestsPerMinute: 10 },
            budget: { amountUsd: '25.00', period: 'month' },
            metadata: { team: 'a' },
            rotationPeriodDays: 90,
            createdAt: NOW.toISOString(),
          }),
        ]);
    });

    it('refuses an id that already has a stream, even a deleted one', () => {
      spec.given([created()]).when(createKey()).thenThrows('KEY_ALREADY_EXISTS');
      spec.given([created(), deleted]).when(createKey()).thenThrows('KEY_ALREADY_EXISTS');
    });

    it('refuses unknown groups and tiers (422 codes, naming what is missing)', () => {
      spec
        .given([])
        .when(createKey({ groupIds: ['grp_one', 'grp_nope'] }))
        .thenThrows('UNKNOWN_GROUP', { groupIds: ['grp_nope'] });
      spec
        .given([])
        .when(createKey({ rateLimit: { tier: 'gold' } }))
        .thenThrows('UNKNOWN_TIER', { tier: 'gold' });
    });

    it('refuses a bad CIDR', () => {
      spec
        .given([])
        .when(createKey({ ipAllow: ['10.0.0.0/33'] }))
        .thenThrows('INVALID_CIDR');
      spec
        .given([])
        .when(createKey({ ipDeny: ['not-an-ip'] }))
        .thenThrows('INVALID_CIDR');
    });

    it('refuses an expiry that is not in the future', () => {
      spec
        .given([])
        .when(createKey({ expiresAt: '2029-12-31T23:59:59Z' }))
        .thenThrows('INVALID_EXPIRY');
      spec
        .given([])
        .when(createKey({ expiresAt: NOW.toISOString() }))
        .thenThrows('INVALID_EXPIRY');
    });

    it.each<[string, Parameters<typeof createKey>[0]]>([
      ['a malformed expiry', { expiresAt: 'next tuesday' }],
      ['an expiry without an offset', { expiresAt: '2031-01-01T00:00:00' }],
      ['the plaintext key where the hash belongs', { hash: 'kg_live_0123456789abcdef' }],
      ['an empty name', { name: '   ' }],
      ['an unknown environment', { environment: 'prod' as never }],
      ['a malformed key id', { keyId: 'key_short' }],
      ['a non-string metadata value', { metadata: { n: 1 as unknown as string } }],
      ['a zero rotation period', { rotationPeriodDays: 0 }],
      ['an empty rate limit', { rateLimit: {} }],
      ['a fractional requests-per-minute', { rateLimit: { requestsPerMinute: 1.5 } }],
      ['a zero budget', { budget: { amountUsd: '0', period: 'day' } }],
      ['a numeric-looking but non-decimal budget', { budget: { amountUsd: '1e3', period: 'day' } }],
      ['an unknown budget period', { budget: { amountUsd: '5', period: 'year' as never } }],
      ['a bad last4', { last4: 'abc' }],
    ])('refuses %s with VALIDATION_FAILED', (_label, overrides) => {
      spec.given([]).when(createKey(overrides)).thenThrows('VALIDATION_FAILED');
    });
  });

  describe('dormancy policy', () => {
    it('keeps a key’s own "suspend after N days unused" (0 = never), in its history', () => {
      spec
        .given([])
        .when(createKey({ dormantAfterDays: 45 }))
        .then([created({ dormantAfterDays: 45, createdAt: NOW.toISOString() })]);
      spec
        .given([created()])
        .when({ type: 'UpdateKey', data: { keyId: KEY_ID, dormantAfterDays: 0 } })
        .then([{ type: 'KeyUpdated', data: { keyId: KEY_ID, dormantAfterDays: 0 } }]);
      spec
        .given([created({ dormantAfterDays: 10 })])
        .when({ type: 'UpdateKey', data: { keyId: KEY_ID, dormantAfterDays: null } })
        .then([{ type: 'KeyUpdated', data: { keyId: KEY_ID, dormantAfterDays: null } }]);
      spec
        .given([created({ dormantAfterDays: 10 })])
        .when({ type: 'UpdateKey', data: { keyId: KEY_ID, dormantAfterDays: 10 } })
        .then([]);
    });

    it.each([-1, 1.5, 3651, '30'])('refuses dormantAfterDays %p with VALIDATION_FAILED', (value) => {
      spec
        .given([])
        .when(createKey({ dormantAfterDays: value as number }))
        .thenThrows('VALIDATION_FAILED');
      spec
        .given([created()])
        .when({ type: 'UpdateKey', data: { keyId: KEY_ID, dormantAfterDays: value as number } })
        .thenThrows('VALIDATION_FAILED');
    });
  });

  describe('UpdateKey', () => {
    it('emits only the fields that change', () => {
      spec
        .given([created({ metadata: { team: 'a' } })])
        .when({
          type: 'UpdateKey',
          data: {
            keyId: KEY_ID,
            name: 'ci',
            description: 'now described',
            metadata: { team: 'a' },
            rotationPeriodDays: 30,
          },
        })
        .then([
          {
            type: 'KeyUpdated',
            data: { keyId: KEY_ID, description: 'now described', rotationPeriodDays: 30 },
          },
        ]);
    });

    it('appends nothing when nothing changes', () => {
      spec
        .given([created({ metadata: { a: '1', b: '2' } })])
        .when({ type: 'UpdateKey', data: { keyId: KEY_ID, name: ' ci ', metadata: { b: '2', a: '1' } } })
        .thenNothing();
    });

    it('can clear the rotation period', () => {
      spec
        .given([created({ rotationPeriodDays: 90 })])
        .when({ type: 'UpdateKey', data: { keyId: KEY_ID, rotationPeriodDays: null } })
        .then([{ type: 'KeyUpdated', data: { keyId: KEY_ID, rotationPeriodDays: null } }]);
    });

    it('validates what it is given', () => {
      spec
        .given([created()])
        .when({ type: 'UpdateKey', data: { keyId: KEY_ID, name: '' } })
        .thenThrows('VALIDATION_FAILED');
    });
  });

  describe('ChangeKeyRestrictions', () => {
    it('emits only the restrictions that change, normalised', () => {
      spec
        .given([created({ ipDeny: ['10.1.0.0/16'] })])
        .when({
          type: 'ChangeKeyRestrictions',
          data: {
            keyId: KEY_ID,
            expiresAt: LATER,
            ipAllow: ['::1'],
            ipDeny: ['10.1.0.0/16'],
            rateLimit: { tokensPerMinute: 1000 },
            budget: { amountUsd: '10', period: 'week' },
          },
        })
        .then([
          {
            type: 'KeyRestrictionsChanged',
            data: {
              keyId: KEY_ID,
              expiresAt: LATER,
              ipAllow: ['::1/128'],
              rateLimit: { tokensPerMinute: 1000 },
              budget: { amountUsd: '10', period: 'week' },
            },
          },
        ]);
    });

    it('removes restrictions with null', () => {
      spec
        .given([
          created({
            expiresAt: LATER,
            rateLimit: { tier: 'free' },
            budget: { amountUsd: '1', period: 'day' },
          }),
        ])
        .when({
          type: 'ChangeKeyRestrictions',
          data: { keyId: KEY_ID, expiresAt: null, rateLimit: null, budget: null },
        })
        .then([
          {
            type: 'KeyRestrictionsChanged',
            data: { keyId: KEY_ID, expiresAt: null, rateLimit: null, budget: null },
          },
        ]);
    });

    it('does not re-validate values it does not change (past expiry, tier gone from routes.yaml)', () => {
      const past = '2029-06-01T00:00:00.000Z';
      spec
        .given([created({ expiresAt: past, rateLimit: { tier: 'legacy' } })])
        .when({
          type: 'ChangeKeyRestrictions',
          data: { keyId: KEY_ID, expiresAt: '2029-06-01T02:00:00+02:00', rateLimit: { tier: 'legacy' } },
        })
        .thenNothing();
    });

    it('refuses a new expiry in the past, a bad CIDR, an unknown tier', () => {
      const change = (data: Record<string, unknown>): ApiKeyCommand =>
        ({ type: 'ChangeKeyRestrictions', data: { keyId: KEY_ID, ...data } }) as ApiKeyCommand;
      spec
        .given([created()])
        .when(change({ expiresAt: '2029-01-01T00:00:00Z' }))
        .thenThrows('INVALID_EXPIRY');
      spec
        .given([created()])
        .when(change({ ipAllow: ['1.2.3.4/33'] }))
        .thenThrows('INVALID_CIDR');
      spec
        .given([created()])
        .when(change({ ipDeny: ['10.0.0.1/8'] }))
        .thenThrows('INVALID_CIDR', {
          suggestion: '10.0.0.0/8',
        });
      spec
        .given([created()])
        .when(change({ rateLimit: { tier: 'gold' } }))
        .thenThrows('UNKNOWN_TIER');
      spec
        .given([created()])
        .when(change({ budget: { amountUsd: '-1', period: 'day' } }))
        .thenThrows('VALIDATION_FAILED');
    });

    it('appends nothing when nothing changes', () => {
      spec
        .given([created({ ipAllow: ['10.0.0.0/8'] })])
        .when({
          type: 'ChangeKeyRestrictions',
          data: { keyId: KEY_ID, ipAllow: [' 10.0.0.0/8 '], budget: null },
        })
        .thenNothing();
    });
  });
});
