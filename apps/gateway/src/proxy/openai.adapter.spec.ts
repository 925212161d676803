import { openAiUpstreamBody, OpenAiStreamTranslator } from './openai.adapter';
import { fromUpstreamStatus, sanitizeMessage, UpstreamError } from './upstream-error';

const frame = (o: unknown): string => JSON.stringify(o);
const chunk = (content: string) => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  choices: [{ index: 0, delta: { content } }],
});
const usageChunk = {
  id: 'c1',
  object: 'chat.completion.chunk',
  choices: [],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
};

describe('openAiUpstreamBody', () => {
  it("overwrites the client's model and forces include_usage on streams, merged with the client's options", () => {
    const body = { model: '../../evil', messages: [], stream: true, stream_options: { foo: 1 } };
    expect(openAiUpstreamBody(body, 'chat', 'gpt-4o-mini')).toEqual({
      model: 'gpt-4o-mini',
      messages: [],
      stream: true,
      stream_options: { foo: 1, include_usage: true },
    });
    expect(body.stream_options).toEqual({ foo: 1 }); // the client's object is not mutated
    expect(openAiUpstreamBody({ model: 'x', messages: [] }, 'chat', 'm')).toEqual({
      model: 'm',
      messages: [],
    });
    expect(openAiUpstreamBody({ model: 'x', input: 'a' }, 'embeddings', undefined)).toEqual({ input: 'a' });
  });
});

describe('OpenAiStreamTranslator', () => {
  it('passes frames through untouched and records usage, dropping the usage chunk the client did not ask for', () => {
    const t = new OpenAiStreamTranslator(false, 'openai', 'secret');
    const raw = '{"id":"c1","choices":[{"index":0,"delta":{"content":"say \\"usage\\":{ hi"}}]}';
    expect(t.onData(raw)).toEqual([`data: ${raw}\n\n`]);
    expect(t.onData(frame(usageChunk))).toEqual([]);
    expect(t.onData('[DONE]')).toEqual([]);
    expect(t.end()).toEqual(['data: [DONE]\n\n']);
    expect(t.usage()).toEqual({ promptTokens: 5, completionTokens: 2 });
  });

  it('forwards the usage chunk when the client asked for it', () => {
    const t = new OpenAiStreamTranslator(true, 'openai', 'secret');
    expect(t.onData(frame(chunk('a')))).toHaveLength(1);
    expect(t.onData(frame(usageChunk))).toEqual([`data: ${frame(usageChunk)}\n\n`]);
  });

  it("drops Azure's prompt-filter chunk", () => {
    const t = new OpenAiStreamTranslator(true, 'azure', 'secret');
    expect(
      t.onData(frame({ choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: [] })),
    ).toEqual([]);
  });

  it('throws on a stream cut before [DONE] and on an error event', () => {
    const t = new OpenAiStreamTranslator(false, 'openai', 'secret');
    t.onData(frame(chunk('a')));
    expect(() => t.end()).toThrow(UpstreamError);
    const e = new OpenAiStreamTranslator(false, 'openai', 'secret');
    expect(() => e.onData(frame({ error: { message: 'boom', type: 'server_error' } }))).toThrow(
      expect.objectContaining({ status: 502, retryable: true }),
    );
  });
});

describe('upstream errors', () => {
  it('never echoes a credential, key or organisation id', () => {
    const msg = sanitizeMessage(
      'bad key my-credential-123 (sk-proj-abcdef123) for org-ABCDEF12345 Bearer xyz kg_live_0123abc',
      'my-credential-123',
    );
    expect(msg).toBe('bad key [redacted] ([redacted]) for [redacted] [redacted] [redacted]');
  });

  it('classifies statuses', () => {
    const body = { error: { message: 'Incorrect API key provided: sk-abc***xyz', code: 'invalid_api_key' } };
    expect(fromUpstreamStatus('openai', 401, body, 'sk-abcdefxyz')).toMatchObject({
      status: 502,
      code: 'upstream_auth_failed',
      retryable: true,
    });
    expect(
      fromUpstreamStatus('gemini', 400, { error: { code: 400, message: 'API key not valid.' } }, 'k'),
    ).toMatchObject({
      code: 'upstream_auth_failed',
    });
    expect(fromUpstreamStatus('openai', 429, {}, 'k')).toMatchObject({ status: 429, retryable: true });
    expect(fromUpstreamStatus('openai', 503, {}, 'k')).toMatchObject({
      status: 502,
      code: 'upstream_error',
      retryable: true,
    });
    expect(fromUpstreamStatus('openai', 302, undefined, 'k')).toMatchObject({ status: 502, retryable: true });
    expect(
      fromUpstreamStatus('azure', 400, { error: { code: 'content_filter', message: 'filtered' } }, 'k'),
    ).toMatchObject({
      status: 400,
      code: 'content_filter',
      message: 'filtered',
      retryable: false,
    });
    expect(
      fromUpstreamStatus(
        'gemini',
        400,
        { error: { code: 400, message: 'bad', status: 'INVALID_ARGUMENT' } },
        'k',
      ),
    ).toMatchObject({
      code: 'invalid_argument',
    });
    expect(
      fromUpstreamStatus('azure', 400, { error: { code: 'OperationNotSupported', message: 'x' } }, 'k').code,
    ).toBe('operation_not_supported');
    expect(fromUpstreamStatus('azure', 400, { error: { code: '400', message: 'x' } }, 'k').code).toBe(
      'invalid_request_error',
    );
  });
});
