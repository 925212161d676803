import { randomBytes } from 'node:crypto';
import { api, testStack } from '@keygate/testing';

describe('groups: conflicting and invalid changes', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);

  it('lets exactly one of ten concurrent creates of one name win; the others get 409 GROUP_ALREADY_EXISTS', async () => {
    const name = `race-${randomBytes(4).toString('hex')}`;
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        admin<{ error?: { code: string } }>('POST', '/v1/groups', { name, routes: [] }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.body.error?.code).toBe('GROUP_ALREADY_EXISTS');
    }
  });

  it('rejects a route that routes.yaml does not define, and a group still used by keys cannot be deleted', async () => {
    const bad = await admin<{ error: { code: string } }>('POST', '/v1/groups', {
      name: `g-${Date.now()}`,
      routes: ['nope'],
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe('UNKNOWN_ROUTE');

    const group = await admin<{ id: string }>('POST', '/v1/groups', {
      name: `used-${Date.now()}`,
      routes: ['gpt-4o-mini'],
    });
    const key = await admin('POST', '/v1/keys', { name: 'k', ownerId: 'o', groupIds: [group.body.id] });
    expect(key.status).toBe(201);
    const del = await admin<{ error: { code: string } }>('DELETE', `/v1/groups/${group.body.id}`);
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe('GROUP_IN_USE');
  });

  it('refuses a group budget as a key budget is refused; sets, shows and removes a valid one, in the history', async () => {
    const name = `budget-${randomBytes(4).toString('hex')}`;
    for (const budget of [
      { amountUsd: 'ten', period: 'day' },
      { amountUsd: '0', period: 'day' },
      { amountUsd: '5', period: 'year' },
      { amountUsd: '5' },
      { amountUsd: '5', period: 'day', extra: 1 },
    ]) {
      const bad = await admin<{ error: { code: string } }>('POST', '/v1/groups', { name, budget });
      expect({ budget, status: bad.status, code: bad.body.error.code }).toEqual({
        budget,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }

    const created = await admin<any>('POST', '/v1/groups', {
      name,
      routes: ['gpt-4o-mini'],
      budget: { amountUsd: '250.00', period: 'month' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(created.body.budget).toEqual({ amountUsd: '250.00', period: 'month' });
    expect((await admin<any>('GET', `/v1/groups/${id}`)).body.budget).toEqual({
      amountUsd: '250.00',
      period: 'month',
    });
    const same = await admin<any>('PATCH', `/v1/groups/${id}`, {
      budget: { amountUsd: '250.00', period: 'month' },
    });
    expect(same.body.version).toBe(1);
    const badPatch = await admin<any>('PATCH', `/v1/groups/${id}`, {
      budget: { amountUsd: '-1', period: 'day' },
    });
    expect(badPatch.status).toBe(400);
    const removed = await admin<any>('PATCH', `/v1/groups/${id}`, { budget: null });
    expect(removed.body).toMatchObject({ budget: null, version: 2 });

    const history = await admin<any>('GET', `/v1/audit?aggregateId=${id}`);
    expect(history.body.data.map((e: any) => [e.type, e.data.budget])).toEqual([
      ['GroupCreated', { amountUsd: '250.00', period: 'month' }],
      ['GroupUpdated', null],
    ]);
  });
});
