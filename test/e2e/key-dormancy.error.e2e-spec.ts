import { api, testStack } from '@keygate/testing';

interface Key {
  id: string;
  dormantAfterDays: number | null;
  version: number;
}

// A key's dormancy policy is a key field like the others: validated the same way, kept in its history.
describe('dormancy policy on a key', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);

  it('is set, changed and cleared with coded errors for bad values that change nothing', async () => {
    const created = await admin<Key>('POST', '/v1/keys', { name: 'dormancy', dormantAfterDays: 45 });
    expect(created.status).toBe(201);
    expect(created.body.dormantAfterDays).toBe(45);
    const { id } = created.body;

    for (const bad of [-1, 1.5, 3651, '30']) {
      const res = await admin<{ error: { code: string } }>('PATCH', `/v1/keys/${id}`, {
        dormantAfterDays: bad,
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    const refused = await admin<{ error: { code: string } }>('POST', '/v1/keys', {
      name: 'dormancy',
      dormantAfterDays: -5,
    });
    expect(refused.status).toBe(400);
    expect((await admin<Key>('GET', `/v1/keys/${id}`)).body).toMatchObject({
      dormantAfterDays: 45,
      version: 1,
    });

    expect((await admin<Key>('PATCH', `/v1/keys/${id}`, { dormantAfterDays: 0 })).body.dormantAfterDays).toBe(
      0,
    );
    expect(
      (await admin<Key>('PATCH', `/v1/keys/${id}`, { dormantAfterDays: null })).body.dormantAfterDays,
    ).toBe(null);
    const history = await admin<{ data: { type: string; data: Record<string, unknown> }[] }>(
      'GET',
      `/v1/audit?aggregateId=${id}&type=KeyUpdated`,
    );
    expect(history.body.data.map((e) => e.data.dormantAfterDays)).toEqual([0, null]);
  });
});
