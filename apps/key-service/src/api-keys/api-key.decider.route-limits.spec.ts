import type { RateLimit } from '@keygate/contracts';
import { apiKeyDecider, type ApiKeyCommand } from './api-key.decider';
import { KEY_ID, NOW, context, createKey, created, spec } from './api-key.decider.fixtures';
import { requireRouteLimits } from './api-key.decider.validation';

const change = (rateLimit: RateLimit | null): ApiKeyCommand => ({
  type: 'ChangeKeyRestrictions',
  data: { keyId: KEY_ID, rateLimit },
});

// The refusal's message: what an admin reads in the 400/INVALID_ARGUMENT answer.
const refusal = (run: () => unknown): string => {
  try {
    run();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('api key decider: per-route limits (rateLimit.routes)', () => {
  it('creates a key with limits on some of its routes, on top of its own', () => {
    const rateLimit = {
      requestsPerMinute: 100,
      routes: { 'gpt-4o': { requestsPerMinute: 10 }, 'gpt-4o-mini': { tokensPerMinute: 5000 } },
    };
    spec
      .given([])
      .when(createKey({ rateLimit }))
      .then([created({ rateLimit, createdAt: NOW.toISOString() })]);
  });

  it('accepts per-route limits alone, and takes an empty map for none', () => {
    const rateLimit = { routes: { 'gpt-4o': { requestsPerMinute: 10, tokensPerMinute: 20 } } };
    spec
      .given([])
      .when(createKey({ rateLimit }))
      .then([created({ rateLimit, createdAt: NOW.toISOString() })]);
    spec
      .given([created({ rateLimit: { requestsPerMinute: 5 } })])
      .when(change({ requestsPerMinute: 5, routes: {} }))
      .thenNothing();
  });

  it('changes and removes per-route limits', () => {
    spec
      .given([created({ rateLimit: { requestsPerMinute: 5 } })])
      .when(change({ requestsPerMinute: 5, routes: { 'gpt-4o': { requestsPerMinute: 1 } } }))
      .then([
        {
          type: 'KeyRestrictionsChanged',
          data: {
            keyId: KEY_ID,
            rateLimit: { requestsPerMinute: 5, routes: { 'gpt-4o': { requestsPerMinute: 1 } } },
          },
        },
      ]);
    spec
      .given([
        created({ rateLimit: { requestsPerMinute: 5, routes: { 'gpt-4o': { requestsPerMinute: 1 } } } }),
      ])
      .when(change({ requestsPerMinute: 5 }))
      .then([
        { type: 'KeyRestrictionsChanged', data: { keyId: KEY_ID, rateLimit: { requestsPerMinute: 5 } } },
      ]);
  });

  it('refuses a route routes.yaml does not know, naming it (UNKNOWN_ROUTE)', () => {
    spec
      .given([])
      .when(
        createKey({
          rateLimit: { routes: { 'gpt-4o': { requestsPerMinute: 1 }, 'gpt-9': { requestsPerMinute: 1 } } },
        }),
      )
      .thenThrows('UNKNOWN_ROUTE', { routes: ['gpt-9'] });
  });

  it('keeps a limit on a route since removed from routes.yaml through an unrelated change', () => {
    const retired = { 'retired-route': { requestsPerMinute: 3 } };
    spec
      .given([created({ rateLimit: { requestsPerMinute: 5, routes: retired } })])
      .when(change({ requestsPerMinute: 6, routes: retired }))
      .then([
        {
          type: 'KeyRestrictionsChanged',
          data: { keyId: KEY_ID, rateLimit: { requestsPerMinute: 6, routes: retired } },
        },
      ]);
    spec
      .given([created({ rateLimit: { requestsPerMinute: 5, routes: retired } })])
      .when(change({ requestsPerMinute: 5, routes: { ...retired, 'other-gone': { requestsPerMinute: 1 } } }))
      .thenThrows('UNKNOWN_ROUTE', { routes: ['other-gone'] });
  });

  it.each<[string, unknown, RegExp]>([
    [
      'an entry without a number',
      { 'gpt-4o': {} },
      /rateLimit\.routes\.gpt-4o needs requestsPerMinute or tokensPerMinute/,
    ],
    [
      'an unknown field',
      { 'gpt-4o': { requestsPerMinute: 1, rpm: 2 } },
      /rateLimit\.routes\.gpt-4o has unknown fields rpm/,
    ],
    [
      'a zero',
      { 'gpt-4o': { requestsPerMinute: 0 } },
      /requestsPerMinute must be an integer from 1 to 10000000/,
    ],
    [
      'a fraction',
      { 'gpt-4o': { tokensPerMinute: 1.5 } },
      /tokensPerMinute must be an integer from 1 to 1000000000/,
    ],
    ['too many requests per minute', { 'gpt-4o': { requestsPerMinute: 10_000_001 } }, /from 1 to 10000000/],
    ['a string number', { 'gpt-4o': { requestsPerMinute: '5' } }, /must be an integer/],
    ['an entry that is not an object', { 'gpt-4o': 5 }, /rateLimit\.routes\.gpt-4o must be an object/],
    ['a list instead of a map', [{ 'gpt-4o': { requestsPerMinute: 1 } }], /must be an object of route name/],
    ['an empty route name', { '': { requestsPerMinute: 1 } }, /route names must be 1-128 characters/],
    [
      'more than 50 routes',
      Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`r${i}`, { requestsPerMinute: 1 }])),
      /must have at most 50 routes/,
    ],
  ])('refuses %s with VALIDATION_FAILED and says why', (_label, routes, message) => {
    spec
      .given([])
      .when(createKey({ rateLimit: { routes } as RateLimit }))
      .thenThrows('VALIDATION_FAILED');
    expect(refusal(() => requireRouteLimits(routes))).toMatch(message);
    expect(
      refusal(() =>
        apiKeyDecider.decide(
          createKey({ rateLimit: { routes } as RateLimit }),
          apiKeyDecider.initialState(),
          context(),
        ),
      ),
    ).toMatch(message);
  });

  it('allows 50 routes', () => {
    const routes = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`r${i}`, { requestsPerMinute: 1 }]),
    );
    expect(Object.keys(requireRouteLimits(routes))).toHaveLength(50);
  });
});
