import type { AggregateEvent, KeyCreatedData } from '@keygate/contracts';
import { evolveKey, secretState, type KeyDocument } from './key-document';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;

const created = (over: Partial<KeyCreatedData> = {}): AggregateEvent<'apiKey'> => ({
  type: 'KeyCreated',
  data: {
    keyId: 'key_1',
    name: 'bot',
    description: '',
    ownerId: 'team',
    environment: 'live',
    hash: 'S1',
    last4: 'abcd',
    groupIds: [],
    metadata: {},
    rotationPeriodDays: null,
    createdAt: at(0),
    expiresAt: null,
    ipAllow: [],
    ipDeny: [],
    rateLimit: null,
    budget: null,
    ...over,
  },
});

const rotated = (
  previousHash: string,
  hash: string,
  rotatedAtMs: number,
  graceMs: number,
): AggregateEvent<'apiKey'> => ({
  type: 'KeyRotated',
  data: {
    keyId: 'key_1',
    hash,
    last4: hash,
    previousHash,
    previousValidUntil: at(rotatedAtMs + graceMs),
    rotatedAt: at(rotatedAtMs),
  },
});

const fold = (events: AggregateEvent<'apiKey'>[]): KeyDocument =>
  events.reduce<KeyDocument | null>((doc, e, i) => evolveKey(doc, e, i + 1), null)!;

const states = (doc: KeyDocument, nowMs: number) =>
  Object.fromEntries(['S1', 'S2', 'S3', 'S4'].map((s) => [s, secretState(doc, s, T0 + nowMs)]));

describe('the rotation chain of a key document', () => {
  it('a second rotation with grace 0 kills the first secret too, whatever grace it had', () => {
    const doc = fold([created(), rotated('S1', 'S2', 0, WEEK), rotated('S2', 'S3', HOUR, 0)]);
    expect(states(doc, HOUR + 1)).toEqual({ S1: 'rotated', S2: 'rotated', S3: 'current', S4: 'rotated' });
  });

  it('only the newest and the one it replaced (until its instant) ever work', () => {
    const two = fold([created(), rotated('S1', 'S2', 0, WEEK)]);
    expect(states(two, HOUR)).toEqual({ S1: 'grace', S2: 'current', S3: 'rotated', S4: 'rotated' });
    expect(states(two, WEEK)).toMatchObject({ S1: 'rotated', S2: 'current' });

    const three = fold([created(), rotated('S1', 'S2', 0, WEEK), rotated('S2', 'S3', HOUR, WEEK)]);
    expect(states(three, 2 * HOUR)).toEqual({ S1: 'rotated', S2: 'grace', S3: 'current', S4: 'rotated' });

    const four = fold([
      created(),
      rotated('S1', 'S2', 0, WEEK),
      rotated('S2', 'S3', HOUR, 0),
      rotated('S3', 'S4', 2 * HOUR, WEEK),
    ]);
    expect(states(four, 3 * HOUR)).toEqual({ S1: 'rotated', S2: 'rotated', S3: 'grace', S4: 'current' });
  });

  it('a grace period ends at its instant exactly', () => {
    const doc = fold([created(), rotated('S1', 'S2', 0, HOUR)]);
    expect(secretState(doc, 'S1', T0 + HOUR - 1)).toBe('grace');
    expect(secretState(doc, 'S1', T0 + HOUR)).toBe('rotated');
  });
});

describe('suspension', () => {
  const suspended = (reason: string) =>
    fold([created(), { type: 'KeySuspended', data: { keyId: 'key_1', reason, suspendedAt: at(1) } }]);

  it("keeps a code, never the admin's free text", () => {
    const doc = suspended('ex-employee, see ticket #4411');
    expect(doc.suspension).toBe('key_suspended');
    expect(JSON.stringify(doc)).not.toContain('ticket');
  });

  it('tells a budget suspension apart', () => {
    expect(suspended('budget exceeded: 0.2 of 0.1 USD spent in the day from x').suspension).toBe(
      'budget_exceeded',
    );
  });

  it('is cleared by a reactivation', () => {
    const doc = evolveKey(
      suspended('x'),
      { type: 'KeyReactivated', data: { keyId: 'key_1', reactivatedAt: at(2) } },
      3,
    );
    expect(doc).toMatchObject({ status: 'active', suspension: null });
  });
});
