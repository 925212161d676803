import type { GroupResource } from '../groups/groups.service';
import { budgetInput, groupMessage, rateLimitInput, settable } from './key-service.messages';

// The gRPC ↔ REST translations of issue 19's fields: per-route limits in RateLimit, a group's budget.
describe('key-service gRPC messages', () => {
  it('reads RateLimit.routes into rateLimit.routes, an empty map as none', () => {
    expect(
      rateLimitInput({
        requests_per_minute: 100,
        routes: {
          'gpt-4o': { requests_per_minute: 10 },
          'gpt-4o-mini': { tokens_per_minute: 900 },
        },
      }),
    ).toEqual({
      requestsPerMinute: 100,
      routes: { 'gpt-4o': { requestsPerMinute: 10 }, 'gpt-4o-mini': { tokensPerMinute: 900 } },
    });
    expect(rateLimitInput({ requests_per_minute: 5, routes: {} })).toEqual({ requestsPerMinute: 5 });
  });

  it('answers a group with its budget, absent when it has none', () => {
    const group: GroupResource = {
      id: 'grp_1',
      name: 'g',
      description: '',
      routes: [],
      budget: { amountUsd: '250.00', period: 'month' },
      createdAt: '2030-01-01T00:00:00.000Z',
      updatedAt: '2030-01-01T00:00:00.000Z',
      version: 1,
    };
    expect(groupMessage(group).budget).toEqual({ amount_usd: '250.00', period: 'month' });
    expect(groupMessage({ ...group, budget: null }).budget).toBeUndefined();
  });

  it('reads a group budget change: set, cleared, or both refused', () => {
    const budget = budgetInput({ amount_usd: '1', period: 'day' });
    expect(settable(budget, undefined, 'budget')).toEqual({ amountUsd: '1', period: 'day' });
    expect(settable(undefined, true, 'budget')).toBeNull();
    expect(() => settable(budget, true, 'budget')).toThrow('budget and clear_budget are mutually exclusive');
  });
});
