import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateApiKey } from '@keygate/contracts';
import { api, chat, createKey, eventually, testStack } from '@keygate/testing';
import { json, keygateCli } from './support/keygate-cli';

interface Key {
  id: string;
  key: string;
  state: string;
  dormantAfterDays: number | null;
}

// Keys that look after themselves, from a terminal: a leak report from a file or stdin, the dormancy policy,
// a key as it was at an instant, and the key a request was served under.
describe('keygate CLI: leak reports, dormancy, as-of', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const { run, home } = keygateCli(stack);

  it('reports the keys in a file as leaked without printing any of them, and on stdin', async () => {
    const [a, b] = await Promise.all(
      [1, 2].map(async () => (await admin<Key>('POST', '/v1/keys', { name: 'cli-leak' })).body),
    );
    const foreign = generateApiKey('live');
    const file = join(home, 'paste.txt');
    writeFileSync(file, `config:\n  OPENAI_API_KEY=${a.key}\n  other=${foreign}, again ${a.key}\n`);
    const res = await run(['keys', 'leaked', file, '--source', 'paste 42']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(a.id);
    expect(res.stdout).toContain('1 revoked, 0 already revoked, 0 left active, 1 not ours');
    for (const s of [a.key, foreign]) expect(res.stdout + res.stderr).not.toContain(s);
    expect((await admin<Key>('GET', `/v1/keys/${a.id}`)).body.state).toBe('revoked');

    const piped = json<{ revoked: number; results: { keyId?: string; outcome: string }[] }>(
      await run(['keys', 'leaked', '--source', 'ci log', '--json'], { stdin: `token ${b.key} ${a.key}` }),
    );
    expect(piped.revoked).toBe(1);
    expect(piped.results.map((r) => [r.keyId, r.outcome])).toEqual([
      [b.id, 'revoked'],
      [a.id, 'already_revoked'],
    ]);

    const none = await run(['keys', 'leaked', '--source', 'x'], { stdin: 'nothing here' });
    expect(none.code).toBe(2);
  });

  it('sets the dormancy policy and shows a key as it was before a change', async () => {
    const created = json<Key>(
      await run(['keys', 'create', '--name', 'cli-dormant', '--dormant-days', '45', '--json']),
    );
    expect(created.dormantAfterDays).toBe(45);
    const before = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 50));
    const never = json<Key>(await run(['keys', 'update', created.id, '--dormant-days', 'never', '--json']));
    expect(never.dormantAfterDays).toBe(0);
    const shown = await run(['keys', 'show', created.id]);
    expect(shown.stdout).toMatch(/dormant after\s+never/);
    const then = await run(['keys', 'show', created.id, '--at', before]);
    expect(then.code).toBe(0);
    expect(then.stdout).toMatch(/dormant after\s+45 days unused/);
    expect(then.stdout).toMatch(/made so by\s+#1 KeyCreated/);
    const reset = json<Key>(await run(['keys', 'update', created.id, '--dormant-days', 'default', '--json']));
    expect(reset.dormantAfterDays).toBeNull();
  });

  it('finds a request by its x-request-id and shows the key as it was when the request arrived', async () => {
    const k = await createKey(stack, { routes: ['gpt-4o-mini'] });
    const served = await chat(stack.gatewayUrl, k.key, {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const requestId = served.headers.get('x-request-id')!;
    expect((await admin('POST', `/v1/keys/${k.id}/revoke`, { reason: 'rotated out' })).status).toBe(200);
    const shown = await eventually(
      () => run(['usage', 'request', requestId]),
      (r) => r.code === 0,
    );
    expect(shown.stdout).toContain(requestId);
    expect(shown.stdout).toContain('The key when the request arrived');
    expect(shown.stdout).toMatch(/state\s+active/);
    expect(shown.stdout).toMatch(/made so by\s+#\d+ Key/);
    expect(shown.stdout).not.toContain(k.key);
    const asJson = json<{ request: { keyId: string }; keyAsOf: { state: string } }>(
      await run(['usage', 'request', requestId, '--json']),
    );
    expect(asJson).toMatchObject({ request: { keyId: k.id }, keyAsOf: { state: 'active' } });
    const missing = await run(['usage', 'request', 'req_nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('REQUEST_NOT_FOUND');
  });
});
