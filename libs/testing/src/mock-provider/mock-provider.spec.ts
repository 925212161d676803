import { request as httpRequest, Agent } from 'node:http';
import OpenAI, { AzureOpenAI } from 'openai';
import {
  countTokens,
  expectedChatCompletion,
  expectedGeminiResponse,
  geminiPromptTokens,
  mockEmbedding,
  startMockProvider,
  type MockProvider,
} from './mock-provider';

let mock: MockProvider;
let openai: OpenAI;
let azure: AzureOpenAI;

beforeAll(async () => {
  mock = await startMockProvider({});
  // maxRetries 0: the SDK would otherwise retry scripted 429/5xx on its own.
  openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${mock.url}/v1`, maxRetries: 0 });
  azure = new AzureOpenAI({
    apiKey: 'azure-key',
    endpoint: mock.url,
    apiVersion: '2024-10-21',
    deployment: 'gpt-4o-mini-eu',
    maxRetries: 0,
  });
});
afterEach(() => mock.reset());
afterAll(() => mock.close());

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Tell me   about the\nweather in Paris today please' },
];

describe('token rules', () => {
  it('counts whitespace-separated words', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('  hello  big\nworld ')).toBe(3);
  });

  it('computes the expected chat answer', () => {
    const exp = expectedChatCompletion({ model: 'gpt-4o-mini', messages });
    expect(exp.content).toBe('mock reply to: Tell me about the weather');
    expect(exp.promptTokens).toBe(3 + 1 + 9 + 1);
    expect(exp.completionTokens).toBe(8);
    expect(exp.finishReason).toBe('stop');
    expect(expectedChatCompletion({ model: 'gpt-4o-mini', messages, max_tokens: 2 })).toMatchObject({
      content: 'mock reply',
      completionTokens: 2,
      finishReason: 'length',
    });
    expect(expectedChatCompletion({ model: 'mock-words-40', messages }).completionTokens).toBe(40);
  });
});

describe('OpenAI', () => {
  it('answers a chat completion with deterministic usage', async () => {
    const res = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
    const exp = expectedChatCompletion({ model: 'gpt-4o-mini', messages });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-[0-9A-Za-z]{29}$/);
    expect(res.model).toBe('gpt-4o-mini');
    expect(res.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop' });
    expect(res.choices[0].message).toMatchObject({ role: 'assistant', content: exp.content });
    expect(res.usage).toMatchObject({
      prompt_tokens: exp.promptTokens,
      completion_tokens: exp.completionTokens,
      total_tokens: exp.totalTokens,
    });
    const rec = mock.requests[0];
    expect(rec).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      provider: 'openai',
      model: 'gpt-4o-mini',
    });
    expect(rec.headers.authorization).toBe('Bearer sk-test');
    expect(rec.body).toMatchObject({ model: 'gpt-4o-mini', messages });
    expect(rec.status).toBe(200);
    expect(rec.aborted).toBe(false);
  });

  it('honours max_tokens and n', async () => {
    const res = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 3, n: 2 });
    expect(res.choices.map((c) => [c.message.content, c.finish_reason])).toEqual([
      ['mock reply to:', 'length'],
      ['mock reply to:', 'length'],
    ]);
    expect(res.usage?.completion_tokens).toBe(6);
  });

  it('streams chunks with a final usage chunk when include_usage is set', async () => {
    mock.setChunkDelay(2);
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const exp = expectedChatCompletion({ model: 'gpt-4o-mini', messages });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true);
    expect(chunks[0].choices[0].delta).toMatchObject({ role: 'assistant', content: '' });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(exp.content);
    expect(chunks.length).toBe(1 + exp.words.length + 1 + 1);
    expect(chunks.at(-2)?.choices[0].finish_reason).toBe('stop');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({
      prompt_tokens: exp.promptTokens,
      completion_tokens: exp.completionTokens,
    });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('streams raw SSE ending in [DONE], without usage unless asked', async () => {
    const res = await fetch(`${mock.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages, stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const parsed = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.replace(/^data: /, '')) as Record<string, unknown>);
    expect(parsed.every((p) => !('usage' in p))).toBe(true);
  });

  it('answers embeddings as floats and as base64 (the SDK default)', async () => {
    const floats = await openai.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['hello world', 'one two three'],
      encoding_format: 'float',
    });
    expect(floats.object).toBe('list');
    expect(floats.data).toHaveLength(2);
    expect(floats.data[0].embedding).toHaveLength(1536);
    expect(floats.data[1].embedding).toEqual(mockEmbedding('one two three', 1536));
    expect(floats.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });

    const b64 = await openai.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'hello world',
      dimensions: 8,
    });
    expect(mock.requests.at(-1)?.body).toMatchObject({ encoding_format: 'base64' });
    expect(b64.data[0].embedding).toEqual(mockEmbedding('hello world', 8));
  });

  it('lists models', async () => {
    const page = await openai.models.list();
    expect(page.data.map((m) => m.id)).toContain('gpt-4o-mini');
    expect((await openai.models.retrieve('anything')).id).toBe('anything');
  });

  it('refuses a request without a bearer token, in OpenAI error shape', async () => {
    const res = await fetch(`${mock.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-4o-mini', messages }),
    });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  });

  it('accepts only the configured keys when told to', async () => {
    mock.setAcceptedKeys(['sk-good']);
    await expect(openai.chat.completions.create({ model: 'gpt-4o-mini', messages })).rejects.toMatchObject({
      status: 401,
      code: 'invalid_api_key',
    });
    const good = new OpenAI({ apiKey: 'sk-good', baseURL: `${mock.url}/v1`, maxRetries: 0 });
    await expect(good.chat.completions.create({ model: 'gpt-4o-mini', messages })).resolves.toBeDefined();
  });

  it('fails the next n requests as scripted, then recovers', async () => {
    mock.failNext(1, 429);
    await expect(openai.chat.completions.create({ model: 'gpt-4o-mini', messages })).rejects.toMatchObject({
      status: 429,
      code: 'rate_limit_exceeded',
    });
    mock.failNext(1, 503, { error: { message: 'custom', type: 'server_error', param: null, code: 'x' } });
    await expect(openai.embeddings.create({ model: 'e', input: 'a' })).rejects.toMatchObject({
      status: 503,
      code: 'x',
    });
    await expect(openai.chat.completions.create({ model: 'gpt-4o-mini', messages })).resolves.toBeDefined();
  });

  it('fails by model name', async () => {
    await expect(openai.chat.completions.create({ model: 'mock-fail-500', messages })).rejects.toMatchObject({
      status: 500,
    });
    const res = await fetch(`${mock.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer x' },
      body: JSON.stringify({ model: 'mock-fail-429', messages }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it('sleeps past a client timeout on mock-slow and records the abort', async () => {
    const started = Date.now();
    // APIConnectionTimeoutError outside jest; jest's realm makes the SDK see a plain connection error.
    await expect(
      openai.chat.completions.create({ model: 'mock-slow', messages }, { timeout: 200 }),
    ).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    expect(Date.now() - started).toBeLessThan(2_000);
    const rec = await mock.waitForRequest((r) => r.model === 'mock-slow' && r.aborted);
    expect(rec.status).toBeUndefined();
  });

  it('stops streaming when the client aborts', async () => {
    mock.setChunkDelay(5);
    const ac = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: 'mock-words-1000', messages, stream: true },
      { signal: ac.signal },
    );
    let n = 0;
    // The SDK ends the iteration quietly on abort.
    for await (const _ of stream) if (++n === 3) ac.abort();
    const rec = await mock.waitForRequest((r) => r.aborted);
    expect(rec).toMatchObject({ model: 'mock-words-1000', status: 200 });
  });

  it('cuts the connection half-way through a stream on mock-drop', async () => {
    const stream = await openai.chat.completions.create({
      model: 'mock-drop-mock-words-10',
      messages,
      stream: true,
    });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
      })(),
    ).rejects.toThrow();
    expect(seen.join('')).toBe('lorem ipsum dolor sit amet');
    expect((await mock.waitForRequest((r) => r.dropped === true)).aborted).toBe(false);
  });

  it('delays the first byte by the configured latency', async () => {
    mock.setLatency(150);
    const started = Date.now();
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
  });

  it('keeps connections alive', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const reused: boolean[] = [];
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(
          `${mock.url}/v1/models`,
          { agent, headers: { authorization: 'Bearer x' } },
          (res) => {
            reused.push(req.reusedSocket);
            res.resume().on('end', resolve);
          },
        );
        req.on('error', reject).end();
      });
    }
    agent.destroy();
    expect(reused).toEqual([false, true]);
  });
});

describe('Azure OpenAI', () => {
  it('answers chat with the deployment as model, using api-key and api-version', async () => {
    const res = await azure.chat.completions.create({ model: 'ignored', messages });
    const exp = expectedChatCompletion({ model: 'gpt-4o-mini-eu', messages });
    expect(res.model).toBe('gpt-4o-mini-eu');
    expect(res.choices[0].message.content).toBe(exp.content);
    expect(res.usage?.prompt_tokens).toBe(exp.promptTokens);
    const rec = mock.requests[0];
    expect(rec).toMatchObject({
      path: '/openai/deployments/gpt-4o-mini-eu/chat/completions',
      provider: 'azure',
      model: 'gpt-4o-mini-eu',
      query: { 'api-version': '2024-10-21' },
    });
    expect(rec.headers['api-key']).toBe('azure-key');
  });

  it('streams, starting with the prompt-filter chunk', async () => {
    const stream = await azure.chat.completions.create({
      model: 'x',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0].choices).toEqual([]);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
      expectedChatCompletion({ model: 'gpt-4o-mini-eu', messages }).content,
    );
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(8);
  });

  it('answers embeddings', async () => {
    const res = await azure.embeddings.create({ model: 'x', input: 'a b c' });
    expect(res.data[0].embedding).toEqual(mockEmbedding('a b c', 1536));
    expect(res.usage.prompt_tokens).toBe(3);
  });

  it('requires api-version (400) and api-key (401)', async () => {
    const path = `${mock.url}/openai/deployments/d/chat/completions`;
    const body = JSON.stringify({ messages });
    expect((await fetch(path, { method: 'POST', headers: { 'api-key': 'k' }, body })).status).toBe(400);
    expect((await fetch(`${path}?api-version=2024-10-21`, { method: 'POST', body })).status).toBe(401);
  });

  it('answers a scripted 429 in Azure shape', async () => {
    mock.failNext(1, 429);
    await expect(azure.chat.completions.create({ model: 'x', messages })).rejects.toMatchObject({
      status: 429,
      error: { code: '429' },
    });
  });
});

describe('Gemini', () => {
  const body = {
    systemInstruction: { parts: [{ text: 'Be brief.' }] },
    contents: [
      { role: 'user', parts: [{ text: 'hi' }] },
      { role: 'model', parts: [{ text: 'hello there' }] },
      { role: 'user', parts: [{ text: 'what is the capital of France' }] },
    ],
  };
  const post = (
    path: string,
    payload: unknown,
    headers: Record<string, string> = { 'x-goog-api-key': 'g' },
  ) =>
    fetch(`${mock.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(payload),
    });

  it('answers generateContent with usageMetadata', async () => {
    const res = await post('/v1beta/models/gemini-2.0-flash:generateContent', body);
    expect(res.status).toBe(200);
    const json = (await res.json()) as Record<string, any>;
    const exp = expectedGeminiResponse(body, 'gemini-2.0-flash');
    expect(exp.text).toBe('mock reply to: what is the capital of');
    expect(exp.promptTokenCount).toBe(3 + 2 + 3 + 7);
    expect(json.candidates[0]).toEqual({
      content: { role: 'model', parts: [{ text: exp.text }] },
      finishReason: 'STOP',
      index: 0,
    });
    expect(json.usageMetadata).toMatchObject({
      promptTokenCount: exp.promptTokenCount,
      candidatesTokenCount: exp.candidatesTokenCount,
      totalTokenCount: exp.totalTokenCount,
    });
    expect(json.modelVersion).toBe('gemini-2.0-flash');
    expect(mock.requests[0]).toMatchObject({ provider: 'gemini', model: 'gemini-2.0-flash' });
  });

  it('streams SSE chunks with cumulative usage and a final finishReason', async () => {
    const res = await post('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', {
      ...body,
      generationConfig: { maxOutputTokens: 4 },
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const chunks = (await res.text())
      .split(/\r?\n\r?\n/)
      .filter(Boolean)
      .map((e) => JSON.parse(e.replace(/^data: /, '')) as Record<string, any>);
    expect(chunks).toHaveLength(4);
    expect(chunks.map((c) => c.candidates[0].content.parts[0].text).join('')).toBe('mock reply to: what');
    expect(chunks.slice(0, -1).every((c) => c.candidates[0].finishReason === undefined)).toBe(true);
    expect(chunks.at(-1)?.candidates[0].finishReason).toBe('MAX_TOKENS');
    expect(chunks.map((c) => c.usageMetadata.candidatesTokenCount)).toEqual([1, 2, 3, 4]);
    expect(chunks.at(-1)?.usageMetadata.totalTokenCount).toBe(geminiPromptTokens(body) + 4);
  });

  it('streams a JSON array without alt=sse', async () => {
    const res = await post('/v1beta/models/gemini-2.0-flash:streamGenerateContent', body);
    const arr = (await res.json()) as Array<Record<string, any>>;
    expect(arr.map((c) => c.candidates[0].content.parts[0].text).join('')).toBe(
      expectedGeminiResponse(body, 'gemini-2.0-flash').text,
    );
  });

  it('answers embedContent, batchEmbedContents and countTokens; accepts ?key=', async () => {
    const one = await post(
      '/v1beta/models/text-embedding-004:embedContent?key=abc',
      { content: { parts: [{ text: 'x y' }] } },
      {},
    );
    expect(((await one.json()) as any).embedding.values).toEqual(mockEmbedding('x y', 768));
    const batch = await post('/v1beta/models/text-embedding-004:batchEmbedContents', {
      requests: [
        { content: { parts: [{ text: 'a' }] }, outputDimensionality: 4 },
        { content: { parts: [{ text: 'b' }] } },
      ],
    });
    const embeddings = ((await batch.json()) as any).embeddings as Array<{ values: number[] }>;
    expect(embeddings.map((e) => e.values.length)).toEqual([4, 768]);
    const count = await post('/v1beta/models/gemini-2.0-flash:countTokens', { contents: body.contents });
    expect(((await count.json()) as any).totalTokens).toBe(geminiPromptTokens({ contents: body.contents }));
  });

  it('refuses a request without a key (403 PERMISSION_DENIED) and scripts failures in Google shape', async () => {
    const denied = await post('/v1beta/models/gemini-2.0-flash:generateContent', body, {});
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as any).error.status).toBe('PERMISSION_DENIED');
    const failed = await post('/v1beta/models/mock-fail-503:generateContent', body);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ error: { code: 503, status: 'UNAVAILABLE' } });
    const models = await fetch(`${mock.url}/v1beta/models`, { headers: { 'x-goog-api-key': 'g' } });
    expect(((await models.json()) as any).models[0].name).toMatch(/^models\//);
  });
});

describe('control endpoints', () => {
  it('reports health and accepts scripted failures over HTTP', async () => {
    expect((await fetch(`${mock.url}/health`)).status).toBe(200);
    await fetch(`${mock.url}/__mock/fail-next`, {
      method: 'POST',
      body: JSON.stringify({ n: 1, status: 500 }),
    });
    await expect(openai.chat.completions.create({ model: 'gpt-4o-mini', messages })).rejects.toMatchObject({
      status: 500,
    });
    const recorded = (await (await fetch(`${mock.url}/__mock/requests`)).json()) as { data: unknown[] };
    expect(recorded.data).toHaveLength(1);
  });
});
