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
});
