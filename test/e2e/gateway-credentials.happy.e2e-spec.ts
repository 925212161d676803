import { api, chat, createKey, eventually, testStack } from '@keygate/testing';

interface Recorded {
  path: string;
  headers: Record<string, string>;
}

// A provider credential added over the management API reaches the gateway encrypted and is used for the
// upstream call; a rotation takes effect without a restart.
describe('managed provider credentials in the gateway', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const body = { model: 'gpt-4o-mini-managed', messages: [{ role: 'user', content: 'hello' }] };
  const lastAuthorization = async () => {
    const res = (await (await fetch(`${stack.mockUrl}/__mock/requests`)).json()) as { data: Recorded[] };
    return res.data[res.data.length - 1].headers.authorization;
  };

  it('calls upstream with the managed secret, follows its rotation and cannot be removed while a route uses it', async () => {
    const { key } = await createKey(stack, { routes: ['gpt-4o-mini-managed'] });
    await eventually(
      () => chat(stack.gatewayUrl, key, body).then((r) => r.status),
      (s) => s === 502,
    );

    const added = await admin<{ id: string; maskedSecret: string }>('POST', '/v1/providers', {
      name: 'openai-prod',
      type: 'openai',
      secret: 'sk-managed-first-0001',
    });
    expect(added.status).toBe(201);
    expect(JSON.stringify(added.body)).not.toContain('sk-managed-first-0001');
    await eventually(
      () => chat(stack.gatewayUrl, key, body).then((r) => r.status),
      (s) => s === 200,
    );
    expect(await lastAuthorization()).toBe('Bearer sk-managed-first-0001');

    expect(
      (await admin('POST', `/v1/providers/${added.body.id}/rotate`, { secret: 'sk-managed-second-0002' }))
        .status,
    ).toBeLessThan(300);
    await eventually(
      async () => {
        await chat(stack.gatewayUrl, key, body);
        return lastAuthorization();
      },
      (auth) => auth === 'Bearer sk-managed-second-0002',
    );

    // routes.yaml names it, so it cannot be removed from under a route.
    const removal = await admin<{ error: { code: string } }>('DELETE', `/v1/providers/${added.body.id}`);
    expect(removal.status).toBe(409);
    expect(removal.body.error.code).toBe('PROVIDER_IN_USE');
  });
});
