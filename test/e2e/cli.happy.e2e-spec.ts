import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { api, eventually, expectedChatCompletion, testStack, waitForGateway } from '@keygate/testing';
import { json, keygateCli, type CliResult } from './support/keygate-cli';

// An administrator's (or a CI job's) session with the built `keygate` CLI against the running services: a key
// saved to a .pak file serves the OpenAI SDK through the gateway via `keygate env`; every change the CLI makes
// is checked through the API; and the plaintext key is printed only by create/rotate without --save.
describe('keygate CLI: the key lifecycle from a terminal', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const { run, home } = keygateCli(stack);
  const tag = randomBytes(4).toString('hex');
  const owner = `team-cli-${tag}`;
  const outputs: { args: string[]; result: CliResult }[] = [];
  const keygate = async (...args: string[]): Promise<CliResult> => {
    const result = await run(args);
    outputs.push({ args, result });
    return result;
  };

  it('creates a key into a .pak file, serves it through `keygate env` and the OpenAI SDK, then lists, shows, updates, rotates, suspends, revokes and deletes it', async () => {
    const group = json<any>(
      await keygate('groups', 'create', '--name', `cli-${tag}`, '--route', 'gpt-4o-mini', '--json'),
    );
    expect(group).toMatchObject({ id: expect.stringMatching(/^grp_/), routes: ['gpt-4o-mini'] });

    const pakPath = join(home, 'billing.pak');
    const created = json<any>(
      await keygate(
        'keys',
        'create',
        '--name',
        `billing-${tag}`,
        '--owner',
        owner,
        '--group',
        group.id,
        '--budget',
        '25/month',
        '--expires',
        '90d',
        '--metadata',
        'app=billing',
        '--save',
        pakPath,
        '--json',
      ),
    );
    expect(created).toMatchObject({
      id: expect.stringMatching(/^key_/),
      name: `billing-${tag}`,
      savedTo: [pakPath],
    });
    expect(created.key).toBeUndefined();
    expect(statSync(pakPath).mode & 0o777).toBe(0o600);
    const pak = JSON.parse(readFileSync(pakPath, 'utf8'));
    expect(pak).toEqual({
      format: 'keygate-key/1',
      id: created.id,
      name: `billing-${tag}`,
      environment: 'live',
      key: expect.stringMatching(/^kg_live_[0-9A-Za-z]{49}$/),
      baseUrl: `${stack.gatewayUrl}/v1`,
      createdAt: created.createdAt,
      expiresAt: created.expiresAt,
    });
    expect(created.maskedKey).toBe(`kg_live_…${pak.key.slice(-4)}`);

    // The human form of --save prints the path and the masked key, not the key.
    const humanPak = join(home, 'second.pak');
    const human = await keygate(
      'keys',
      'create',
      '--name',
      `second-${tag}`,
      '--owner',
      owner,
      '--save',
      humanPak,
    );
    expect(human.code).toBe(0);
    const secondKey = JSON.parse(readFileSync(humanPak, 'utf8')).key as string;
    expect(human.stdout).toBe(
      `kg_live_…${secondKey.slice(-4)} (${JSON.parse(readFileSync(humanPak, 'utf8')).id}) saved to ${humanPak} (mode 0600)\n`,
    );

    // eval "$(keygate env billing.pak)", then the OpenAI SDK reads OPENAI_API_KEY / OPENAI_BASE_URL.
    const env = await keygate('env', pakPath);
    expect(env.code).toBe(0);
    const evaluated = execFileSync(
      'sh',
      ['-c', `eval "$1"; printf '%s\\n%s' "$OPENAI_API_KEY" "$OPENAI_BASE_URL"`, 'sh', env.stdout],
      {
        encoding: 'utf8',
      },
    ).split('\n');
    expect(evaluated).toEqual([pak.key, `${stack.gatewayUrl}/v1`]);
    await waitForGateway(stack.gatewayUrl, pak.key);
    const client = new OpenAI({ apiKey: evaluated[0], baseURL: evaluated[1], maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: `hello from the cli ${tag}` }];
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(completion.choices[0].message.content).toBe(
      expectedChatCompletion({ model: 'gpt-4o-mini', messages }).content,
    );

    // list (JSON and table) and show, checked against the API
    const listed = json<any>(await keygate('keys', 'list', '--owner', owner, '--json'));
    expect(listed.data.map((k: { id: string }) => k.id).sort()).toEqual(
      (await admin<any>('GET', `/v1/keys?ownerId=${owner}`)).body.data
        .map((k: { id: string }) => k.id)
        .sort(),
    );
    const table = await keygate('keys', 'list', '--owner', owner);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+ENV\s+STATE\s+OWNER\s+KEY/);
    expect(table.stdout).toContain(`${created.id}  billing-${tag}`);
    expect(table.stdout).toContain(created.maskedKey);
    const shown = json<any>(await keygate('keys', 'show', created.id, '--json'));
    expect(shown).toEqual((await admin<any>('GET', `/v1/keys/${created.id}`)).body);
    expect(shown).toMatchObject({
      budget: { amountUsd: '25', period: 'month' },
      metadata: { app: 'billing' },
    });
    expect((await keygate('keys', 'show', created.id)).stdout).toMatch(/^routes\s+gpt-4o-mini$/m);

    // update: only what is given changes; --rpm keeps the rest of the rate limit; If-Match from the CLI's GET
    json(await keygate('keys', 'update', created.id, '--tier', 'free', '--json'));
    const updated = json<any>(
      await keygate(
        'keys',
        'update',
        created.id,
        '--name',
        `billing-v2-${tag}`,
        '--rpm',
        '120',
        '--budget',
        'none',
        '--ip-allow',
        '10.0.0.0/8',
        '--ip-allow',
        '127.0.0.1/32',
        '--rotation-days',
        '30',
        '--json',
      ),
    );
    const afterUpdate = (await admin<any>('GET', `/v1/keys/${created.id}`)).body;
    expect(updated).toEqual(afterUpdate);
    expect(afterUpdate).toMatchObject({
      name: `billing-v2-${tag}`,
      rateLimit: { tier: 'free', requestsPerMinute: 120 },
      budget: null,
      ipAllow: ['10.0.0.0/8', '127.0.0.1/32'],
      rotationPeriodDays: 30,
      metadata: { app: 'billing' },
    });

    // rotate without --save: the new key is printed, once; the API shows its last 4
    const rotated = json<any>(await keygate('keys', 'rotate', created.id, '--grace', '60', '--json'));
    expect(rotated.key).toMatch(/^kg_live_/);
    expect(rotated.key).not.toBe(pak.key);
    expect((await admin<any>('GET', `/v1/keys/${created.id}`)).body.maskedKey).toBe(
      `kg_live_…${rotated.key.slice(-4)}`,
    );
    // rotate --save replaces the .pak file with the newest secret
    const resaved = json<any>(await keygate('keys', 'rotate', created.id, '--save', pakPath, '--json'));
    const newest = JSON.parse(readFileSync(pakPath, 'utf8')).key as string;
    expect(resaved.key).toBeUndefined();
    expect((await admin<any>('GET', `/v1/keys/${created.id}`)).body.maskedKey).toBe(
      `kg_live_…${newest.slice(-4)}`,
    );

    expect((await keygate('keys', 'suspend', created.id, '--reason', 'cli test')).stdout).toBe(
      `${created.id} is suspended\n`,
    );
    expect((await admin<any>('GET', `/v1/keys/${created.id}`)).body.state).toBe('suspended');
    expect(json<any>(await keygate('keys', 'reactivate', created.id, '--json')).state).toBe('active');
    expect((await admin<any>('GET', `/v1/keys/${created.id}`)).body.state).toBe('active');
    const revoked = json<any>(await keygate('keys', 'revoke', created.id, '--reason', 'leaked', '--json'));
    expect(revoked.state).toBe('revoked');
    expect((await admin<any>('GET', `/v1/keys/${created.id}`)).body.state).toBe('revoked');

    const history = json<any>(await keygate('keys', 'history', created.id, '--json'));
    expect(history.data.map((e: { type: string }) => e.type)).toEqual(
      (await admin<any>('GET', `/v1/audit?aggregateId=${created.id}`)).body.data.map(
        (e: { type: string }) => e.type,
      ),
    );
    expect(history.data.at(-1)).toMatchObject({ type: 'KeyRevoked', actor: 'bootstrap' });
    expect((await keygate('audit', '--aggregate', created.id)).stdout).toMatch(/KeyRevoked\s+bootstrap/);

    expect((await keygate('keys', 'delete', created.id)).stdout).toBe(`deleted ${created.id}\n`);
    expect((await admin('GET', `/v1/keys/${created.id}`)).status).toBe(404);

    // Usage of the call made above, from the ledger.
    const usage = await eventually(
      async () => json<any>(await keygate('usage', 'key', created.id, '--granularity', 'day', '--json')),
      (u) => u.data.reduce((n: number, b: { requests: number }) => n + b.requests, 0) === 1,
    );
    expect(usage.data[0]).toMatchObject({ requests: 1, errors: 0, costUsd: expect.any(String) });
    const summary = json<any>(await keygate('usage', 'summary', '--group-by', 'owner', '--json'));
    expect(summary.data).toEqual(
      expect.arrayContaining([expect.objectContaining({ ownerId: owner, requests: 1 })]),
    );
    const csv = await keygate('usage', 'export', '--key', created.id, '--granularity', 'day');
    expect(csv.stdout.split('\n')[0]).toBe(
      'period_start,key_id,key_name,owner_id,route,provider,model,requests,errors,prompt_tokens,completion_tokens,cost_usd',
    );
    expect(csv.stdout).toContain(`,${created.id},`);

    // The plaintext keys: in the .pak files, in `env` (its purpose), in rotate without --save — and nowhere else.
    for (const { args, result } of outputs) {
      const text = result.stdout + result.stderr;
      if (args[0] !== 'env') for (const k of [pak.key, secondKey, newest]) expect(text).not.toContain(k);
      if (!(args[1] === 'rotate' && !args.includes('--save'))) expect(text).not.toContain(rotated.key);
      expect(text).not.toContain(stack.adminToken);
    }
  });

  it('prints a created key once when not saving it, in text and JSON', async () => {
    const text = await keygate(
      'keys',
      'create',
      '--name',
      `printed-${tag}`,
      '--owner',
      owner,
      '--environment',
      'test',
    );
    expect(text.code).toBe(0);
    const key = /^key\s+(kg_test_[0-9A-Za-z]{49})$/m.exec(text.stdout)?.[1];
    expect(key).toBeDefined();
    expect(text.stderr).toContain('shown once');
    const id = /^id\s+(key_\S+)$/m.exec(text.stdout)?.[1];
    expect((await admin<any>('GET', `/v1/keys/${id}`)).body.maskedKey).toBe(`kg_test_…${key!.slice(-4)}`);
    const asJson = json<any>(
      await keygate('keys', 'create', '--name', `printed-json-${tag}`, '--owner', owner, '--json'),
    );
    expect(asJson.key).toMatch(/^kg_live_/);
    // ...and `show`/`list` never print it again
    const later = await keygate('keys', 'list', '--owner', owner, '--all', '--json');
    expect(later.stdout).not.toContain(key);
    expect(later.stdout).not.toContain(asJson.key);
  });

  it('writes a dotenv file with --env-file', async () => {
    const envFile = join(home, `.env-${tag}`);
    const res = json<any>(
      await keygate(
        'keys',
        'create',
        '--name',
        `dotenv-${tag}`,
        '--owner',
        owner,
        '--env-file',
        envFile,
        '--json',
      ),
    );
    expect(res.key).toBeUndefined();
    const lines = readFileSync(envFile, 'utf8').split('\n');
    expect(lines[0]).toMatch(/^OPENAI_API_KEY=kg_live_[0-9A-Za-z]{49}$/);
    expect(lines[1]).toBe(`OPENAI_BASE_URL=${stack.gatewayUrl}/v1`);
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
  });

  it('manages groups, routes, providers and reads the hygiene reports', async () => {
    const routes = json<any>(await keygate('routes', '--json'));
    expect(routes).toEqual((await admin<any>('GET', '/v1/routes')).body);
    expect((await keygate('routes')).stdout).toMatch(
      /^gpt-4o-mini\s+openai-main:gpt-4o-mini → azure-eu:gpt-4o-mini$/m,
    );

    const group = json<any>(
      await keygate('groups', 'create', '--name', `grp-${tag}`, '--description', 'ops', '--json'),
    );
    const changed = json<any>(
      await keygate('groups', 'update', group.id, '--route', 'gpt-4o', '--route', 'gpt-4o-mini', '--json'),
    );
    expect((await admin<any>('GET', `/v1/groups/${group.id}`)).body).toEqual(changed);
    expect(changed.routes).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(
      json<any>(await keygate('groups', 'list', '--all', '--json')).data.map((g: { id: string }) => g.id),
    ).toContain(group.id);
    expect((await keygate('groups', 'delete', group.id)).code).toBe(0);
    expect((await admin('GET', `/v1/groups/${group.id}`)).status).toBe(404);

    // Provider secrets: from stdin only, never echoed.
    const secret = `sk-cli-${randomBytes(12).toString('hex')}`;
    const added = await run(
      [
        'providers',
        'add',
        '--name',
        `openai-cli-${tag}`,
        '--type',
        'openai',
        '--base-url',
        `${stack.mockUrl}/v1`,
        '--json',
      ],
      { stdin: `${secret}\n` },
    );
    const provider = json<any>(added);
    expect(provider).toMatchObject({ name: `openai-cli-${tag}`, maskedSecret: `…${secret.slice(-4)}` });
    expect(json<any>(await keygate('providers', 'test', provider.id, '--json'))).toMatchObject({
      ok: true,
      status: 200,
    });
    const next = `sk-cli-${randomBytes(12).toString('hex')}`;
    const rotated = json<any>(await run(['providers', 'rotate', provider.id, '--json'], { stdin: next }));
    expect(rotated.maskedSecret).toBe(`…${next.slice(-4)}`);
    const listed = await keygate('providers', 'list', '--all');
    expect(listed.stdout).toMatch(
      new RegExp(`${provider.id}\\s+openai-cli-${tag}\\s+openai\\s+…${next.slice(-4)}`),
    );
    expect((await keygate('providers', 'remove', provider.id)).code).toBe(0);
    for (const r of [added, rotated, listed]) expect(JSON.stringify(r)).not.toContain(secret);

    expect(json<any>(await keygate('unused', '--days', '1', '--json'))).toMatchObject({
      data: expect.any(Array),
    });
    expect(json<any>(await keygate('stale', '--json'))).toMatchObject({ data: expect.any(Array) });
    expect(json<any>(await keygate('alerts', 'list', '--json'))).toMatchObject({ data: expect.any(Array) });
    expect((await keygate('keys', 'list', '--owner', owner, '--unused-days', '1', '--json')).code).toBe(0);
  });
});
