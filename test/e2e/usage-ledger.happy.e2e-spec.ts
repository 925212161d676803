import { randomBytes } from 'node:crypto';
import Decimal from 'decimal.js';
import OpenAI from 'openai';
import { loadRoutesConfig } from '@keygate/platform';
import { api, eventually, testStack } from '@keygate/testing';

interface Bucket {
  requests: number;
  errors: number;
  errorsByCode: Record<string, number>;
  promptTokens: number;
  completionTokens: number;
  costUsd: string;
}

const sum = (data: Bucket[]) =>
  data.reduce(
    (t, b) => ({
      requests: t.requests + b.requests,
      errors: t.errors + b.errors,
      promptTokens: t.promptTokens + b.promptTokens,
      completionTokens: t.completionTokens + b.completionTokens,
      costUsd: t.costUsd.add(b.costUsd),
    }),
    { requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, costUsd: new Decimal(0) },
  );

// Traffic through the gateway with the real OpenAI SDK (plain, streamed, embeddings, two upstream models, an error)
// ends in the usage ledger exactly as the mock provider reported it: tokens per call, cost in exact decimals from
// routes.yaml prices, errors by code; the same totals by key, owner and group, and in the CSV export. Admin tokens
// issued by key-service work on the usage API.
describe('usage ledger end to end: gateway → Kafka → usage-service', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const usage = api(stack.usageServiceUrl, stack.adminToken);
  const { pricing } = loadRoutesConfig('config/routes.yaml', {});
  const run = randomBytes(4).toString('hex');
  const owner = `team-ledger-${run}`;
  // A formula-looking name: the CSV export must hand it to a spreadsheet as text (OWASP CSV injection).
  const keyName = `=1+1 ledger ${run}`;
  const started = new Date(Date.now() - 60_000).toISOString();

  it('records every call with the usage the provider reported, priced exactly, in every view', async () => {
    const group = await admin<{ id: string }>('POST', '/v1/groups', {
      name: `ledger-${run}`,
      routes: ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small'],
    });
    const key = await admin<{ id: string; key: string }>('POST', '/v1/keys', {
      name: keyName,
      ownerId: owner,
      groupIds: [group.body.id],
    });
    expect(key.status).toBe(201);
    const client = new OpenAI({ apiKey: key.body.key, baseURL: `${stack.gatewayUrl}/v1`, maxRetries: 0 });
    await eventually(
      () =>
        client.models.list().then(
          (m) => m.data.length,
          () => 0,
        ),
      (n) => n === 3,
    );

    // What the provider reported, per upstream model, as the SDK saw it.
    const reported: { model: string; prompt: number; completion: number }[] = [];
    for (const content of [
      'hello there',
      'what is the capital of France',
      'one two three four five six seven',
    ]) {
      const r = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content }],
      });
      reported.push({
        model: 'gpt-4o-mini',
        prompt: r.usage!.prompt_tokens,
        completion: r.usage!.completion_tokens,
      });
    }
    for (const content of ['stream me a reply please', 'and another streamed one']) {
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let final: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) final = chunk.usage ?? final;
      // Streamed calls are priced from the provider's final usage chunk.
      reported.push({
        model: 'gpt-4o-mini',
        prompt: final!.prompt_tokens,
        completion: final!.completion_tokens,
      });
    }
    const big = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'priced higher' }],
    });
    reported.push({
      model: 'gpt-4o',
      prompt: big.usage!.prompt_tokens,
      completion: big.usage!.completion_tokens,
    });
    for (const input of ['embed this', ['and', 'these three']]) {
      const e = await client.embeddings.create({ model: 'text-embedding-3-small', input });
      reported.push({ model: 'text-embedding-3-small', prompt: e.usage.prompt_tokens, completion: 0 });
    }
    const refused = await client.chat.completions
      .create({ model: 'gemini-1.5-flash', messages: [{ role: 'user', content: 'not my route' }] })
      .catch((e: { status?: number; code?: string }) => e);
    expect(refused).toMatchObject({ status: 404, code: 'model_not_found' });

    const expected = {
      requests: reported.length + 1,
      errors: 1,
      promptTokens: reported.reduce((n, r) => n + r.prompt, 0),
      completionTokens: reported.reduce((n, r) => n + r.completion, 0),
      costUsd: reported.reduce(
        (c, r) =>
          c.add(
            new Decimal(pricing[r.model].input)
              .mul(r.prompt)
              .add(new Decimal(pricing[r.model].output).mul(r.completion))
              .div(1e6),
          ),
        new Decimal(0),
      ),
    };
    expect(expected.promptTokens).toBeGreaterThan(0);
    expect(expected.completionTokens).toBeGreaterThan(0);

    const byKey = await eventually(
      () =>
        usage<{ data: Bucket[] }>('GET', `/v1/usage/keys/${key.body.id}?granularity=minute&from=${started}`),
      (r) => r.status === 200 && sum(r.body.data).requests >= expected.requests,
    );
    expect(sum(byKey.body.data)).toEqual(expected);
    expect(byKey.body.data.reduce((n, b) => n + (b.errorsByCode.model_not_found ?? 0), 0)).toBe(1);
    for (const b of byKey.body.data) expect(b.costUsd).toMatch(/^\d+(\.\d+)?$/);

    const summary = async (groupBy: string) =>
      (
        await usage<{ data: (Bucket & Record<string, unknown>)[] }>(
          'GET',
          `/v1/usage/summary?groupBy=${groupBy}&from=${started}`,
        )
      ).body.data;
    const [asKey] = (await summary('key')).filter((r) => r.keyId === key.body.id);
    expect(asKey).toMatchObject({
      name: keyName,
      ownerId: owner,
      requests: expected.requests,
      costUsd: expected.costUsd.toFixed(),
    });
    const [asOwner] = (await summary('owner')).filter((r) => r.ownerId === owner);
    expect(asOwner).toMatchObject({ requests: expected.requests, errorsByCode: { model_not_found: 1 } });
    const [asGroup] = (await summary('group')).filter((r) => r.groupId === group.body.id);
    expect(asGroup).toMatchObject({
      name: `ledger-${run}`,
      requests: expected.requests,
      costUsd: expected.costUsd.toFixed(),
    });
    const models = await summary('model');
    expect(models.map((m) => m.model)).toEqual(
      expect.arrayContaining(['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small']),
    );

    const csv = await fetch(
      `${stack.usageServiceUrl}/v1/usage/export.csv?granularity=day&keyId=${key.body.id}&from=${started}`,
      {
        headers: { authorization: `Bearer ${stack.adminToken}` },
      },
    );
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const [header, ...lines] = (await csv.text()).trim().split('\n');
    expect(header).toBe(
      'period_start,key_id,key_name,owner_id,route,provider,model,requests,errors,prompt_tokens,completion_tokens,cost_usd',
    );
    const rows = lines.map((l) => l.split(','));
    expect(rows.every((r) => r[1] === key.body.id && r[3] === owner)).toBe(true);
    expect(rows.every((r) => r[2] === `'${keyName}`)).toBe(true);
    expect(rows.reduce((n, r) => n + Number(r[7]), 0)).toBe(expected.requests);
    expect(rows.reduce((c, r) => c.add(r[11]), new Decimal(0)).eq(expected.costUsd)).toBe(true);
  });

  it('accepts an auditor token issued by key-service (read only) until it is revoked', async () => {
    const issued = await admin<{ id: string; token: string }>('POST', '/v1/admin-tokens', {
      name: `usage-auditor-${run}`,
      role: 'auditor',
    });
    expect(issued.status).toBe(201);
    const auditor = api(stack.usageServiceUrl, issued.body.token);
    await eventually(
      () => auditor('GET', '/v1/alerts'),
      (r) => r.status === 200,
    );
    expect((await auditor('GET', `/v1/usage/summary?groupBy=owner`)).status).toBe(200);
    const write = await auditor('POST', '/v1/webhooks', {
      url: 'http://127.0.0.1:9/x',
      secret: 'a-long-enough-secret',
    });
    expect(write).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect((await admin('DELETE', `/v1/admin-tokens/${issued.body.id}`)).status).toBe(200);
    await eventually(
      () => auditor('GET', '/v1/alerts'),
      (r) => r.status === 401,
    );
  });
});
