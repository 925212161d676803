import { randomBytes } from 'node:crypto';
import { api, testStack } from '@keygate/testing';

// Concurrent PATCHes of one key that all carry the ETag they read: exactly one wins, every other one gets
// 412 VERSION_CONFLICT and changes nothing (the event store's expected-version append, seen over REST).
describe('PATCH /v1/keys/:id with If-Match under concurrency', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const run = randomBytes(4).toString('hex');

  it('lets one of eight concurrent writers of the same version win; the others get 412', async () => {
    const created = await admin<{ id: string }>('POST', '/v1/keys', {
      name: 'if-match',
      ownerId: `im-${run}`,
    });
    expect(created.status).toBe(201);
    const read = await admin<{ version: number }>('GET', `/v1/keys/${created.body.id}`);
    const etag = read.headers.get('etag');
    expect(etag).toBe('"1"');

    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        admin<{ name: string; version: number; error?: { code: string } }>(
          'PATCH',
          `/v1/keys/${created.body.id}`,
          { name: `writer ${i}`, metadata: { writer: String(i) } },
          { 'if-match': etag! },
        ),
      ),
    );
    const won = results.filter((r) => r.status === 200);
    const lost = results.filter((r) => r.status !== 200);
    expect(won).toHaveLength(1);
    expect(won[0].headers.get('etag')).toBe('"2"');
    expect(lost.map((r) => [r.status, r.body.error?.code])).toEqual(
      Array.from({ length: 7 }, () => [412, 'VERSION_CONFLICT']),
    );

    const after = await admin<{ name: string; metadata: Record<string, string>; version: number }>(
      'GET',
      `/v1/keys/${created.body.id}`,
    );
    expect(after.headers.get('etag')).toBe('"2"');
    expect(after.body).toMatchObject({
      name: won[0].body.name,
      metadata: { writer: won[0].body.name.slice(7) },
    });

    // The loser retries the way a client should: re-read, then PATCH with the new ETag.
    const retry = await admin(
      'PATCH',
      `/v1/keys/${created.body.id}`,
      { name: 'retried' },
      { 'if-match': '"2"' },
    );
    expect(retry.status).toBe(200);
    expect(retry.headers.get('etag')).toBe('"3"');
  });
});
