import { parseRoutesConfig } from '@keygate/platform';
import { effectiveLimit } from './rate-limiter';

const routes = parseRoutesConfig(`
providers:
  p: { type: openai, baseUrl: http://127.0.0.1:1, credential: env:X }
routes:
  m: { targets: [{ provider: p, model: m }] }
tiers:
  free: { requestsPerMinute: 60, tokensPerMinute: 1000 }
`);

describe('effective rate limit (fail closed)', () => {
  it("takes a tier's numbers, the key's own numbers first", () => {
    expect(effectiveLimit({ tier: 'free' }, routes.tiers)).toEqual({
      requestsPerMinute: 60,
      tokensPerMinute: 1000,
    });
    expect(effectiveLimit({ tier: 'free', requestsPerMinute: 5 }, routes.tiers)).toEqual({
      requestsPerMinute: 5,
      tokensPerMinute: 1000,
    });
    expect(effectiveLimit(null, routes.tiers)).toBeNull();
    expect(effectiveLimit({ maxConcurrentRequests: 3 }, routes.tiers)).toEqual({
      requestsPerMinute: 0,
      tokensPerMinute: 0,
      maxConcurrentRequests: 3,
    });
  });

  it.each(['gone', 'constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'a tier %s that is not configured is unknown, never unlimited',
    (tier) => {
      expect(effectiveLimit({ tier }, routes.tiers)).toBeUndefined();
      expect(effectiveLimit({ tier, requestsPerMinute: 5 }, routes.tiers)).toBeUndefined();
    },
  );

  it('route and provider names are looked up as own names only', () => {
    for (const name of ['constructor', '__proto__', 'toString'])
      for (const table of [routes.routes, routes.providers, routes.tiers, routes.pricing])
        expect(table[name]).toBeUndefined();
    expect(routes.routes.m.name).toBe('m');
  });
});
