import OpenAI from 'openai';
import { api, eventually, expectedChatCompletion, testStack } from '@keygate/testing';

// The walking skeleton end to end: create a key → it reaches the gateway through the outbox, Kafka and the
// Redis projection → a chat completion (plain and streamed) through the real OpenAI SDK → usage counted in
// the ledger → revoke → the next call is refused.
describe('thin slice: key → gateway → provider → ledger → revoke', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const usage = api(stack.usageServiceUrl, stack.adminToken);

  it('serves a created key, counts its usage and stops it on revoke', async () => {
    const group = await admin('POST', '/v1/groups', {
      name: `thin-slice-${Date.now()}`,
      routes: ['gpt-4o-mini'],
    });
    expect(group.status).toBe(201);
    const created = await admin<{ id: string; key: string; maskedKey: string; accessibleRoutes: string[] }>(
      'POST',
      '/v1/keys',
      {
        name: 'thin slice',
        ownerId: 'team-e2e',
        groupIds: [group.body.id],
      },
    );
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^kg_live_[0-9A-Za-z]{49}$/);
    expect(created.body.maskedKey).toBe(`kg_live_…${created.body.key.slice(-4)}`);
    expect(created.body.accessibleRoutes).toEqual(['gpt-4o-mini']);

    const client = new OpenAI({ apiKey: created.body.key, baseURL: `${stack.gatewayUrl}/v1`, maxRetries: 0 });
    const question = 'what is the capital of France';
    const messages = [{ role: 'user' as const, content: question }];
    const expected = expectedChatCompletion({ model: 'gpt-4o-mini', messages });
    // The key reaches the gateway asynchronously (outbox → Kafka → Redis projection).
    const completion = await eventually(
      () =>
        client.chat.completions.create({ model: 'gpt-4o-mini', messages }).catch((e: unknown) => e as Error),
      (r) => !(r instanceof Error),
    );
    if (completion instanceof Error) throw completion;
    expect(completion.choices[0].message.content).toBe(expected.content);
    expect(completion.usage).toMatchObject({
      prompt_tokens: expected.promptTokens,
      completion_tokens: expected.completionTokens,
    });

    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    expect(streamed).toBe(expected.content);

    const ledger = await eventually(
      () =>
        usage<{
          data: { requests: number; promptTokens: number; completionTokens: number; costUsd: string }[];
        }>('GET', `/v1/usage/keys/${created.body.id}?granularity=day`),
      (r) => r.status === 200 && r.body.data.reduce((n, b) => n + b.requests, 0) >= 2,
    );
    const total = ledger.body.data.reduce(
      (t, b) => ({
        requests: t.requests + b.requests,
        prompt: t.prompt + b.promptTokens,
        completion: t.completion + b.completionTokens,
      }),
      { requests: 0, prompt: 0, completion: 0 },
    );
    expect(total).toEqual({
      requests: 2,
      prompt: 2 * expected.promptTokens,
      completion: 2 * expected.completionTokens,
    });
    // routes.yaml prices gpt-4o-mini at 0.15 (input) and 0.60 (output) USD per 1M tokens
    const cost = (2 * expected.promptTokens * 0.15 + 2 * expected.completionTokens * 0.6) / 1e6;
    expect(Number(ledger.body.data[0].costUsd)).toBeCloseTo(cost, 12);

    const revoked = await admin('POST', `/v1/keys/${created.body.id}/revoke`, { reason: 'leaked in a test' });
    expect(revoked.status).toBe(200);
    expect(revoked.body.state).toBe('revoked');
    const refused = await eventually(
      () =>
        client.chat.completions
          .create({ model: 'gpt-4o-mini', messages })
          .then(() => null)
          .catch((e: unknown) => e as { status?: number; code?: string }),
      (e) => e !== null,
    );
    expect(refused).toMatchObject({ status: 401, code: 'key_revoked' });
  });
});
