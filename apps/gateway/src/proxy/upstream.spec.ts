// The upstream client against the in-process mock provider, which speaks the real OpenAI, Azure and Gemini
// wire formats and records every request it receives.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import type { ProviderConfig, ProviderKind, RouteTarget } from '@keygate/platform/config/routes-config';
import {
  embeddingInputTokens,
  expectedChatCompletion,
  expectedGeminiResponse,
  startMockProvider,
  type MockProvider,
} from '@keygate/testing/mock-provider/mock-provider';
import { DONE_FRAME } from './sse';
import { UpstreamClient, UpstreamError, type UpstreamCall, type UpstreamResult } from './upstream';

const CREDENTIAL = 'upstream-secret-0123456789';
let mock: MockProvider;
let client: UpstreamClient;

beforeAll(async () => {
  mock = await startMockProvider({ port: 0 });
  client = new UpstreamClient({ connections: 8 });
});
afterAll(async () => {
  await client.close();
  await mock.close();
});
beforeEach(() => mock.reset());

const provider = (type: ProviderKind, baseUrl?: string): ProviderConfig => ({
  name: `${type}-test`,
  type,
  baseUrl: baseUrl ?? (type === 'openai' ? `${mock.url}/v1` : mock.url),
  apiVersion: type === 'azure' ? '2024-10-21' : undefined,
  credential: 'env:UNUSED',
});
const target = (type: ProviderKind, model: string): RouteTarget =>
  type === 'azure' ? { provider: 'azure-test', deployment: model } : { provider: `${type}-test`, model };

const call = (type: ProviderKind, model: string, over: Partial<UpstreamCall> = {}): Promise<UpstreamResult> =>
  client.call({
    endpoint: 'chat',
    body: {
      model: 'client-side-name',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello there big world' },
      ],
    },
    target: target(type, model),
    provider: provider(type),
    credential: CREDENTIAL,
    timeoutMs: 5_000,
    signal: new AbortController().signal,
    ...over,
  });

type Chunk = {
  choices: Array<{ delta: { content?: string; role?: string }; finish_reason: string | null }>;
  usage?: unknown;
};
const drain = async (chunks: AsyncIterable<string>): Promise<string[]> => {
  const out: string[] = [];
  for await (const f of chunks) out.push(f);
  return out;
};
const parsed = (frames: string[]): Chunk[] =>
  frames.slice(0, -1).map((f) => JSON.parse(f.slice('data: '.length)) as Chunk);
const content = (chunks: Chunk[]): string => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

/** A stream may fail before its first frame (an error result, so the caller can fall back) or after (thrown). */
const streamFailure = async (r: UpstreamResult): Promise<unknown> =>
  r.kind === 'error'
    ? r
    : r.kind === 'stream'
      ? drain(r.chunks).then(
          () => 'completed',
          (e: unknown) => e,
        )
      : r;

function expectKind<K extends UpstreamResult['kind']>(
  r: UpstreamResult,
  kind: K,
): Extract<UpstreamResult, { kind: K }> {
  if (r.kind !== kind) throw new Error(`expected ${kind}, got ${JSON.stringify(r)}`);
  return r as Extract<UpstreamResult, { kind: K }>;
}

const MODEL: Record<ProviderKind, string> = {
  openai: 'gpt-4o-mini',
  azure: 'gpt-4o-mini',
  gemini: 'gemini-2.0-flash',
};

/** What the mock will have charged, computed from the body it actually received. */
const expectedUsage = (type: ProviderKind) => {
  const rec = mock.requests[mock.requests.length - 1];
  if (type === 'gemini') {
    const e = expectedGeminiResponse(rec.body as object, MODEL.gemini);
    return {
      content: e.text,
      usage: { promptTokens: e.promptTokenCount, completionTokens: e.candidatesTokenCount },
    };
  }
  const e = expectedChatCompletion({ ...(rec.body as object), model: MODEL[type] });
  return {
    content: e.content,
    usage: { promptTokens: e.promptTokens, completionTokens: e.completionTokens },
  };
};

describe.each(['openai', 'azure', 'gemini'] as const)('%s chat', (type) => {
  it('answers a non-streamed chat in OpenAI format with the usage the provider reported', async () => {
    const r = expectKind(await call(type, MODEL[type]), 'json');
    const exp = expectedUsage(type);
    expect(r.status).toBe(200);
    expect(r.usage).toEqual(exp.usage);
    expect(r.upstreamModel).toBe(MODEL[type]);
    expect(JSON.parse(r.body.toString('utf8'))).toMatchObject({
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: exp.content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: exp.usage.promptTokens, completion_tokens: exp.usage.completionTokens },
    });
    expect((JSON.parse(r.body.toString('utf8')) as { id: string }).id).toMatch(/^chatcmpl-/);
  });

  it('streams OpenAI chunks frame by frame, usage included, the usage chunk only when asked', async () => {
    for (const includeUsage of [false, true]) {
      mock.reset();
      const body = {
        messages: [{ role: 'user', content: 'one two three four five six' }],
        stream: true,
        ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
      };
      const r = expectKind(await call(type, MODEL[type], { body }), 'stream');
      const frames = await drain(r.chunks);
      const exp = expectedUsage(type);
      expect(frames[frames.length - 1]).toBe('data: [DONE]\n\n');
      expect(frames.every((f) => /^data: .*\n\n$/s.test(f))).toBe(true);
      const chunks = parsed(frames);
      expect(chunks[0].choices[0].delta.role).toBe('assistant');
      expect(content(chunks)).toBe(exp.content);
      expect(
        chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason),
      ).toEqual(['stop']);
      const usageChunks = chunks.filter((c) => c.choices.length === 0);
      expect(usageChunks).toHaveLength(includeUsage ? 1 : 0); // Azure's prompt-filter chunk is dropped too
      if (includeUsage)
        expect(usageChunks[0].usage).toMatchObject({
          prompt_tokens: exp.usage.promptTokens,
          completion_tokens: exp.usage.completionTokens,
        });
      expect(r.usage()).toEqual(exp.usage);
    }
  });
});

describe('what reaches each provider', () => {
  it('openai: the target model, Bearer credential, include_usage forced, nothing else', async () => {
    await drain(
      expectKind(
        await call('openai', 'gpt-4o-mini', {
          body: { model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true },
        }),
        'stream',
      ).chunks,
    );
    const rec = mock.requests[0];
    expect(rec.path).toBe('/v1/chat/completions');
    expect(rec.headers.authorization).toBe(`Bearer ${CREDENTIAL}`);
    expect(rec.headers['api-key']).toBeUndefined();
    expect(rec.body).toMatchObject({ model: 'gpt-4o-mini', stream_options: { include_usage: true } });
  });

  it('azure: deployment and api-version in the URL, api-key header, no model in the body', async () => {
    await call('azure', 'my-deploy');
    const rec = mock.requests[0];
    expect(rec.path).toBe('/openai/deployments/my-deploy/chat/completions');
    expect(rec.query).toEqual({ 'api-version': '2024-10-21' });
    expect(rec.headers['api-key']).toBe(CREDENTIAL);
    expect(rec.headers.authorization).toBeUndefined();
    expect(rec.body).not.toHaveProperty('model');
  });

  it('gemini: generateContent / streamGenerateContent?alt=sse, x-goog-api-key, translated body', async () => {
    await call('gemini', 'gemini-2.0-flash', {
      body: {
        messages: [
          { role: 'system', content: 's' },
          { role: 'user', content: 'u' },
        ],
        max_tokens: 3,
      },
    });
    await drain(
      expectKind(
        await call('gemini', 'gemini-2.0-flash', {
          body: { messages: [{ role: 'user', content: 'u' }], stream: true },
        }),
        'stream',
      ).chunks,
    );
    const [plain, streamed] = mock.requests;
    expect(plain.path).toBe('/v1beta/models/gemini-2.0-flash:generateContent');
    expect(plain.headers['x-goog-api-key']).toBe(CREDENTIAL);
    expect(plain.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'u' }] }],
      systemInstruction: { parts: [{ text: 's' }] },
      generationConfig: { maxOutputTokens: 3 },
    });
    expect(streamed.path).toBe('/v1beta/models/gemini-2.0-flash:streamGenerateContent');
    expect(streamed.query).toEqual({ alt: 'sse' });
  });

  it.each(['../../../admin', 'http://evil.example/v1', '@evil.example', 'x?key=1#frag', '%2e%2e%2fadmin'])(
    'a hostile client model %p changes neither host nor path',
    async (hostile) => {
      for (const type of ['openai', 'azure', 'gemini'] as const) {
        mock.reset();
        await call(type, MODEL[type], {
          body: { model: hostile, messages: [{ role: 'user', content: 'hi' }] },
        });
        expect(mock.requests).toHaveLength(1);
        const rec = mock.requests[0];
        expect(rec.headers.host).toBe(new URL(mock.url).host);
        expect(rec.path).toBe(
          {
            openai: '/v1/chat/completions',
            azure: '/openai/deployments/gpt-4o-mini/chat/completions',
            gemini: '/v1beta/models/gemini-2.0-flash:generateContent',
          }[type],
        );
        expect(rec.model).toBe(MODEL[type]);
      }
    },
  );

  it('a configured model is one encoded path segment', async () => {
    await call('gemini', 'a/../../v1/chat');
    expect(mock.requests[0].path).toBe('/v1beta/models/a%2F..%2F..%2Fv1%2Fchat:generateContent');
  });
});

describe.each(['openai', 'azure', 'gemini'] as const)('%s embeddings', (type) => {
  it('answers an OpenAI embedding list with usage', async () => {
    const model = type === 'gemini' ? 'text-embedding-004' : 'text-embedding-3-small';
    for (const input of ['hello big world', ['hello big world', 'second one']]) {
      mock.reset();
      const r = expectKind(
        await call(type, model, { endpoint: 'embeddings', body: { model: 'x', input, dimensions: 4 } }),
        'json',
      );
      const body = JSON.parse(r.body.toString('utf8')) as {
        object: string;
        data: Array<{ index: number; embedding: number[] }>;
      };
      expect(body.object).toBe('list');
      expect(body.data.map((d) => d.index)).toEqual(Array.isArray(input) ? [0, 1] : [0]);
      expect(body.data[0].embedding).toHaveLength(4);
      expect(r.usage).toEqual({ promptTokens: embeddingInputTokens(input), completionTokens: 0 });
      if (type === 'gemini')
        expect(mock.requests[0].path).toMatch(
          Array.isArray(input) ? /:batchEmbedContents$/ : /:embedContent$/,
        );
    }
  });
});

describe.each(['openai', 'azure', 'gemini'] as const)('%s failures', (type) => {
  it('5xx → 502 upstream_error, retryable', async () => {
    expect(await call(type, 'mock-fail-500')).toMatchObject({
      kind: 'error',
      status: 502,
      code: 'upstream_error',
      retryable: true,
    });
  });

  it('429 → 429, retryable', async () => {
    expect(await call(type, 'mock-fail-429')).toMatchObject({ kind: 'error', status: 429, retryable: true });
  });

  it('no headers within timeoutMs → 504 upstream_timeout, and the upstream request is aborted', async () => {
    const started = Date.now();
    expect(await call(type, 'mock-slow-5000', { timeoutMs: 200 })).toMatchObject({
      kind: 'error',
      status: 504,
      code: 'upstream_timeout',
      retryable: true,
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    await mock.waitForRequest((r) => r.aborted);
  });

  it('a dropped connection → 502 upstream_unavailable; mid-stream the iterator throws', async () => {
    expect(await call(type, 'mock-drop')).toMatchObject({
      kind: 'error',
      status: 502,
      code: 'upstream_unavailable',
      retryable: true,
    });
    const body = { messages: [{ role: 'user', content: 'one two three four five six' }], stream: true };
    expect(await streamFailure(await call(type, 'mock-drop', { body }))).toMatchObject({
      status: 502,
      code: 'upstream_unavailable',
      retryable: true,
    });
  });

  it('a stream stalling longer than timeoutMs between chunks → the iterator throws upstream_timeout', async () => {
    mock.setChunkDelay(1_000);
    const body = { messages: [{ role: 'user', content: 'one two three' }], stream: true };
    // Azure's first (dropped) prompt-filter chunk means no frame is in before the stall: an error result.
    const r = await call(type, MODEL[type], { body, timeoutMs: 200 });
    expect(r.kind).toBe(type === 'azure' ? 'error' : 'stream');
    const err = await streamFailure(r);
    if (r.kind === 'stream') expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ status: 504, code: 'upstream_timeout', retryable: true });
    await mock.waitForRequest((rec) => rec.aborted);
  });

  it('a refused credential → 502 upstream_auth_failed, retryable, credential never echoed', async () => {
    mock.setAcceptedKeys(['another-key']);
    const r = await call(type, MODEL[type]);
    expect(r).toMatchObject({ kind: 'error', status: 502, code: 'upstream_auth_failed', retryable: true });
    expect(JSON.stringify(r)).not.toContain(CREDENTIAL);
  });
});

describe('client errors and odd answers', () => {
  it('an upstream 400 is passed back, not retryable, its message sanitised', async () => {
    const r = await call('openai', 'gpt-4o-mini', { body: { messages: [] } });
    expect(r).toMatchObject({
      kind: 'error',
      status: 400,
      code: 'empty_array',
      retryable: false,
      message: "[] is too short - 'messages'",
    });
    mock.failNext(1, 400, {
      error: { message: `key ${CREDENTIAL} is wrong`, type: 'invalid_request_error', code: null },
    });
    const echoed = await call('openai', 'gpt-4o-mini');
    expect(echoed).toMatchObject({
      kind: 'error',
      status: 400,
      retryable: false,
      code: 'invalid_request_error',
      message: 'key [redacted] is wrong',
    });
  });

  it('a redirect is not followed', async () => {
    mock.failNext(1, 302, 'moved');
    expect(await call('openai', 'gpt-4o-mini')).toMatchObject({
      kind: 'error',
      status: 502,
      retryable: true,
    });
    expect(mock.requests).toHaveLength(1);
  });

  it('connection refused → 502 upstream_unavailable, retryable', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const r = await call('openai', 'gpt-4o-mini', {
      provider: provider('openai', `http://127.0.0.1:${port}/v1`),
    });
    expect(r).toMatchObject({ kind: 'error', status: 502, code: 'upstream_unavailable', retryable: true });
    expect(r.kind === 'error' && r.message).not.toContain(String(port));
  });
});

describe('client disconnects', () => {
  it('before the upstream answered: the upstream request is aborted at once', async () => {
    const ac = new AbortController();
    const pending = call('openai', 'mock-slow-5000', { signal: ac.signal });
    await mock.waitForRequest();
    ac.abort();
    expect(await pending).toMatchObject({
      kind: 'error',
      status: 499,
      code: 'client_closed_request',
      retryable: false,
    });
    expect((await mock.waitForRequest((r) => r.aborted, 1_000)).aborted).toBe(true);
  });

  it.each(['openai', 'gemini'] as const)('%s mid-stream: the upstream body is destroyed', async (type) => {
    mock.setChunkDelay(20);
    const ac = new AbortController();
    const r = expectKind(
      await call(type, 'mock-words-500', {
        signal: ac.signal,
        body: { messages: [{ role: 'user', content: 'x' }], stream: true },
      }),
      'stream',
    );
    const it = r.chunks[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    ac.abort();
    await expect(it.next()).rejects.toMatchObject({ code: 'client_closed_request' });
    expect((await mock.waitForRequest((rec) => rec.aborted, 1_000)).aborted).toBe(true);
  });

  // A JSON answer sent in pieces (a provider of our own here: the mock sends a JSON answer at once).
  const trickled = async (gapMs: number, pieces: string[]) => {
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const next = (i: number): void => {
        if (i === pieces.length) return void res.end();
        res.write(pieces[i]);
        setTimeout(() => next(i + 1), gapMs);
      };
      next(0);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      return await call('openai', 'gpt-test', {
        provider: provider('openai', `http://127.0.0.1:${port}/v1`),
        timeoutMs: 150,
      });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  };
  const answer = JSON.stringify({
    id: 'x',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
  });

  it('a JSON answer whose chunks each come within timeoutMs is read whole, however long it takes', async () => {
    const pieces = answer.match(/.{1,20}/g)!; // ≥ 8 pieces 100 ms apart: longer than timeoutMs in all
    const r = expectKind(await trickled(100, pieces), 'json');
    expect(r.body.toString()).toBe(answer);
    expect(r.usage).toMatchObject({ promptTokens: 3, completionTokens: 1 });
  });

  it('a JSON answer stalling longer than timeoutMs between chunks → 504 upstream_timeout', async () => {
    const half = answer.length / 2;
    expect(await trickled(600, [answer.slice(0, half), answer.slice(half)])).toMatchObject({
      kind: 'error',
      status: 504,
      code: 'upstream_timeout',
    });
  });

  it('only waits on the upstream count against timeoutMs, not a consumer holding a frame', async () => {
    mock.setChunkDelay(20);
    const r = expectKind(
      await call('openai', 'mock-words-5', {
        body: { messages: [{ role: 'user', content: 'x' }], stream: true },
        timeoutMs: 150,
      }),
      'stream',
    );
    const frames: string[] = [];
    for await (const frame of r.chunks) {
      frames.push(frame);
      // Longer than timeoutMs, twice: the timer runs out while no wait is under way, and is re-armed for the next.
      if (frames.length <= 2) await new Promise((resolve) => setTimeout(resolve, 400));
    }
    expect(frames.at(-1)).toBe(DONE_FRAME);
    expect(frames.length).toBeGreaterThan(5);
  });

  it('a consumer that stops reading releases the upstream', async () => {
    mock.setChunkDelay(20);
    const r = expectKind(
      await call('azure', 'mock-words-500', {
        body: { messages: [{ role: 'user', content: 'x' }], stream: true },
      }),
      'stream',
    );
    for await (const frame of r.chunks) if (frame) break;
    expect((await mock.waitForRequest((rec) => rec.aborted, 1_000)).aborted).toBe(true);
  });

  it('a stream its consumer does not read holds the upstream back: no more than socket buffers are sent', async () => {
    // An upstream that sends 256 MB of SSE as fast as the connection takes it (waiting for drain).
    const frame = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'x'.repeat(4000) } }] })}\n\n`;
    let sent = 0;
    let stop = false;
    const server = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.on('close', () => (stop = true));
      const pump = (): void => {
        while (!stop && sent < 256 * 1024 * 1024) {
          sent += frame.length;
          if (!res.write(frame)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const r = expectKind(
        await call('openai', 'gpt-4o-mini', {
          body: { messages: [{ role: 'user', content: 'x' }], stream: true },
          provider: provider('openai', `http://127.0.0.1:${port}/v1`),
        }),
        'stream',
      );
      const it = r.chunks[Symbol.asyncIterator]();
      expect((await it.next()).done).toBe(false);
      // The consumer holds: what the upstream managed to send is what the sockets and one buffer hold.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const held = sent;
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(sent).toBe(held);
      expect(held).toBeLessThan(32 * 1024 * 1024); // 5.5 MB here; all 256 MB without the pause
      await it.return?.();
    } finally {
      stop = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
